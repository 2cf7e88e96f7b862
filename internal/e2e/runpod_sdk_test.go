package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RunPod's own JS SDK (npm runpod-sdk, pinned in testdata/runpodsdk/package-lock.json)
// against the stack, unchanged but for its base URL: testdata/runpodsdk/sdk.mjs calls
// health, run, status, runSync (a quick job, and one that outlasts the wait, so the
// SDK polls /status-sync), stream, cancel and purgeQueue, and prints what each
// returned; this test checks it.

// sdkRunSyncTimeout is the timeout given to runSync for the long job. runSync waits
// that long on /runsync, then polls /status-sync for up to that long again; the job's
// source arrives after sdkLongDelay, between the two.
const (
	sdkRunSyncTimeout = 15 * time.Second
	sdkLongDelay      = 18 * time.Second
)

func TestRunPodJSSDK(t *testing.T) {
	dir := installRunPodSDK(t)

	hold := newHoldServer(t)
	reqs := map[string]any{
		"probe":  map[string]any{"input": map[string]any{"process_type": "probe"}},
		"long":   slowSwap(t, sdkLongDelay),
		"stream": slowSwap(t, 2*time.Second),
		"held": map[string]any{"input": map[string]any{"process_type": "single_image",
			"source_file": strings.Replace(hold.URL, "127.0.0.1", "localhost", 1) + "/held.png",
			"target_file": b64(readFile(t, "faces/grace_hopper.jpg"))}},
	}
	reqFile := filepath.Join(t.TempDir(), "requests.json")
	b, _ := json.Marshal(reqs)
	if err := os.WriteFile(reqFile, b, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "sdk.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"RUNPOD_BASE_URL="+st.URL+"/v2",
		"RUNPOD_API_KEY="+st.Key,
		"RUNPOD_ENDPOINT_ID=face-swap-test",
		"SDK_REQUESTS="+reqFile,
		"SDK_RUNSYNC_TIMEOUT="+strconv.FormatInt(sdkRunSyncTimeout.Milliseconds(), 10),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node sdk.mjs: %v\n%s", err, tail(out, 4000))
	}
	var raw []byte
	var logLines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			raw = []byte(l)
		} else {
			logLines = append(logLines, sc.Text())
		}
	}
	var res struct {
		Health struct {
			Jobs    map[string]int `json:"jobs"`
			Workers map[string]int `json:"workers"`
		} `json:"health"`
		Run    struct{ ID, Status string } `json:"run"`
		Status struct {
			ID, Status           string
			Completed, Succeeded bool
			Output               map[string]string
		} `json:"status"`
		RunSyncShort struct {
			ID, Status           string
			Completed, Succeeded bool
			Output               map[string]string
		} `json:"runSyncShort"`
		RunSyncLong struct {
			ID, Status           string
			Completed, Succeeded bool
			ExecutionTime        int64
			OutputLength         int
		} `json:"runSyncLong"`
		RunSyncLongMs int64 `json:"runSyncLongMs"`
		StreamID      string
		Stream        []struct { // the SDK yields each chunk whole: {"output": …}
			Output struct {
				Progress struct{ Done, Total int } `json:"progress"`
			} `json:"output"`
		} `json:"stream"`
		StreamMs int64 `json:"streamMs"`
		Cancel   struct {
			ID, Status               string
			DelayTime, ExecutionTime *int64
		} `json:"cancel"`
		CancelID string `json:"cancelID"`
		Purge    struct {
			Removed *int   `json:"removed"`
			Status  string `json:"status"`
		} `json:"purge"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("no RESULT line (%v) in:\n%s", err, tail(out, 4000))
	}

	t.Logf("runSync of the long job: %d ms; stream: %d chunks in %d ms; SDK log:\n%s",
		res.RunSyncLongMs, len(res.Stream), res.StreamMs, strings.Join(logLines, "\n"))

	// health: RunPod's fields, as the SDK's HealthCheck type has them.
	for _, f := range []string{"idle", "initializing", "ready", "running", "throttled", "unhealthy"} {
		if _, ok := res.Health.Workers[f]; !ok {
			t.Errorf("health.workers has no %s: %v", f, res.Health.Workers)
		}
	}
	for _, f := range []string{"completed", "failed", "inProgress", "inQueue", "retried"} {
		if _, ok := res.Health.Jobs[f]; !ok {
			t.Errorf("health.jobs has no %s: %v", f, res.Health.Jobs)
		}
	}
	// run + status
	if res.Run.ID == "" || res.Run.Status != "IN_QUEUE" {
		t.Errorf("run: %+v", res.Run)
	}
	if res.Status.ID != res.Run.ID || res.Status.Status != "COMPLETED" || !res.Status.Completed || !res.Status.Succeeded || res.Status.Output["probe"] != "ok" {
		t.Errorf("status: %+v", res.Status)
	}
	// runSync, quick
	if res.RunSyncShort.Status != "COMPLETED" || !res.RunSyncShort.Succeeded || res.RunSyncShort.Output["probe"] != "ok" {
		t.Errorf("runSync of a probe: %+v", res.RunSyncShort)
	}
	// runSync, outlasting /runsync's wait: the SDK went on with /status-sync (it logs
	// "<id>: <status>" after each) and got the ended job.
	r := res.RunSyncLong
	if r.Status != "COMPLETED" || !r.Completed || !r.Succeeded || r.OutputLength < 1000 || r.ExecutionTime < sdkLongDelay.Milliseconds()-1000 {
		t.Errorf("runSync of a job that outlasts the wait: %+v\n%s", r, strings.Join(logLines, "\n"))
	}
	if res.RunSyncLongMs < sdkRunSyncTimeout.Milliseconds() {
		t.Errorf("runSync returned after %d ms, before its /runsync wait of %v ran out", res.RunSyncLongMs, sdkRunSyncTimeout)
	}
	if !containsLine(logLines, r.ID+": COMPLETED") {
		t.Errorf("the SDK never polled /status-sync to the end (no %q line):\n%s", r.ID+": COMPLETED", strings.Join(logLines, "\n"))
	}
	// stream: each progress chunk once, in order, up to the final one, and the
	// generator ended.
	if len(res.Stream) == 0 {
		t.Errorf("stream of %s yielded nothing", res.StreamID)
	}
	for i, c := range res.Stream {
		if c.Output.Progress.Total <= 0 || (i > 0 && c.Output.Progress.Done <= res.Stream[i-1].Output.Progress.Done) {
			t.Errorf("stream chunks %+v: repeated or out of order at %d", res.Stream, i)
			break
		}
	}
	if n := len(res.Stream); n > 0 && res.Stream[n-1].Output.Progress.Done != res.Stream[n-1].Output.Progress.Total {
		t.Errorf("the last stream chunk %+v is not the final progress", res.Stream[n-1].Output)
	}
	if j := st.get(t, res.StreamID); j.Status != "succeeded" {
		t.Errorf("streamed job %s is %s", res.StreamID, j.Status)
	}
	// cancel: RunPod's CancelOutput fields.
	c := res.Cancel
	if c.ID != res.CancelID || c.Status != "CANCELLED" || c.DelayTime == nil || c.ExecutionTime == nil {
		t.Errorf("cancel: %+v", c)
	}
	// purgeQueue
	if res.Purge.Removed == nil || *res.Purge.Removed < 0 || res.Purge.Status != "completed" {
		t.Errorf("purgeQueue: %+v", res.Purge)
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// installRunPodSDK copies testdata/runpodsdk (package.json, the lock pinning
// runpod-sdk, sdk.mjs) to $SWAPD_CACHE/npm/runpodsdk (default ~/.cache/swapd) and runs
// `npm ci` there unless node_modules was installed from the same package files. npm
// or node missing, or npm failing, fails the test: it is what the test is about.
func installRunPodSDK(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run RunPod's JS SDK: %v", tool, err)
		}
	}
	cache := os.Getenv("SWAPD_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache", "swapd")
	}
	dir := filepath.Join(cache, "npm", "runpodsdk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, name := range []string{"package.json", "package-lock.json", "sdk.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "runpodsdk", name))
		if err != nil {
			t.Fatal(err)
		}
		if name != "sdk.mjs" {
			h.Write(b)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	stamp := filepath.Join(dir, "node_modules", ".swapd-installed")
	if got, _ := os.ReadFile(stamp); string(got) == sum {
		return dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--prefer-offline", "--omit-lockfile-registry-resolved")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci (runpod-sdk) in %s: %v\n%s", dir, err, tail(out, 4000))
	}
	if err := os.WriteFile(stamp, []byte(sum), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
