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

	"github.com/swapd/swapd/internal/apicmd"
	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/internal/workercmd"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/storage"
	"github.com/swapd/swapd/pkg/webhook"
)

// stack is one running swapd: Redis, MinIO, API and worker.
type stack struct {
	URL    string // API base URL
	Key    string
	Secret webhook.Secret
	env    map[string]string
}

var st *stack

const (
	testMaxBytes  = 4 << 20
	testMaxPixels = 3_000_000
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	redisAddr, stopRedis, err := testenv.StartRedis()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopRedis()
	minio, stopMinIO, err := testenv.StartMinIO()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopMinIO()
	models, err := os.MkdirTemp("", "swapd-models-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(models)
	if err := onnxgen.WriteSwapper(filepath.Join(models, "inswapper_128.onnx"), 1); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	secret := webhook.GenerateSecret()
	s := &stack{
		Key:    "sk_test_e2e",
		Secret: secret,
		env: map[string]string{
			"SWAPD_ADDR":                 fmt.Sprintf("127.0.0.1:%d", testenv.FreePort()),
			"SWAPD_API_KEYS":             "sk_test_other,sk_test_e2e,sk_test_lister,sk_test_timeout",
			"SWAPD_REDIS_URL":            "redis://" + redisAddr + "/0",
			"SWAPD_S3_ENDPOINT":          minio.Endpoint,
			"SWAPD_S3_ACCESS_KEY":        minio.AccessKey,
			"SWAPD_S3_SECRET_KEY":        minio.SecretKey,
			"SWAPD_S3_BUCKET":            "swapd-e2e",
			"SWAPD_ALLOW_PRIVATE":        "localhost", // the webhook receivers and slow servers; never 127.0.0.1
			"SWAPD_MODELS_DIR":           models,
			"SWAPD_DETECTOR_MODEL":       filepath.Join(testdata(), "models", "scrfd_500m.onnx"),
			"SWAPD_RECOGNIZER_MODEL":     filepath.Join(testdata(), "models", "arcface_compat_512.onnx"),
			"SWAPD_SWAPPER_MODEL":        "inswapper_128.onnx",
			"SWAPD_DEVICES":              "cpu",
			"SWAPD_WEBHOOK_SECRET":       secret.String(),
			"SWAPD_WEBHOOK_SCHEDULE":     "300ms,300ms,300ms",
			"SWAPD_POLL_INTERVAL":        "100ms",
			"SWAPD_MAX_INPUT_BYTES":      fmt.Sprint(testMaxBytes),
			"SWAPD_MAX_PIXELS":           fmt.Sprint(testMaxPixels),
			"SWAPD_MAX_VIDEO_RESOLUTION": "1280x720",
			"SWAPD_METRICS_ADDR":         fmt.Sprintf("127.0.0.1:%d", testenv.FreePort()),
			"SWAPD_LOG_LEVEL":            "warn",
			"SWAPD_ORT_LIBRARY":          os.Getenv("SWAPD_ORT_LIBRARY"),
			"SWAPD_RUNPOD_ENDPOINTS":     "swapd,face-swap-test",
		},
	}
	s.URL = "http://" + s.env["SWAPD_ADDR"]
	logs := io.Discard
	if lvl := os.Getenv("E2E_LOG_LEVEL"); lvl != "" { // debugging: E2E_LOG_LEVEL=debug go test -v
		s.env["SWAPD_LOG_LEVEL"], logs = lvl, os.Stderr
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	getenv := func(k string) string { return s.env[k] }
	go func() { done <- apicmd.Run(ctx, nil, getenv, logs) }()
	go func() { done <- workercmd.Run(ctx, nil, getenv, logs) }()
	if err := waitHealthy(s.URL, done); err != nil {
		fmt.Fprintln(os.Stderr, "stack did not start:", err)
		cancel()
		return 1
	}
	st = s
	code := m.Run()
	cancel()
	for i := 0; i < 2; i++ {
		select {
		case <-done:
		case <-time.After(40 * time.Second):
		}
	}
	return code
}

func testdata() string {
	if d := os.Getenv("SWAPD_TESTDATA"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "testdata")
}

func waitHealthy(base string, done <-chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("exited: %v", err)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no ready API at %s after 60s", base)
}

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
