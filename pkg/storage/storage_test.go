package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/swapd/swapd/internal/testenv"
)

// One MinIO for the whole package: starting it per test would dominate the
// run time. Each test uses its own bucket.
var minioInfo testenv.MinIOInfo

func TestMain(m *testing.M) {
	info, stop, err := testenv.StartMinIO()
	if err != nil {
		fmt.Fprintln(os.Stderr, "storage tests need a real MinIO:", err)
		os.Exit(1)
	}
	minioInfo = info
	code := m.Run()
	stop()
	os.Exit(code)
}

var bucketSeq atomic.Int64

func newStore(t *testing.T, mutate ...func(*Config)) *Store {
	t.Helper()
	cfg := Config{
		Endpoint:  minioInfo.Endpoint,
		AccessKey: minioInfo.AccessKey,
		SecretKey: minioInfo.SecretKey,
		Bucket:    fmt.Sprintf("swapd-test-%d", bucketSeq.Add(1)),
	}
	for _, f := range mutate {
		f(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNewCreatesBucketIdempotently(t *testing.T) {
	s := newStore(t)
	if err := s.Ping(ctxT(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// A second store on the existing bucket is fine.
	again := newStore(t, func(c *Config) { c.Bucket = s.Bucket(); c.Endpoint = "http://" + c.Endpoint })
	if err := again.Ping(ctxT(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	ctx := ctxT(t)
	base := Config{Endpoint: minioInfo.Endpoint, AccessKey: minioInfo.AccessKey, SecretKey: minioInfo.SecretKey, Bucket: "swapd-errors"}
	for name, mutate := range map[string]func(*Config){
		"no bucket":    func(c *Config) { c.Bucket = "" },
		"no endpoint":  func(c *Config) { c.Endpoint = "" },
		"path":         func(c *Config) { c.Endpoint = "http://" + c.Endpoint + "/x" },
		"bad secret":   func(c *Config) { c.SecretKey = "wrong-secret-key" },
		"bad public":   func(c *Config) { c.PublicEndpoint = "ftp://x" },
		"invalid name": func(c *Config) { c.Bucket = "Not_A_Bucket" },
	} {
		cfg := base
		mutate(&cfg)
		if _, err := New(ctx, cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestPutGetStatDelete(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	data := []byte("hello, swapd")

	obj, err := s.Put(ctx, "jobs/j1/input/source.jpg", bytes.NewReader(data), int64(len(data)), "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	if obj.Key != "jobs/j1/input/source.jpg" || obj.Size != int64(len(data)) || obj.ETag == "" || obj.ContentType != "image/jpeg" {
		t.Fatalf("Put returned %+v", obj)
	}

	rc, got, err := s.Get(ctx, obj.Key)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(body, data) {
		t.Fatalf("Get body %q err %v", body, err)
	}
	if got.Size != obj.Size || got.ContentType != "image/jpeg" || got.ETag != obj.ETag || got.Key != obj.Key {
		t.Fatalf("Get object %+v, put %+v", got, obj)
	}

	st, err := s.Stat(ctx, obj.Key)
	if err != nil || st != got {
		t.Fatalf("Stat %+v %v", st, err)
	}

	// Overwrite (job re-run) replaces the object.
	if _, err := s.Put(ctx, obj.Key, strings.NewReader("v2"), 2, ""); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Stat(ctx, obj.Key); err != nil || st.Size != 2 || st.ContentType != "application/octet-stream" {
		t.Fatalf("after overwrite %+v %v", st, err)
	}

	if err := s.Delete(ctx, obj.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, obj.Key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat after delete: %v", err)
	}
	// Deleting again is not an error.
	if err := s.Delete(ctx, obj.Key); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.Delete(ctx); err != nil {
		t.Fatalf("delete nothing: %v", err)
	}
}

func TestNotFound(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	if _, _, err := s.Get(ctx, "missing/key"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "missing/key") {
		t.Errorf("Get missing: %v", err)
	}
	if _, err := s.Stat(ctx, "missing/key"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat missing: %v", err)
	}
	// A missing bucket is a configuration error, not ErrNotFound.
	gone := &Store{client: s.client, presign: s.presign, bucket: "swapd-no-such-bucket", region: s.region}
	if _, err := gone.Stat(ctx, "k"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Stat in missing bucket: %v", err)
	}
	if err := gone.Ping(ctx); err == nil {
		t.Error("Ping of missing bucket succeeded")
	}
}

// readerOnly hides everything but Read so minio-go cannot seek or ReadAt.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

func TestPutUnknownSizeMultipart(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	// More than two parts, with an odd tail, streamed with size -1.
	data := make([]byte, 2*PartSize+12345)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Put(ctx, "big/video.mp4", readerOnly{bytes.NewReader(data)}, -1, "video/mp4")
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != int64(len(data)) {
		t.Fatalf("size %d, want %d", obj.Size, len(data))
	}
	rc, st, err := s.Get(ctx, obj.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) || st.Size != int64(len(data)) {
		t.Fatalf("round trip: %d bytes, err %v", len(got), err)
	}
	// Empty streams work too.
	if obj, err := s.Put(ctx, "empty", readerOnly{strings.NewReader("")}, -1, "text/plain"); err != nil || obj.Size != 0 {
		t.Fatalf("empty stream: %+v %v", obj, err)
	}
	// A known size larger than the stream is an error, not a truncated object.
	if _, err := s.Put(ctx, "short", readerOnly{strings.NewReader("abc")}, 10, ""); err == nil {
		t.Fatal("short stream accepted")
	}
}

func TestDeletePrefix(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	keys := []string{"jobs/1/in/a", "jobs/1/in/b", "jobs/1/out/c", "jobs/10/in/a", "jobs/2/in/a"}
	for i := 0; i < 1100; i++ { // more than one DeleteObjects batch (1000)
		keys = append(keys, fmt.Sprintf("jobs/1/frames/%04d", i))
	}
	for _, k := range keys[:5] {
		if _, err := s.Put(ctx, k, strings.NewReader(k), int64(len(k)), "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	var g errgroup.Group
	g.SetLimit(16)
	for _, k := range keys[5:] {
		g.Go(func() error {
			_, err := s.Put(ctx, k, strings.NewReader("x"), 1, "")
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePrefix(ctx, "jobs/1/"); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		_, err := s.Stat(ctx, k)
		deleted := strings.HasPrefix(k, "jobs/1/")
		if deleted && !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s should be deleted: %v", k, err)
		}
		if !deleted && err != nil {
			t.Fatalf("%s should remain: %v", k, err)
		}
	}
	if err := s.DeletePrefix(ctx, "jobs/none/"); err != nil {
		t.Fatalf("empty prefix match: %v", err)
	}
	if err := s.DeletePrefix(ctx, ""); err == nil {
		t.Fatal("empty prefix must be refused")
	}
	if err := s.Delete(ctx, "jobs/10/in/a", "jobs/2/in/a", "never/existed"); err != nil {
		t.Fatalf("multi delete: %v", err)
	}
	if _, err := s.Stat(ctx, "jobs/2/in/a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("multi delete left %v", err)
	}
}

func TestPresignPutThenGet(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	data := []byte("\x89PNG fake image bytes")

	putURL, err := s.PresignPut(ctx, "uploads/u1/target.png", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, putURL, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT: %s", resp.Status)
	}
	if st, err := s.Stat(ctx, "uploads/u1/target.png"); err != nil || st.Size != int64(len(data)) {
		t.Fatalf("after presigned PUT: %+v %v", st, err)
	}

	getURL, err := s.PresignGet(ctx, "uploads/u1/target.png", time.Minute, "résultat final.png")
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(getURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("presigned GET: %s %q", resp.Status, body)
	}
	cd := resp.Header.Get("Content-Disposition")
	if !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "filename*=utf-8''r%C3%A9sultat%20final.png") {
		t.Fatalf("Content-Disposition %q", cd)
	}

	// Tampering with the signed URL is rejected by the server.
	u, _ := url.Parse(getURL)
	q := u.Query()
	q.Set("response-content-disposition", "attachment; filename=evil.exe")
	u.RawQuery = q.Encode()
	resp, err = http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered URL: %s", resp.Status)
	}

	if _, err := s.PresignGet(ctx, "k", 8*24*time.Hour, ""); err == nil {
		t.Fatal("expiry over 7 days accepted")
	}
	if _, err := s.PresignPut(ctx, "k", 0); err == nil {
		t.Fatal("zero expiry accepted")
	}
}

func TestPresignPublicEndpoint(t *testing.T) {
	// Same server, reached under another host name: the URL must be signed
	// for that host (rewriting the host afterwards would break the signature).
	_, port, _ := strings.Cut(minioInfo.Endpoint, ":")
	public := "localhost:" + port
	s := newStore(t, func(c *Config) { c.PublicEndpoint = "http://" + public })
	ctx := ctxT(t)
	if _, err := s.Put(ctx, "out/result.jpg", strings.NewReader("result"), 6, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	getURL, err := s.PresignGet(ctx, "out/result.jpg", time.Minute, "")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(getURL)
	if u.Host != public {
		t.Fatalf("presigned host %q, want %q", u.Host, public)
	}
	resp, err := http.Get(getURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "result" {
		t.Fatalf("GET via public endpoint: %s %q", resp.Status, body)
	}
	if resp.Header.Get("Content-Disposition") != "" {
		t.Fatalf("no filename, but Content-Disposition %q", resp.Header.Get("Content-Disposition"))
	}
}

func TestContentDisposition(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"../../etc/passwd": `attachment; filename=passwd`,
		`C:\x\out.mp4`:     `attachment; filename=out.mp4`,
		"a\"b\r\n.png":     `attachment; filename=ab.png`,
		"plain name.jpg":   `attachment; filename="plain name.jpg"`,
		"..":               "",
	} {
		if got := contentDisposition(in); got != want {
			t.Errorf("contentDisposition(%q) = %q, want %q", in, got, want)
		}
	}
}
