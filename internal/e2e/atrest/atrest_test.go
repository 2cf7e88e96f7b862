// Package atrest checks encryption at rest end to end: a swapd started with
// SWAPD_REQUIRE_ENCRYPTION=1 on a MinIO with a KMS key runs a job whose inputs (one
// sent inline, one through a presigned upload) and output the store reports as
// SSE-S3 encrypted, whose output downloads through its presigned URL, and none of whose
// bytes lie in clear in MinIO's data directory.
package atrest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	swapdstack "github.com/swapd/swapd/internal/stack"
)

func TestJobObjectsEncryptedAtRest(t *testing.T) {
	const bucket = "swapd-atrest"
	s, err := swapdstack.Start(map[string]string{"SWAPD_REQUIRE_ENCRYPTION": "1", "SWAPD_S3_BUCKET": bucket}, io.Discard)
	if err != nil {
		t.Fatal(err) // with REQUIRE_ENCRYPTION, a store that cannot encrypt stops the start
	}
	defer s.Stop()
	source := readFile(t, "faces/grace_hopper.jpg")
	target := readFile(t, "faces/newton_portrait.png")

	// The target goes through a presigned upload, the source inline.
	var up struct{ Key, URL, Method string }
	if code := call(t, s, http.MethodPost, "/v1/uploads", map[string]any{}, &up); code != http.StatusCreated {
		t.Fatalf("POST /v1/uploads: %d", code)
	}
	req, _ := http.NewRequest(up.Method, up.URL, bytes.NewReader(target))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT: %v %v", err, resp)
	}
	resp.Body.Close()
	var created struct{ ID string }
	body := map[string]any{"source": []any{map[string]string{"base64": base64.StdEncoding.EncodeToString(source)}}, "target": map[string]string{"key": up.Key}}
	if code := call(t, s, http.MethodPost, "/v1/jobs", body, &created); code != http.StatusAccepted {
		t.Fatalf("submit: %d", code)
	}
	var job struct {
		Status string
		Error  *struct{ Code, Message string }
		Output *struct{ Key string }
	}
	deadline := time.Now().Add(90 * time.Second)
	for job.Status != "succeeded" {
		if time.Now().After(deadline) || job.Status == "failed" || job.Status == "canceled" {
			t.Fatalf("job %s: %s %+v", created.ID, job.Status, job.Error)
		}
		time.Sleep(100 * time.Millisecond)
		call(t, s, http.MethodGet, "/v1/jobs/"+created.ID, nil, &job)
	}

	// The output downloads through its presigned URL (the API's 302) and is an image.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ = http.NewRequest(http.MethodGet, s.URL+"/v1/jobs/"+created.ID+"/output", nil)
	req.Header.Set("Authorization", "Bearer "+s.Key)
	resp, err = noRedirect.Do(req)
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("GET output: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = http.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	output, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned GET of the output: %d", resp.StatusCode)
	}
	if _, _, err := image.Decode(bytes.NewReader(output)); err != nil {
		t.Fatalf("the output does not decode: %v", err)
	}

	// Every object the job left is encrypted by the store: inputs and output.
	info := s.MinIO.Info
	mc, err := minio.New(info.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(info.AccessKey, info.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var keys []string
	for o := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	found := map[string]bool{}
	for _, k := range keys {
		st, err := mc.StatObject(ctx, bucket, k, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sse := st.Metadata.Get("X-Amz-Server-Side-Encryption"); sse != "AES256" {
			t.Errorf("%s: x-amz-server-side-encryption %q, want AES256", k, sse)
		}
		for name, want := range map[string][]byte{"source": source, "target": target, "output": output} {
			if st.Size == int64(len(want)) {
				found[name] = true
			}
		}
	}
	if !found["source"] || !found["target"] || !found["output"] || !contains(keys, job.Output.Key) || !contains(keys, up.Key) {
		t.Fatalf("objects %v: want the source, the uploaded target %s and the output %s (found %v)", keys, up.Key, job.Output.Key, found)
	}

	// On disk, MinIO holds none of their bytes in clear...
	dir := s.MinIO.DataDir()
	for name, b := range map[string][]byte{"source": source, "target": target, "output": output} {
		if files := inClear(t, dir, b); len(files) > 0 {
			t.Errorf("the %s's bytes lie in clear in %v", name, files)
		}
	}
	// ...while an object in a bucket without default encryption is found: the scan
	// sees clear text when there is some.
	if err := mc.MakeBucket(ctx, "control", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.PutObject(ctx, "control", "x", bytes.NewReader(source), int64(len(source)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if files := inClear(t, dir, source); len(files) == 0 {
		t.Error("an unencrypted copy of the source is not found on disk: the scan proves nothing")
	}
}

func call(t *testing.T, s *swapdstack.Stack, method, path string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+s.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// inClear lists the files under dir holding any 64-byte window of secret (one every
// 1 KiB past the first 1 KiB, so a file header that two images could share is not taken
// for the file).
func inClear(t *testing.T, dir string, secret []byte) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for off := 1024; off+64 <= len(secret); off += 1024 {
			if bytes.Contains(b, secret[off:off+64]) {
				out = append(out, strings.TrimPrefix(p, dir))
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func contains(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(swapdstack.Testdata(), rel))
	if err != nil {
		t.Fatal(fmt.Errorf("test fixture: %w", err))
	}
	return b
}
