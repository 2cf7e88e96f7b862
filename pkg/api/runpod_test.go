package api

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

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
