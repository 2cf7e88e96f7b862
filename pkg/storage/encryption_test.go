package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/swapd/swapd/internal/testenv"
)

// onDisk reports the files under dir that hold any 64-byte window of secret (one
// window every 4 KiB of it, so a partial copy is found too).
func onDisk(t *testing.T, dir string, secret []byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for off := 0; off+64 <= len(secret); off += 4096 {
			if bytes.Contains(b, secret[off:off+64]) {
				found = append(found, p)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncryptionAtRest(t *testing.T) {
	srv, err := testenv.StartMinIOServer() // with a KMS key, and its data directory at hand
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Endpoint: srv.Info.Endpoint, AccessKey: srv.Info.AccessKey, SecretKey: srv.Info.SecretKey,
		Bucket: "swapd-encrypted", RequireEncryption: true}
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New with RequireEncryption on a MinIO with a KMS key: %v", err)
	}
	if s.Encryption() != SSES3 {
		t.Fatalf("bucket encryption %q, want %q", s.Encryption(), SSES3)
	}
	// A second New on the same bucket (another replica) finds it encrypted.
	if s2, err := New(ctx, cfg); err != nil || s2.Encryption() != SSES3 {
		t.Fatalf("second New: %v, encryption %q", err, s2.Encryption())
	}

	known := randomBytes(t, 200<<10)   // Put with a known size
	streamed := randomBytes(t, 96<<10) // Put of unknown size: multipart
	presigned := randomBytes(t, 64<<10)
	if _, err := s.Put(ctx, "in/known", bytes.NewReader(known), int64(len(known)), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "in/streamed", io.MultiReader(bytes.NewReader(streamed)), -1, ""); err != nil {
		t.Fatal(err)
	}
	// Presigned URLs keep working: the client sends no encryption header.
	put, err := s.PresignPut(ctx, "in/presigned", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, put, bytes.NewReader(presigned))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT: %v %v", err, resp)
	}
	resp.Body.Close()
	for key, want := range map[string][]byte{"in/known": known, "in/streamed": streamed, "in/presigned": presigned} {
		o, err := s.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if o.Encryption != SSES3 {
			t.Errorf("%s: server-side encryption %q, want %q", key, o.Encryption, SSES3)
		}
		get, err := s.PresignGet(ctx, key, time.Minute, "")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(get)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Errorf("%s: presigned GET %d, %d bytes, equal %v", key, resp.StatusCode, len(got), bytes.Equal(got, want))
		}
		if resp.Header.Get("X-Amz-Server-Side-Encryption") != SSES3 {
			t.Errorf("%s: presigned GET answer lacks x-amz-server-side-encryption: %v", key, resp.Header)
		}
	}
	for name, b := range map[string][]byte{"known": known, "streamed": streamed, "presigned": presigned} {
		if f := onDisk(t, srv.DataDir(), b); len(f) > 0 {
			t.Errorf("the %s object's bytes lie in clear in %v", name, f)
		}
	}

	// The scan can see clear text: an object in a bucket without default encryption
	// (made with minio-go directly, not through New) is found on disk.
	raw, err := minio.New(srv.Info.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.Info.AccessKey, srv.Info.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.MakeBucket(ctx, "plain", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	clear := randomBytes(t, 64<<10)
	info, err := raw.PutObject(ctx, "plain", "x", bytes.NewReader(clear), int64(len(clear)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f := onDisk(t, srv.DataDir(), clear); len(f) == 0 {
		t.Errorf("an unencrypted object (%+v) was not found on disk: the scan proves nothing", info)
	}
	st, err := raw.StatObject(ctx, "plain", "x", minio.StatObjectOptions{})
	if err != nil || st.Metadata.Get("X-Amz-Server-Side-Encryption") != "" {
		t.Errorf("unencrypted object reports encryption %q (%v)", st.Metadata.Get("X-Amz-Server-Side-Encryption"), err)
	}
}

func TestRequireEncryptionRefusesAStoreThatCannot(t *testing.T) {
	srv, err := testenv.StartMinIOServerWithoutKMS()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Endpoint: srv.Info.Endpoint, AccessKey: srv.Info.AccessKey, SecretKey: srv.Info.SecretKey, Bucket: "swapd-clear"}
	cfg.RequireEncryption = true
	if _, err := New(ctx, cfg); !errors.Is(err, ErrEncryptionUnsupported) {
		t.Fatalf("New with RequireEncryption on a MinIO without KMS: %v, want ErrEncryptionUnsupported", err)
	}
	cfg.RequireEncryption = false
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("without RequireEncryption the store still works: %v", err)
	}
	if s.Encryption() != "" {
		t.Fatalf("encryption %q on a store without KMS", s.Encryption())
	}
	o, err := s.Put(ctx, "k", strings.NewReader("hello"), 5, "")
	if err != nil {
		t.Fatal(err)
	}
	if o, err = s.Stat(ctx, o.Key); err != nil || o.Encryption != "" {
		t.Fatalf("stat: %v, encryption %q", err, o.Encryption)
	}
}
