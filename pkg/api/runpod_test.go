package api

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/runpod"
	"github.com/swapd/swapd/tasks"
)

func TestRunPodKey(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer sk_1":  "sk_1",
		"bearer  sk_1": "sk_1",
		"sk_1":         "sk_1",
		"  sk_1 ":      "sk_1",
		"Token sk_1":   "",
		"":             "",
	} {
		r := httptest.NewRequest("GET", "/v2/swapd/health", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		if got := runpodKey(r); got != want {
			t.Errorf("%q: key %q, want %q", header, got, want)
		}
	}
}

// The checks that come before any store or queue is touched: auth, endpoint id, body
// size, request and input validation, all in RunPod's error shape.
func TestRunPodRefusals(t *testing.T) {
	h := NewServer(Deps{Keys: []string{"sk_1"}, RunPodEndpoints: []string{"ep-a", "ep-b"}})
	do := func(method, path, auth string, body []byte) (int, string) {
		r := httptest.NewRequest(method, path, bytes.NewReader(body))
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("%s %s: body %q is not RunPod's error shape", method, path, w.Body.String())
		}
		return w.Code, e.Error
	}
	valid := []byte(`{"input": {"process_type": "probe"}}`)
	for _, c := range []struct {
		method, path, auth string
		body               []byte
		code               int
		msg                string
	}{
		{"POST", "/v2/ep-a/run", "", valid, 401, "unauthorized"},
		{"POST", "/v2/ep-a/run", "Bearer wrong", valid, 401, "unauthorized"},
		{"GET", "/v2/ep-a/status/0190c5d2-8f1e-7a4b-9c3d-2e1f0a9b8c7d", "wrong", nil, 401, "unauthorized"},
		{"POST", "/v2/nope/run", "Bearer sk_1", valid, 404, `endpoint "nope" not found`},
		{"GET", "/v2/swapd/health", "sk_1", nil, 404, `endpoint "swapd" not found`},
		{"POST", "/v2/ep-b/run", "sk_1", bytes.Repeat([]byte("x"), runpod.MaxRunBody+1), 413, "payload too large: the /run request body is over the limit of 10 MB"},
		{"POST", "/v2/ep-b/runsync", "sk_1", bytes.Repeat([]byte("x"), runpod.MaxRunSyncBody+1), 413, "limit of 20 MB"},
		{"POST", "/v2/ep-a/run", "sk_1", []byte(`{"webhook": "https://example.com"}`), 400, "input is required"},
		{"POST", "/v2/ep-a/run", "sk_1", []byte(`{"input": {"source_image": "a"}}`), 400, "input.target_image is required"},
		{"POST", "/v2/ep-a/run", "sk_1", []byte(`{"input": {"process_type": "probe"}, "policy": {"executionTimeout": 10}}`), 400, "policy.executionTimeout"},
		{"POST", "/v2/ep-a/runsync?wait=soon", "sk_1", valid, 400, "wait"},
		{"GET", "/v2/ep-a/status/not-an-id", "Bearer sk_1", nil, 404, `job "not-an-id" not found`},
		{"GET", "/v2/ep-a/status-sync/0190c5d2-8f1e-7a4b-9c3d-2e1f0a9b8c7d?wait=soon", "Bearer sk_1", nil, 400, "wait"},
		{"GET", "/v2/ep-a/status-sync/not-an-id?wait=1000", "Bearer sk_1", nil, 404, `job "not-an-id" not found`},
		// Routes that do not exist, or exist for another method, answer in RunPod's
		// shape too, after the key check.
		{"GET", "/v2/ep-a/no-such-route", "Bearer sk_1", nil, 404, "no route for GET /v2/ep-a/no-such-route"},
		{"GET", "/v2/ep-a/status/a/b", "Bearer sk_1", nil, 404, "no route"},
		{"GET", "/v2/", "Bearer sk_1", nil, 404, "no route"},
		{"GET", "/v2/ep-a/no-such-route", "", nil, 401, "unauthorized"},
		{"POST", "/v2/ep-a/status/0190c5d2-8f1e-7a4b-9c3d-2e1f0a9b8c7d", "Bearer sk_1", nil, 405, "use GET"},
		{"GET", "/v2/ep-a/run", "Bearer sk_1", nil, 405, "use POST"},
		{"DELETE", "/v2/ep-a/health", "sk_1", nil, 405, "use GET"},
	} {
		code, msg := do(c.method, c.path, c.auth, c.body)
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s (%q): %d %q, want %d %q", c.method, c.path, c.auth, code, msg, c.code, c.msg)
		}
	}
}

func TestRunPodDefaultTimeoutIsSwapTimeout(t *testing.T) {
	if runpod.DefaultExecutionTimeout != tasks.SwapTimeout {
		t.Fatalf("runpod.DefaultExecutionTimeout %v != tasks.SwapTimeout %v: TIMED_OUT detection of jobs without a policy would be off",
			runpod.DefaultExecutionTimeout, tasks.SwapTimeout)
	}
}

// /health on a fresh install (a Redis in which asynq has never seen a task) answers
// 200 with zero counts and every field of RunPod's health body, not 503.
func TestRunPodHealthFreshInstall(t *testing.T) {
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: testenv.Redis(t)})
	defer in.Close()
	h := NewServer(Deps{Keys: []string{"sk_1"}, Inspector: in})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/v2/swapd/health", nil)
	r.Header.Set("Authorization", "Bearer sk_1")
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("fresh install: %d %s", w.Code, w.Body)
	}
	var body map[string]map[string]int
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: %v", w.Body, err)
	}
	for group, fields := range map[string][]string{
		"jobs":    {"completed", "failed", "inProgress", "inQueue", "retried"},
		"workers": {"idle", "initializing", "ready", "running", "throttled", "unhealthy"},
	} {
		for _, f := range fields {
			if v, ok := body[group][f]; !ok || v != 0 {
				t.Errorf("%s.%s = %d (present %v), want 0: %s", group, f, v, ok, w.Body)
			}
		}
	}
}
