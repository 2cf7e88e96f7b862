package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/netguard"
)

// fakeMirror serves files by path and counts requests per path.
type fakeMirror struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

func newMirror(t *testing.T, files map[string][]byte) *fakeMirror {
	m := &fakeMirror{files: files, hits: map[string]int{}}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.hits[r.URL.Path]++
		b, ok := m.files[r.URL.Path]
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *fakeMirror) count(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits[path]
}

func (m *fakeMirror) total() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, v := range m.hits {
		n += v
	}
	return n
}

func client(t *testing.T) *http.Client {
	p, err := netguard.ParsePolicy("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	return netguard.NewClient(p, 10*time.Second)
}

func crcHex(b []byte) string { return fmt.Sprintf("%08x", crc32.ChecksumIEEE(b)) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var fakeModel = bytes.Repeat([]byte("not really an onnx model\n"), 4000) // ~100 KB

func crcEntry(base string) Entry {
	return Entry{
		Name: "fake", Role: RoleSwapper, File: "fake.onnx",
		Sources: []Source{{URL: base + "/fake.onnx", HashURL: base + "/fake.hash"}},
	}
}

func TestDownloadCRC32Success(t *testing.T) {
	m := newMirror(t, map[string][]byte{"/fake.onnx": fakeModel, "/fake.hash": []byte(crcHex(fakeModel) + "\n")})
	dir := filepath.Join(t.TempDir(), "models") // created by Download
	var progress bytes.Buffer
	e := crcEntry(m.URL)

	if err := Download(ctxT(t), client(t), e, dir, &progress); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "fake.onnx"))
	if err != nil || !bytes.Equal(got, fakeModel) {
		t.Fatalf("downloaded file: %d bytes, %v", len(got), err)
	}
	if side, _ := os.ReadFile(filepath.Join(dir, "fake.hash")); string(side) != crcHex(fakeModel) {
		t.Fatalf("local sidecar %q", side)
	}
	if _, err := os.Stat(filepath.Join(dir, "fake.onnx.part")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf(".part left behind: %v", err)
	}
	if !strings.Contains(progress.String(), "fake.onnx") {
		t.Fatalf("progress output %q", progress.String())
	}
	if err := Verify(e, dir); err != nil {
		t.Fatalf("Verify after download: %v", err)
	}

	// Already present: verified offline from the local sidecar, no request at all.
	before := m.total()
	progress.Reset()
	if err := Download(ctxT(t), client(t), e, dir, &progress); err != nil {
		t.Fatal(err)
	}
	if m.total() != before {
		t.Fatalf("second download made %d requests", m.total()-before)
	}
	if !strings.Contains(progress.String(), "already present") {
		t.Fatalf("progress %q", progress.String())
	}
}

func TestDownloadSHA256SuccessAndSkip(t *testing.T) {
	m := newMirror(t, map[string][]byte{"/m.onnx": fakeModel})
	sum := sha256.Sum256(fakeModel)
	e := Entry{Name: "sha", Role: RoleDetector, File: "m.onnx", Size: int64(len(fakeModel)),
		SHA256: hex.EncodeToString(sum[:]), Sources: []Source{{URL: m.URL + "/m.onnx"}}}
	dir := t.TempDir()
	if err := Download(ctxT(t), client(t), e, dir, nil); err != nil {
		t.Fatal(err)
	}
	if err := Download(ctxT(t), client(t), e, dir, nil); err != nil {
		t.Fatal(err)
	}
	if n := m.count("/m.onnx"); n != 1 {
		t.Fatalf("file fetched %d times, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.hash")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("SHA-256 entries need no sidecar")
	}
}

func TestDownloadChecksumMismatch(t *testing.T) {
	m := newMirror(t, map[string][]byte{"/fake.onnx": fakeModel, "/fake.hash": []byte("deadbeef")})
	dir := t.TempDir()
	err := Download(ctxT(t), client(t), crcEntry(m.URL), dir, nil)
	if !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("err = %v, want ErrChecksumMismatch", err)
	}
	if !strings.Contains(err.Error(), "deadbeef") || !strings.Contains(err.Error(), crcHex(fakeModel)) {
		t.Fatalf("error should name both digests: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("files left after mismatch: %v", entries)
	}

	// Same with a pinned SHA-256.
	e := Entry{Name: "sha", File: "m.onnx", SHA256: strings.Repeat("0", 64), Sources: []Source{{URL: m.URL + "/fake.onnx"}}}
	if err := Download(ctxT(t), client(t), e, dir, nil); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("sha256: err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left after mismatch: %v", entries)
	}
}

func TestDownloadReplacesCorruptFile(t *testing.T) {
	m := newMirror(t, map[string][]byte{"/fake.onnx": fakeModel, "/fake.hash": []byte(crcHex(fakeModel))})
	dir := t.TempDir()
	e := crcEntry(m.URL)
	// A truncated file from an earlier, interrupted tool, with no sidecar:
	// the sidecar is fetched, the file fails it and is downloaded again.
	os.WriteFile(filepath.Join(dir, "fake.onnx"), fakeModel[:100], 0o644)
	if err := Download(ctxT(t), client(t), e, dir, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "fake.onnx")); !bytes.Equal(got, fakeModel) {
		t.Fatal("corrupt file not replaced")
	}
	// A corrupt file with a local sidecar is caught offline and replaced.
	os.WriteFile(filepath.Join(dir, "fake.onnx"), []byte("garbage"), 0o644)
	if err := Verify(e, dir); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("Verify corrupt: %v", err)
	}
	if err := Download(ctxT(t), client(t), e, dir, nil); err != nil {
		t.Fatal(err)
	}
	if err := Verify(e, dir); err != nil {
		t.Fatal(err)
	}
	if n := m.count("/fake.onnx"); n != 2 {
		t.Fatalf("model fetched %d times, want 2", n)
	}
}

func TestDownloadExistingWithoutSidecarOnlyFetchesHash(t *testing.T) {
	m := newMirror(t, map[string][]byte{"/fake.onnx": fakeModel, "/fake.hash": []byte(crcHex(fakeModel))})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fake.onnx"), fakeModel, 0o644)
	e := crcEntry(m.URL)
	if err := Verify(e, dir); !errors.Is(err, ErrUnverifiable) {
		t.Fatalf("Verify without sidecar: %v", err)
	}
	if err := Download(ctxT(t), client(t), e, dir, nil); err != nil {
		t.Fatal(err)
	}
	if m.count("/fake.onnx") != 0 || m.count("/fake.hash") != 1 {
		t.Fatalf("hits %v", m.hits)
	}
	if err := Verify(e, dir); err != nil {
		t.Fatalf("sidecar not saved: %v", err)
	}
}

func TestDownloadFallsBackToNextSource(t *testing.T) {
	bad := newMirror(t, map[string][]byte{"/fake.hash": []byte(crcHex(fakeModel))}) // model 404
	good := newMirror(t, map[string][]byte{"/fake.onnx": fakeModel, "/fake.hash": []byte(crcHex(fakeModel))})
	e := crcEntry(bad.URL)
	e.Sources = append(e.Sources, crcEntry(good.URL).Sources...)
	if err := Download(ctxT(t), client(t), e, t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	// All sources failing reports each failure.
	e.Sources = crcEntry(bad.URL).Sources
	err := Download(ctxT(t), client(t), e, t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v", err)
	}
}

func TestDownloadRejectsBadSidecarAndOversize(t *testing.T) {
	m := newMirror(t, map[string][]byte{"/fake.onnx": fakeModel, "/fake.hash": []byte("<html>not found</html>")})
	if err := Download(ctxT(t), client(t), crcEntry(m.URL), t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "CRC32") {
		t.Fatalf("bad sidecar: %v", err)
	}
	sum := sha256.Sum256(fakeModel)
	e := Entry{Name: "small", File: "m.onnx", Size: 1000, SHA256: hex.EncodeToString(sum[:]), Sources: []Source{{URL: m.URL + "/fake.onnx"}}}
	dir := t.TempDir()
	if err := Download(ctxT(t), client(t), e, dir, nil); err == nil || !strings.Contains(err.Error(), "allowed") {
		t.Fatalf("oversize: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left: %v", entries)
	}
}

func TestDownloadDefaultClientBlocksPrivate(t *testing.T) {
	m := newMirror(t, map[string][]byte{"/fake.onnx": fakeModel, "/fake.hash": []byte(crcHex(fakeModel))})
	err := Download(ctxT(t), nil, crcEntry(m.URL), t.TempDir(), nil)
	if !errors.Is(err, netguard.ErrBlocked) {
		t.Fatalf("err = %v, want netguard.ErrBlocked", err)
	}
}

func TestCatalogue(t *testing.T) {
	names := map[string]bool{}
	defaults := map[Role]int{}
	for _, e := range Catalogue() {
		if err := e.Validate(); err != nil {
			t.Error(err)
		}
		if names[e.Name] {
			t.Errorf("duplicate %s", e.Name)
		}
		names[e.Name] = true
		if e.Default {
			defaults[e.Role]++
		}
		if e.License == "" || e.Note == "" {
			t.Errorf("%s: license and provenance note are required", e.Name)
		}
		for _, s := range e.Sources {
			if !strings.HasPrefix(s.URL, "https://") || (s.HashURL != "" && !strings.HasPrefix(s.HashURL, "https://")) {
				t.Errorf("%s: non-https source %+v", e.Name, s)
			}
			if !strings.HasSuffix(s.URL, "/"+e.File) {
				t.Errorf("%s: URL %s does not end in the file name", e.Name, s.URL)
			}
		}
	}
	for _, r := range []Role{RoleDetector, RoleRecognizer, RoleSwapper} {
		if defaults[r] != 1 {
			t.Errorf("role %s has %d defaults, want 1", r, defaults[r])
		}
	}
	if len(Defaults()) != 3 {
		t.Errorf("Defaults() = %d entries", len(Defaults()))
	}
	e, ok := Lookup("inswapper_128")
	if !ok || e.SHA256 != "e4a3f08c753cb72d04e10aa0f7dbe3deebbf39567d4ead6dce08e98aa49e16af" || e.Size != 554253681 ||
		e.Sources[0].URL != "https://huggingface.co/hacksider/deep-live-cam/resolve/main/inswapper_128.onnx" {
		t.Errorf("inswapper_128 = %+v", e)
	}
	fp16, _ := Lookup("inswapper_128_fp16")
	if fp16.Sources[0].HashURL != "https://github.com/facefusion/facefusion-assets/releases/download/models-3.0.0/inswapper_128_fp16.hash" {
		t.Errorf("fp16 sources %+v", fp16.Sources)
	}
	// Catalogue returns copies.
	c := Catalogue()
	c[0].Sources[0].URL = "mutated"
	if Catalogue()[0].Sources[0].URL == "mutated" {
		t.Error("Catalogue exposes its backing array")
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup of unknown name succeeded")
	}
}

func TestValidate(t *testing.T) {
	for _, e := range []Entry{
		{Name: "x", File: "../x.onnx", SHA256: strings.Repeat("a", 64), Sources: []Source{{URL: "https://h/x"}}},
		{Name: "x", File: "x.onnx", Sources: []Source{{URL: "https://h/x"}}},
		{Name: "x", File: "x.onnx", SHA256: "ABC", Sources: []Source{{URL: "https://h/x"}}},
		{Name: "x", File: "x.onnx", SHA256: strings.Repeat("a", 64)},
	} {
		if err := e.Validate(); err == nil {
			t.Errorf("Validate(%+v) succeeded", e)
		}
	}
}

// The catalogue's sizes are advisory: a file somewhat larger than Size still
// downloads (the progress bar total is then just wrong).
func TestDownloadAdvisorySize(t *testing.T) {
	m := newMirror(t, map[string][]byte{"/fake.onnx": fakeModel, "/fake.hash": []byte(crcHex(fakeModel))})
	e := crcEntry(m.URL)
	e.Size = int64(len(fakeModel)) - 1000
	var progress bytes.Buffer
	if err := Download(ctxT(t), client(t), e, t.TempDir(), &progress); err != nil {
		t.Fatal(err)
	}
	t.Logf("progress output: %q", progress.String())
}

// Status tells a missing file from a wrong one, and both from one it cannot check.
func TestStatus(t *testing.T) {
	dir := t.TempDir()
	body := []byte("model bytes")
	sum := sha256.Sum256(body)
	sha := Entry{Name: "s", Role: RoleDetector, File: "s.onnx", SHA256: hex.EncodeToString(sum[:]), Sources: []Source{{URL: "https://example.invalid/s.onnx"}}}
	crc := Entry{Name: "c", Role: RoleDetector, File: "c.onnx", Sources: []Source{{URL: "https://example.invalid/c.onnx", HashURL: "https://example.invalid/c.hash"}}}
	if got := Status(sha, dir); got != "missing" {
		t.Errorf("no file: %q", got)
	}
	must := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must("s.onnx", body)
	if got := Status(sha, dir); got != "ok" {
		t.Errorf("right file: %q", got)
	}
	must("s.onnx", []byte("other bytes"))
	if got := Status(sha, dir); got != "checksum mismatch" {
		t.Errorf("wrong file: %q", got)
	}
	must("c.onnx", body)
	if got := Status(crc, dir); got != "unverified" {
		t.Errorf("CRC32 model without sidecar: %q", got)
	}
	must("c.hash", []byte(fmt.Sprintf("%08x", crc32.ChecksumIEEE(body)+1)))
	if got := Status(crc, dir); got != "checksum mismatch" {
		t.Errorf("CRC32 mismatch: %q", got)
	}
	must("c.hash", []byte(fmt.Sprintf("%08x", crc32.ChecksumIEEE(body))))
	if got := Status(crc, dir); got != "ok" {
		t.Errorf("CRC32 match: %q", got)
	}
}
