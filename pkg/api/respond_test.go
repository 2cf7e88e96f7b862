package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/fixtures"
	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/storage"
	"github.com/swapd/swapd/tasks"
)

// realServer is the API over a real Redis (which the test may stop) and a real MinIO,
// with tenant key "k".
type realServer struct {
	h         http.Handler
	stopRedis func()
}

func newRealServer(t *testing.T) *realServer {
	t.Helper()
	addr, stop, err := testenv.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	store := jobs.NewStore(rdb, time.Hour)
	queue := asynq.NewClientFromRedisClient(rdb)
	m := testenv.MinIO(t)
	objects, err := storage.New(context.Background(), storage.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "api-test"})
	if err != nil {
		t.Fatal(err)
	}
	h := NewServer(Deps{Keys: []string{"k"}, Redis: rdb, Jobs: store, Queue: queue, Store: objects,
		Inspector: asynq.NewInspectorFromRedisClient(rdb),
		Notifier:  &tasks.Notifier{Client: queue, Jobs: store}})
	return &realServer{h: h, stopRedis: stop}
}

func (s *realServer) call(method, path, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer k")
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

func errCode(w *httptest.ResponseRecorder) string {
	var e errorBody
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	if e.Error == nil {
		return ""
	}
	return e.Error.Code
}

// TestRedisDownIs503: with Redis stopped (a real redis-server, killed), submitting and
// listing answer 503 UNAVAILABLE with Retry-After, never 500 INTERNAL.
func TestRedisDownIs503(t *testing.T) {
	s := newRealServer(t)
	if w := s.call("POST", "/v1/jobs", "application/json", `{"kind":"probe"}`); w.Code != http.StatusAccepted {
		t.Fatalf("submit with Redis up: %d %s", w.Code, w.Body)
	}
	s.stopRedis()
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/jobs", `{"kind":"probe"}`},
		{"GET", "/v1/jobs", ""},
		{"GET", "/v1/jobs/0190c0de-0000-7000-8000-000000000000", ""},
	} {
		w := s.call(c.method, c.path, "application/json", c.body)
		if w.Code != http.StatusServiceUnavailable || errCode(w) != "UNAVAILABLE" || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s with Redis down: %d %s (Retry-After %q)", c.method, c.path, w.Code, w.Body, w.Header().Get("Retry-After"))
		}
	}
	// The RunPod endpoint answers the same, in its own error shape.
	w := s.call("POST", "/v2/swapd/run", "application/json", `{"input": {"process_type": "probe"}}`)
	var rp runpodError
	_ = json.Unmarshal(w.Body.Bytes(), &rp)
	if w.Code != http.StatusServiceUnavailable || rp.Error == "" || w.Header().Get("Retry-After") == "" {
		t.Errorf("/v2/swapd/run with Redis down: %d %s", w.Code, w.Body)
	}
}

// TestTruncatedInputs: inputs cut short are the client's error (400), not a 500.
func TestTruncatedInputs(t *testing.T) {
	s := newRealServer(t)
	face, err := os.ReadFile(filepath.Join(fixtures.Dir(), "faces", "grace_hopper.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	full := base64.StdEncoding.EncodeToString(face)
	job := func(src string) string {
		return fmt.Sprintf(`{"source": {"base64": %q}, "target": {"base64": %q}}`, src, full)
	}
	var mp bytes.Buffer
	fmt.Fprintf(&mp, "--XX\r\nContent-Disposition: form-data; name=\"source\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n")
	mp.Write(face[:len(face)/2]) // and no closing boundary
	for _, c := range []struct{ name, contentType, body string }{
		{"base64 of three characters", "application/json", job("QUJ")},
		{"a JPEG's base64 without its last character", "application/json", job(full[:len(full)-1])},
		{"a data URL cut short", "application/json", job("data:image/jpeg;base64," + full[:len(full)-2])},
		{"multipart without its closing boundary", "multipart/form-data; boundary=XX", mp.String()},
	} {
		w := s.call("POST", "/v1/jobs", c.contentType, c.body)
		if w.Code != http.StatusBadRequest || errCode(w) != "INVALID_REQUEST" {
			t.Errorf("%s: %d %s", c.name, w.Code, w.Body)
		}
	}
	// A good job still goes through on the same server.
	if w := s.call("POST", "/v1/jobs", "application/json", job(full)); w.Code != http.StatusAccepted {
		t.Fatalf("good job: %d %s", w.Code, w.Body)
	}
}

// TestMethodNotAllowed: a known path under the wrong method is 405 with Allow, an
// unknown path 404.
func TestMethodNotAllowed(t *testing.T) {
	h := NewServer(Deps{Keys: []string{"k"}})
	for _, c := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{"PUT", "/v1/jobs", 405, "GET, POST, DELETE"},
		{"PATCH", "/v1/jobs/0190c0de-0000-7000-8000-000000000000", 405, "GET, DELETE"},
		{"GET", "/v1/uploads", 405, "POST"},
		{"GET", "/v1/nothing-here", 404, ""},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		r.Header.Set("Authorization", "Bearer k")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q", c.method, c.path, w.Code, w.Header().Get("Allow"), c.want, c.allow)
		}
	}
}
