package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	swapdstack "github.com/swapd/swapd/internal/stack"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/storage"
	"github.com/swapd/swapd/pkg/webhook"
)

// stack is the running swapd the tests talk to, and the key they talk with.
type stack struct {
	URL    string // API base URL
	Key    string
	Admin  string // operator key
	Secret webhook.Secret
	env    map[string]string
}

var st *stack

const (
	testMaxBytes  = 4 << 20
	testMaxPixels = 3_000_000
)

func TestMain(m *testing.M) {
	logs := io.Discard
	level := "warn"
	if lvl := os.Getenv("E2E_LOG_LEVEL"); lvl != "" { // debugging: E2E_LOG_LEVEL=debug go test -v
		level, logs = lvl, os.Stderr
	}
	s, err := swapdstack.Start(map[string]string{
		"SWAPD_API_KEYS":             "sk_test_other,sk_test_e2e,sk_test_lister,sk_test_timeout",
		"SWAPD_ADMIN_KEYS":           "sk_test_admin",
		"SWAPD_S3_BUCKET":            "swapd-e2e",
		"SWAPD_MAX_INPUT_BYTES":      fmt.Sprint(testMaxBytes),
		"SWAPD_MAX_PIXELS":           fmt.Sprint(testMaxPixels),
		"SWAPD_MAX_VIDEO_RESOLUTION": "1280x720",
		"SWAPD_RUNPOD_ENDPOINTS":     "swapd,face-swap-test",
		"SWAPD_LOG_LEVEL":            level,
	}, logs)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	st = &stack{URL: s.URL, Key: "sk_test_e2e", Admin: "sk_test_admin", Secret: s.Secret, env: s.Env}
	http.DefaultTransport = openAPIChecked(st, http.DefaultTransport) // every answer checked against /openapi.json (openapi_check_test.go)
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

func testdata() string { return swapdstack.Testdata() }

// do sends an authenticated request and decodes a JSON answer into out (if non-nil).
func (s *stack) do(t *testing.T, method, path, contentType string, body io.Reader, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func (s *stack) postJSON(t *testing.T, path string, v any, out any) *http.Response {
	t.Helper()
	b, _ := json.Marshal(v)
	return s.do(t, http.MethodPost, path, "application/json", bytes.NewReader(b), out)
}

func (s *stack) get(t *testing.T, id string) *jobs.Job {
	t.Helper()
	var j jobs.Job
	if resp := s.do(t, http.MethodGet, "/v1/jobs/"+id, "", nil, &j); resp.StatusCode != 200 {
		t.Fatalf("GET job %s: %d", id, resp.StatusCode)
	}
	return &j
}

// waitStatus polls the job until it is terminal (or until want, if want is running).
func (s *stack) waitStatus(t *testing.T, id string, want ...jobs.Status) *jobs.Job {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		j := s.get(t, id)
		for _, w := range want {
			if j.Status == w {
				return j
			}
		}
		if j.Status.Terminal() {
			t.Fatalf("job %s ended %s (error %+v), want %v", id, j.Status, j.Error, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("job %s not %v after 90s", id, want)
	return nil
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func readFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeImage(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// grayPNG is a valid image with no face in it.
func grayPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// store opens the stack's object storage directly, to check what is (not) there.
func (s *stack) store(t *testing.T) *storage.Store {
	t.Helper()
	st, err := storage.New(context.Background(), storage.Config{Endpoint: s.env["SWAPD_S3_ENDPOINT"],
		AccessKey: s.env["SWAPD_S3_ACCESS_KEY"], SecretKey: s.env["SWAPD_S3_SECRET_KEY"], Bucket: s.env["SWAPD_S3_BUCKET"]})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// meanDiffRGB is the mean absolute difference of the red channel of a and b over r, in
// 0–255 levels: enough to tell a swapped face from an untouched one.
func meanDiffRGB(a, b image.Image, r image.Rectangle) float64 {
	var sum, n float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p, _, _, _ := a.At(x, y).RGBA()
			q, _, _, _ := b.At(x, y).RGBA()
			d := float64(p>>8) - float64(q>>8)
			if d < 0 {
				d = -d
			}
			sum += d
			n++
		}
	}
	return sum / n
}
