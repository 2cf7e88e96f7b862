package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// The RunPod-compatible API (/v2/{endpoint}/…) against the real stack.

const rpBase = "/v2/swapd"

type rpResult struct {
	ID            string          `json:"id"`
	Status        string          `json:"status"`
	DelayTime     *int64          `json:"delayTime"`
	ExecutionTime *int64          `json:"executionTime"`
	Output        json.RawMessage `json:"output"`
	Error         string          `json:"error"`
}

// rpDo sends a request with the given Authorization header ("" for none) and returns
// the status and body.
func rpDo(t *testing.T, method, path, auth string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, st.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// rp is rpDo with the stack's key as a Bearer token, decoding a 200 answer into out.
func rp(t *testing.T, key, method, path string, body, out any) {
	t.Helper()
	code, b := rpDo(t, method, path, "Bearer "+key, body)
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
}

func rpRun(t *testing.T, key string, body any) string {
	t.Helper()
	var r rpResult
	rp(t, key, "POST", rpBase+"/run", body, &r)
	if r.ID == "" || r.Status != "IN_QUEUE" {
		t.Fatalf("/run answered %+v", r)
	}
	return r.ID
}

// rpWait polls /status until the job has one of the wanted statuses.
func rpWait(t *testing.T, key, id string, want ...string) (rpResult, []byte) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		code, b := rpDo(t, "GET", rpBase+"/status/"+id, "Bearer "+key, nil)
		if code != http.StatusOK {
			t.Fatalf("status of %s: %d %s", id, code, b)
		}
		var r rpResult
		_ = json.Unmarshal(b, &r)
		for _, w := range want {
			if r.Status == w {
				return r, b
			}
		}
		switch r.Status {
		case "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT":
			t.Fatalf("job %s ended %s (%s), want %v", id, r.Status, r.Error, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("job %s not %v after 90s", id, want)
	return rpResult{}, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// checkSwappedLossy is checkSwapped for a JPEG output: the face changed a lot, the
// background only by compression noise.
func checkSwappedLossy(t *testing.T, target, output image.Image, face image.Rectangle) {
	t.Helper()
	if output.Bounds() != target.Bounds() {
		t.Fatalf("output is %v, target %v", output.Bounds(), target.Bounds())
	}
	mean := func(r image.Rectangle) float64 { return meanDiffRGB(target, output, r) }
	if m := mean(face); m < 15 {
		t.Errorf("face region barely changed (mean abs diff %.1f)", m)
	}
	if m := mean(image.Rect(0, 0, 60, 60)); m > 6 {
		t.Errorf("background changed (mean abs diff %.1f)", m)
	}
}

func TestRunPodFilesSchema(t *testing.T) {
	rec, hook := receiver(t)
	target := readFile(t, "faces/grace_hopper.jpg")
	id := rpRun(t, st.Key, map[string]any{
		"input": map[string]any{
			"process_type": "single_image",
			"source_file":  b64(readFile(t, "faces/astronaut.png")),
			"target_file":  "data:image/jpeg;base64," + b64(target),
			"options":      map[string]any{"mouth_mask": false, "use_face_enhancer": false},
			"ignored":      "unknown fields are ignored",
		},
		"webhook":  hook + "/runpod",
		"policy":   map[string]any{"executionTimeout": 120000, "ttl": 600000, "lowPriority": true},
		"s3Config": map[string]any{"accessId": "a", "accessSecret": "b", "bucketName": "c", "endpointUrl": "https://s3.example.com"},
	})
	res, statusBody := rpWait(t, st.Key, id, "COMPLETED")
	if res.DelayTime == nil || res.ExecutionTime == nil || *res.ExecutionTime <= 0 || res.Error != "" {
		t.Fatalf("status %s", statusBody)
	}
	var out string
	if err := json.Unmarshal(res.Output, &out); err != nil {
		t.Fatalf("output is not a base64 string: %s", res.Output)
	}
	img, err := base64.StdEncoding.DecodeString(out)
	if err != nil {
		t.Fatal(err)
	}
	checkSwappedLossy(t, decodeImage(t, target), decodeImage(t, img), graceFace)

	// An ordinary swapd job of the same key.
	if j := st.get(t, id); j.Status != jobs.Succeeded || j.Output == nil || j.Output.Faces != 1 {
		t.Fatalf("/v1 view: %+v", j)
	}

	// The webhook body is the /status body, signed like every swapd webhook.
	reqs := waitWebhook(t, rec, 1)
	var hookBody, status map[string]any
	if err := json.Unmarshal(reqs[0].Body, &hookBody); err != nil {
		t.Fatalf("webhook body %s: %v", reqs[0].Body, err)
	}
	_ = json.Unmarshal(statusBody, &status)
	if !reflect.DeepEqual(hookBody, status) {
		t.Fatalf("webhook body differs from /status:\n%.300s\n%.300s", reqs[0].Body, statusBody)
	}
	if reqs[0].Path != "/runpod" || reqs[0].Header.Get("webhook-id") == "" {
		t.Fatalf("webhook request %s %v", reqs[0].Path, reqs[0].Header)
	}
}

func TestRunPodInswapperSchema(t *testing.T) {
	target := readFile(t, "faces/grace_hopper.jpg")
	var r rpResult
	// RunPod's reference examples send the bare key.
	code, b := rpDo(t, "POST", rpBase+"/run", st.Key, map[string]any{"input": map[string]any{
		"source_image": b64(readFile(t, "faces/astronaut.png")), "target_image": b64(target),
		"source_indexes": "-1", "target_indexes": "-1", "background_enhance": false, "face_restore": false,
		"face_upsample": false, "upscale": 1, "codeformer_fidelity": 0.5, "output_format": "PNG",
		"face_mask_blur": 0.3, "face_mask_padding": "0,0,0,0", "face_swapper_model": "inswapper_128",
	}})
	if code != 200 || json.Unmarshal(b, &r) != nil || r.Status != "IN_QUEUE" {
		t.Fatalf("/run with a bare key: %d %s", code, b)
	}
	res, _ := rpWait(t, st.Key, r.ID, "COMPLETED")
	var out struct {
		Image string `json:"image"`
	}
	if err := json.Unmarshal(res.Output, &out); err != nil || out.Image == "" {
		t.Fatalf("output %s", res.Output)
	}
	img, err := base64.StdEncoding.DecodeString(out.Image)
	if err != nil || !bytes.HasPrefix(img, []byte("\x89PNG")) {
		t.Fatalf("output is not a base64 PNG: %v", err)
	}
	checkSwapped(t, decodeImage(t, target), decodeImage(t, img), graceFace)

	if j := st.get(t, r.ID); j.Options.OutputFormat != "png" || j.Options.MaskBlur == nil || len(j.Options.MaskPadding) != 4 {
		t.Fatalf("options not mapped: %+v", j.Options)
	}
}

func TestRunPodRunSync(t *testing.T) {
	target := readFile(t, "faces/grace_hopper.jpg")
	var r rpResult
	rp(t, st.Key, "POST", rpBase+"/runsync?wait=120000", map[string]any{"input": map[string]any{
		"source_image": b64(readFile(t, "faces/astronaut.png")), "target_image": b64(target), "output_format": "png",
	}}, &r)
	if r.Status != "COMPLETED" || r.ExecutionTime == nil {
		t.Fatalf("runsync: %+v", r)
	}
	var out struct{ Image string }
	_ = json.Unmarshal(r.Output, &out)
	img, err := base64.StdEncoding.DecodeString(out.Image)
	if err != nil {
		t.Fatal(err)
	}
	checkSwapped(t, decodeImage(t, target), decodeImage(t, img), graceFace)

	// A probe through the files schema.
	rp(t, st.Key, "POST", rpBase+"/runsync", map[string]any{"input": map[string]any{"process_type": "probe"}}, &r)
	if r.Status != "COMPLETED" || string(r.Output) != `{"probe":"ok"}` {
		t.Fatalf("probe runsync: %+v %s", r, r.Output)
	}
	// A second configured endpoint id serves the same API.
	rp(t, st.Key, "POST", "/v2/face-swap-test/runsync", map[string]any{"input": map[string]any{"process_type": "probe"}}, &r)
	if r.Status != "COMPLETED" {
		t.Fatalf("probe on the second endpoint: %+v", r)
	}
	// Not retryable: it succeeded.
	if code, b := rpDo(t, "POST", rpBase+"/retry/"+r.ID, "Bearer "+st.Key, nil); code != 400 || !strings.Contains(string(b), "only FAILED or TIMED_OUT") {
		t.Fatalf("retry of a completed job: %d %s", code, b)
	}
}

// holdServer answers nothing until released: a job whose source URL points at it holds
// its worker slot in the fetch step.
type holdServer struct {
	*httptest.Server
	hits    atomic.Int32
	release chan struct{}
}

func newHoldServer(t *testing.T) *holdServer {
	h := &holdServer{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(func() { close(h.release); h.Close() })
	return h
}

func (h *holdServer) waitHits(n int32, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if h.hits.Load() >= n {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return h.hits.Load() >= n
}

type rpHealth struct {
	Jobs struct {
		Completed, Failed, InProgress, InQueue, Retried int
	} `json:"jobs"`
	Workers struct{ Idle, Running int } `json:"workers"`
}

// TestRunPodQueueControl fills every worker slot with jobs stuck fetching their source,
// so later jobs stay IN_QUEUE deterministically, then exercises /stream, /health,
// /cancel and /purge-queue. It uses the second key, whose queue no other test fills.
func TestRunPodQueueControl(t *testing.T) {
	key := "sk_test_other"
	hold := newHoldServer(t)
	target := b64(readFile(t, "faces/grace_hopper.jpg"))
	stuck := func(i int) map[string]any {
		return map[string]any{"input": map[string]any{"process_type": "single_image",
			"source_file": fmt.Sprintf("%s/face-%d.png", strings.Replace(hold.URL, "127.0.0.1", "localhost", 1), i),
			"target_file": target},
			"policy": map[string]any{"executionTimeout": 45000}}
	}
	var h rpHealth
	rp(t, key, "GET", rpBase+"/health", nil, &h)
	slots := h.Workers.Idle + h.Workers.Running
	if slots <= 0 || slots > 64 {
		t.Fatalf("health reports %d worker slots: %+v", slots, h)
	}
	// Fill the slots; a webhook delivery may hold one for a moment, so keep adding
	// held jobs until one stays queued while every slot is stuck.
	var running []string
	for i := 0; i < slots; i++ {
		running = append(running, rpRun(t, key, stuck(i)))
	}
	if !hold.waitHits(int32(slots), 30*time.Second) {
		t.Fatalf("only %d of %d held jobs started", hold.hits.Load(), slots)
	}
	var queued string
	for i := slots; queued == "" && i < slots+8; i++ {
		id := rpRun(t, key, stuck(i))
		if hold.waitHits(int32(len(running)+1), 1500*time.Millisecond) {
			running = append(running, id)
			continue
		}
		queued = id
	}
	if queued == "" {
		t.Fatal("no job stayed queued")
	}
	defer func() {
		for _, id := range running {
			rpDo(t, "POST", rpBase+"/cancel/"+id, "Bearer "+key, nil)
		}
	}()

	var s struct {
		Status string            `json:"status"`
		Stream []json.RawMessage `json:"stream"`
	}
	t0 := time.Now()
	rp(t, key, "GET", rpBase+"/stream/"+queued, nil, &s)
	if s.Status != "IN_QUEUE" || s.Stream == nil || len(s.Stream) != 0 {
		t.Fatalf("stream of a queued job: %+v", s)
	}
	if waited := time.Since(t0); waited < 2*time.Second || waited > 8*time.Second {
		t.Fatalf("stream of a queued job answered after %v, want a long-poll of about 3 s", waited)
	}
	var prog struct {
		Status string `json:"status"`
		Stream []struct {
			Output struct {
				Progress jobs.Progress `json:"progress"`
			} `json:"output"`
		} `json:"stream"`
	}
	rp(t, key, "GET", rpBase+"/stream/"+running[0], nil, &prog)
	if prog.Status != "IN_PROGRESS" || len(prog.Stream) != 1 || prog.Stream[0].Output.Progress.Total == 0 {
		t.Fatalf("stream of a running job: %+v", prog)
	}
	// The chunk was handed out: nothing new while the job stays held.
	rp(t, key, "GET", rpBase+"/stream/"+running[0], nil, &prog)
	if prog.Status != "IN_PROGRESS" || len(prog.Stream) != 0 {
		t.Fatalf("second stream of a running job: %+v", prog)
	}
	rp(t, key, "GET", rpBase+"/health", nil, &h)
	if h.Jobs.InQueue < 1 || h.Jobs.InProgress < slots {
		t.Fatalf("health while held: %+v (slots %d)", h, slots)
	}

	// policy.executionTimeout is the asynq task's timeout.
	redisOpt, err := asynq.ParseRedisURI(st.env["SWAPD_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	inspector := asynq.NewInspector(redisOpt)
	defer inspector.Close()
	info, err := inspector.GetTaskInfo(tasks.QueueSwap, queued)
	if err != nil || info.State != asynq.TaskStatePending || info.Timeout != 45*time.Second {
		t.Fatalf("task of the queued job: %+v %v", info, err)
	}

	// Cancel the queued job. The answer carries delayTime and executionTime, as
	// RunPod's does (runpod-sdk's CancelOutput).
	var c struct {
		ID, Status               string
		DelayTime, ExecutionTime *int64
	}
	rp(t, key, "POST", rpBase+"/cancel/"+queued, nil, &c)
	if c.ID != queued || c.Status != "CANCELLED" || c.DelayTime == nil || *c.DelayTime <= 0 || c.ExecutionTime == nil || *c.ExecutionTime != 0 {
		t.Fatalf("cancel: %+v", c)
	}
	if r, _ := rpWait(t, key, queued, "CANCELLED"); r.Output != nil || r.Error != "" {
		t.Fatalf("canceled job: %+v", r)
	}
	rp(t, key, "POST", rpBase+"/cancel/"+queued, nil, &c) // again: already ended, same answer
	if c.Status != "CANCELLED" {
		t.Fatalf("second cancel: %+v", c)
	}

	// Purge: the queued jobs go, the running ones stay.
	p1, p2 := rpRun(t, key, stuck(100)), rpRun(t, key, stuck(101))
	var purge struct {
		Removed int    `json:"removed"`
		Status  string `json:"status"`
	}
	rp(t, key, "POST", rpBase+"/purge-queue", nil, &purge)
	if purge.Removed < 2 || purge.Status != "completed" {
		t.Fatalf("purge: %+v", purge)
	}
	for _, id := range []string{p1, p2} {
		rpWait(t, key, id, "CANCELLED")
	}
	for _, id := range running {
		var r rpResult
		rp(t, key, "GET", rpBase+"/status/"+id, nil, &r)
		if r.Status != "IN_PROGRESS" {
			t.Fatalf("purge touched running job %s: %+v", id, r)
		}
	}
	// Running jobs cancel too.
	for _, id := range running {
		c.DelayTime, c.ExecutionTime = nil, nil
		rp(t, key, "POST", rpBase+"/cancel/"+id, nil, &c)
		if c.Status != "CANCELLED" || c.DelayTime == nil || c.ExecutionTime == nil || *c.ExecutionTime <= 0 {
			t.Fatalf("cancel of running job %s: %+v", id, c)
		}
	}
	// The other key's jobs do not exist for this one.
	if code, b := rpDo(t, "GET", rpBase+"/status/"+queued, "Bearer "+st.Key, nil); code != 404 || !strings.Contains(string(b), `"error"`) {
		t.Fatalf("another key's job: %d %s", code, b)
	}
}

func TestRunPodRetry(t *testing.T) {
	rec, hook := receiver(t)
	id := rpRun(t, st.Key, map[string]any{
		"input":   map[string]any{"source_image": b64(grayPNG(t, 300, 300)), "target_image": b64(readFile(t, "faces/grace_hopper.jpg"))},
		"webhook": hook,
	})
	res, _ := rpWait(t, st.Key, id, "FAILED")
	if !strings.HasPrefix(res.Error, "NO_FACE_IN_SOURCE: ") || res.Output != nil {
		t.Fatalf("failed job: %+v", res)
	}
	first := waitWebhook(t, rec, 1)
	var hookRes rpResult
	if err := json.Unmarshal(first[0].Body, &hookRes); err != nil || hookRes.Status != "FAILED" || hookRes.Error != res.Error {
		t.Fatalf("failure webhook %s", first[0].Body)
	}

	var r struct{ ID, Status string }
	rp(t, st.Key, "POST", rpBase+"/retry/"+id, nil, &r)
	if r.ID != id || r.Status != "IN_QUEUE" {
		t.Fatalf("retry: %+v", r)
	}
	res, _ = rpWait(t, st.Key, id, "FAILED")
	if !strings.HasPrefix(res.Error, "NO_FACE_IN_SOURCE: ") {
		t.Fatalf("after retry: %+v", res)
	}
	if j := st.get(t, id); j.Attempts != 2 || j.Status != jobs.Failed {
		t.Fatalf("attempts %d status %s, want 2 failed", j.Attempts, j.Status)
	}
	// The second ending is a new event with its own webhook-id.
	reqs := waitWebhook(t, rec, 2)
	if reqs[0].Header.Get("webhook-id") == reqs[1].Header.Get("webhook-id") {
		t.Fatal("the retried job's webhook reused the first webhook-id")
	}
}

func TestRunPodAuthAndErrors(t *testing.T) {
	if code, b := rpDo(t, "GET", rpBase+"/health", "", nil); code != 401 || !strings.Contains(string(b), `"error":"unauthorized`) {
		t.Fatalf("no key: %d %s", code, b)
	}
	if code, b := rpDo(t, "GET", rpBase+"/health", "Bearer sk_wrong", nil); code != 401 {
		t.Fatalf("wrong key: %d %s", code, b)
	}
	if code, b := rpDo(t, "GET", rpBase+"/health", st.Key, nil); code != 200 || !strings.Contains(string(b), `"workers"`) {
		t.Fatalf("bare key: %d %s", code, b)
	}
	if code, b := rpDo(t, "POST", "/v2/not-configured/run", "Bearer "+st.Key, map[string]any{"input": map[string]any{"process_type": "probe"}}); code != 404 ||
		string(bytes.TrimSpace(b)) != `{"error":"endpoint \"not-configured\" not found"}` {
		t.Fatalf("unknown endpoint: %d %s", code, b)
	}
	if code, b := rpDo(t, "GET", rpBase+"/status/0190c5d2-8f1e-7a4b-9c3d-2e1f0a9b8c7d", "Bearer "+st.Key, nil); code != 404 {
		t.Fatalf("unknown job: %d %s", code, b)
	}
	// Routes swapd does not serve, and wrong methods, answer in RunPod's shape too.
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", rpBase + "/no-such-route", 404},
		{"POST", rpBase + "/status/0190c5d2-8f1e-7a4b-9c3d-2e1f0a9b8c7d", 405},
		{"GET", rpBase + "/run", 405},
	} {
		code, b := rpDo(t, c.method, c.path, "Bearer "+st.Key, nil)
		var e map[string]any
		if code != c.code || json.Unmarshal(b, &e) != nil || len(e) != 1 {
			t.Errorf("%s %s: %d %s, want %d {\"error\": \"...\"}", c.method, c.path, code, b, c.code)
		} else if _, ok := e["error"].(string); !ok {
			t.Errorf("%s %s: %s is not RunPod's error shape", c.method, c.path, b)
		}
	}
	// /health carries every field of RunPod's.
	_, b := rpDo(t, "GET", rpBase+"/health", "Bearer "+st.Key, nil)
	var health map[string]map[string]int
	if err := json.Unmarshal(b, &health); err != nil {
		t.Fatalf("health %s: %v", b, err)
	}
	for _, f := range []string{"idle", "initializing", "ready", "running", "throttled", "unhealthy"} {
		if _, ok := health["workers"][f]; !ok {
			t.Errorf("health has no workers.%s: %s", f, b)
		}
	}
	for _, f := range []string{"completed", "failed", "inProgress", "inQueue", "retried"} {
		if _, ok := health["jobs"][f]; !ok {
			t.Errorf("health has no jobs.%s: %s", f, b)
		}
	}
	if w := health["workers"]; w["ready"] != w["idle"]+w["running"] || w["ready"] <= 0 {
		t.Errorf("health workers %v: ready should count every slot", w)
	}
	// Over /run's 10 MB.
	big := []byte(`{"input": {"source_image": "` + strings.Repeat("A", 11<<20) + `", "target_image": "x"}}`)
	if code, b := rpDo(t, "POST", rpBase+"/run", "Bearer "+st.Key, big); code != 413 || !strings.Contains(string(b), "payload too large") || !strings.Contains(string(b), "limit of 10 MB") {
		t.Fatalf("11 MB /run: %d %.200s", code, b)
	}
	// Invalid values are refused at submit with RunPod's error shape.
	for input, msg := range map[string]string{
		`{"source_image": "x", "target_image": "y", "output_format": "GIF"}`:         "output_format",
		`{"process_type": "gif", "source_file": "x", "target_file": "y"}`:            "process_type",
		`{"source_file": "http://127.0.0.1:9000/a.png", "target_file": "https://x"}`: "private or reserved",
	} {
		code, b := rpDo(t, "POST", rpBase+"/run", "Bearer "+st.Key, []byte(`{"input": `+input+`}`))
		var e struct{ Error string }
		if code != 400 || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, msg) {
			t.Errorf("%s: %d %s", input, code, b)
		}
	}
	code, b := rpDo(t, "POST", rpBase+"/run", "Bearer "+st.Key, map[string]any{"input": map[string]any{"process_type": "probe"}, "webhook": "http://10.0.0.1/hook"})
	if code != 400 || !strings.Contains(string(b), "webhook") {
		t.Fatalf("private webhook: %d %s", code, b)
	}
}

// A job that runs past policy.executionTimeout ends TIMED_OUT at once (not after
// retries), and its record says so.
func TestRunPodExecutionTimeout(t *testing.T) {
	hold := newHoldServer(t)
	id := rpRun(t, "sk_test_timeout", map[string]any{
		"input": map[string]any{"process_type": "single_image",
			"source_file": strings.Replace(hold.URL, "127.0.0.1", "localhost", 1) + "/slow.png",
			"target_file": b64(readFile(t, "faces/grace_hopper.jpg"))},
		"policy": map[string]any{"executionTimeout": 5000},
	})
	r, _ := rpWait(t, "sk_test_timeout", id, "TIMED_OUT")
	if !strings.HasPrefix(r.Error, "TIMED_OUT: ") || r.ExecutionTime == nil || *r.ExecutionTime < 4500 {
		t.Fatalf("%+v", r)
	}
	j := as("sk_test_timeout").get(t, id)
	if j.Attempts != 1 || j.Error.Code != "TIMED_OUT" {
		t.Fatalf("attempts %d, error %+v", j.Attempts, j.Error)
	}
}

// slowSource serves the source face after delay, on every fetch: a job that uses it
// runs (IN_PROGRESS, progress 0) for at least delay before it can end. The URL names
// the host, which the test stack allows.
func slowSource(t *testing.T, delay time.Duration) string {
	face := readFile(t, "faces/astronaut.png")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
			w.Write(face)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/face.png"
}

// slowSwap is a /run body of a real swap whose source arrives after delay.
func slowSwap(t *testing.T, delay time.Duration) map[string]any {
	return map[string]any{"input": map[string]any{"process_type": "single_image",
		"source_file": slowSource(t, delay),
		"target_file": b64(readFile(t, "faces/grace_hopper.jpg"))}}
}

// /status-sync/{id}?wait= (what runpod-sdk's runSync polls once /runsync has answered
// before the job ended) waits like /runsync: until wait passes, or the job ends.
func TestRunPodStatusSync(t *testing.T) {
	id := rpRun(t, st.Key, slowSwap(t, 4*time.Second))

	t0 := time.Now()
	var r rpResult
	rp(t, st.Key, "GET", rpBase+"/status-sync/"+id+"?wait=1000", nil, &r)
	if waited := time.Since(t0); r.ID != id || (r.Status != "IN_QUEUE" && r.Status != "IN_PROGRESS") || waited < 900*time.Millisecond {
		t.Fatalf("status-sync?wait=1000 of a live job: %+v after %v", r, waited)
	}

	rp(t, st.Key, "GET", rpBase+"/status-sync/"+id+"?wait=90000", nil, &r)
	if r.Status != "COMPLETED" || r.ExecutionTime == nil || *r.ExecutionTime < 3500 || len(r.Output) < 1000 {
		t.Fatalf("status-sync until the end: %+v (output %d bytes)", r, len(r.Output))
	}
	// An ended job answers at once.
	t0 = time.Now()
	rp(t, st.Key, "GET", rpBase+"/status-sync/"+id+"?wait=30000", nil, &r)
	if r.Status != "COMPLETED" || time.Since(t0) > 2*time.Second {
		t.Fatalf("status-sync of an ended job: %s after %v", r.Status, time.Since(t0))
	}
	// Another key's job does not exist.
	if code, b := rpDo(t, "GET", rpBase+"/status-sync/"+id, "Bearer sk_test_other", nil); code != 404 {
		t.Fatalf("another key's job: %d %s", code, b)
	}
}

type rpStreamBody struct {
	Status string `json:"status"`
	Stream []struct {
		Output struct {
			Progress jobs.Progress `json:"progress"`
		} `json:"output"`
	} `json:"stream"`
}

// streamLikeRunPodPython is runpod-python's Job.stream loop (runpod/endpoint/runner.py):
// every second GET /stream; hand out the chunks while the status is not final or the
// stream is not empty, stop at a final status with an empty stream. It gives up after
// maxPolls, which against a server that repeats its chunks is never.
func streamLikeRunPodPython(t *testing.T, key, id string, maxPolls int) (chunks []jobs.Progress, final string) {
	t.Helper()
	for range maxPolls {
		time.Sleep(time.Second)
		var s rpStreamBody
		rp(t, key, "GET", rpBase+"/stream/"+id, nil, &s)
		switch {
		case !rpFinal(s.Status) || len(s.Stream) > 0:
			for _, c := range s.Stream {
				chunks = append(chunks, c.Output.Progress)
			}
		default:
			return chunks, s.Status
		}
	}
	t.Fatalf("runpod-python's stream loop did not end after %d polls; chunks so far %v", maxPolls, chunks)
	return nil, ""
}

func rpFinal(status string) bool {
	switch status {
	case "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT":
		return true
	}
	return false
}

// /stream hands each progress chunk out once and ends with the final status and an
// empty stream, so runpod-python's Job.stream loop ends.
func TestRunPodStreamEndsLikeRunPod(t *testing.T) {
	id := rpRun(t, st.Key, slowSwap(t, 2*time.Second))
	chunks, final := streamLikeRunPodPython(t, st.Key, id, 60)
	if final != "COMPLETED" || len(chunks) == 0 {
		t.Fatalf("stream ended %s with chunks %v", final, chunks)
	}
	for i, c := range chunks {
		if c.Total <= 0 || c.Done > c.Total {
			t.Fatalf("chunk %d: %+v", i, c)
		}
		if i > 0 && c.Done <= chunks[i-1].Done {
			t.Fatalf("chunks %v: a chunk handed out twice or out of order", chunks)
		}
	}
	if last := chunks[len(chunks)-1]; last.Done != last.Total {
		t.Fatalf("the last chunk %+v is not the final progress (chunks %v)", last, chunks)
	}
	// From then on: the final status, an empty stream, at once.
	t0 := time.Now()
	var s rpStreamBody
	rp(t, st.Key, "GET", rpBase+"/stream/"+id, nil, &s)
	if s.Status != "COMPLETED" || len(s.Stream) != 0 || time.Since(t0) > 2*time.Second {
		t.Fatalf("stream after the end: %+v after %v", s, time.Since(t0))
	}
}

// webhookV2, which runpod-sdk's request type has, is honoured like webhook.
func TestRunPodWebhookV2(t *testing.T) {
	rec, hook := receiver(t)
	id := rpRun(t, st.Key, map[string]any{"input": map[string]any{"process_type": "probe"}, "webhookV2": hook + "/v2hook"})
	reqs := waitWebhook(t, rec, 1)
	var r rpResult
	if err := json.Unmarshal(reqs[0].Body, &r); err != nil || r.ID != id || r.Status != "COMPLETED" || reqs[0].Path != "/v2hook" {
		t.Fatalf("webhook %s %s", reqs[0].Path, reqs[0].Body)
	}
}
