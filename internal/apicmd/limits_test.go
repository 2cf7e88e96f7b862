package apicmd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swapd/swapd/internal/fixtures"
	"github.com/swapd/swapd/internal/testenv"
)

// TestLimitsSharedAcrossAPIs: two API processes (apicmd.Run, as cmd/api runs it) on one
// Redis, with keys from a SWAPD_KEYS_FILE. A key's request rate, its jobs in flight
// and its daily job quota are shared: requests spread over both APIs are limited as
// if they went to one. Refusals are 429 with their codes and the IETF headers.
func TestLimitsSharedAcrossAPIs(t *testing.T) {
	redisAddr := testenv.Redis(t)
	minio := testenv.MinIO(t)
	keys := writeKeys(t, `
defaults: {requests_per_minute: 0}
keys:
  - {name: ratey, role: tenant, secret: sk_ratey_key, limits: {requests_per_minute: 10}}
  - {name: quota, role: tenant, secret: sk_quota_key, limits: {max_in_flight: 3, daily_jobs: 5}}
  - {name: ops, role: admin, secret: sk_ops_key}
`)
	urls := []string{startAPI(t, keys, redisAddr, minio, "limits"), startAPI(t, keys, redisAddr, minio, "limits")}
	call := func(i int, key, method, path, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, urls[i%2]+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &e)
		return resp, e.Error.Code
	}

	// Request rate: 10 a minute, alternating between the two APIs.
	for i := range 10 {
		resp, _ := call(i, "sk_ratey_key", "GET", "/v1/jobs", "")
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("RateLimit-Policy"), "q=10") || resp.Header.Get("RateLimit") == "" {
			t.Fatalf("request %d: %d, RateLimit-Policy %q, RateLimit %q", i, resp.StatusCode, resp.Header.Get("RateLimit-Policy"), resp.Header.Get("RateLimit"))
		}
	}
	for i := range 2 {
		resp, code := call(i, "sk_ratey_key", "GET", "/v1/jobs", "")
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != 429 || code != "RATE_LIMITED" || wait < 1 {
			t.Fatalf("11th request on API %d: %d %s, Retry-After %q", i, resp.StatusCode, code, resp.Header.Get("Retry-After"))
		}
	}
	// RunPod clients get the same limit in RunPod's error shape.
	req, _ := http.NewRequest("GET", urls[0]+"/v2/swapd/health", nil)
	req.Header.Set("Authorization", "sk_ratey_key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rp struct{ Error string }
	_ = json.NewDecoder(resp.Body).Decode(&rp)
	resp.Body.Close()
	if resp.StatusCode != 429 || rp.Error == "" {
		t.Fatalf("/v2 over the rate: %d %+v", resp.StatusCode, rp)
	}
	// Other keys are not held back by it.
	if resp, _ := call(0, "sk_quota_key", "GET", "/v1/jobs", ""); resp.StatusCode != 200 {
		t.Fatalf("another key: %d", resp.StatusCode)
	}

	// Jobs in flight: 3 (no worker runs, so probes stay queued), across both APIs.
	var ids []string
	submit := func(i int) (int, string) {
		req, _ := http.NewRequest("POST", urls[i%2]+"/v1/jobs", strings.NewReader(`{"kind":"probe"}`))
		req.Header.Set("Authorization", "Bearer sk_quota_key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			ID    string
			Error struct{ Code string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode == 202 {
			ids = append(ids, body.ID)
		}
		return resp.StatusCode, body.Error.Code
	}
	for i := range 3 {
		if st, code := submit(i); st != 202 {
			t.Fatalf("submit %d: %d %s", i, st, code)
		}
	}
	if st, code := submit(1); st != 429 || code != "QUOTA_EXCEEDED" {
		t.Fatalf("4th job in flight: %d %s", st, code)
	}
	// Each job that ends frees a place, until the daily quota of 5 jobs is used up.
	for i := range 2 {
		if resp, _ := call(i, "sk_quota_key", "POST", "/v1/jobs/"+ids[i]+"/cancel", ""); resp.StatusCode != 200 {
			t.Fatalf("cancel: %d", resp.StatusCode)
		}
		if st, code := submit(i); st != 202 {
			t.Fatalf("submit after a cancel: %d %s", st, code)
		}
	}
	call(0, "sk_quota_key", "POST", "/v1/jobs/"+ids[2]+"/cancel", "")
	if st, code := submit(0); st != 429 || code != "QUOTA_EXCEEDED" {
		t.Fatalf("6th job of the day: %d %s", st, code)
	}

	// GET /v1/usage says so, on either API; the refused submits are not counted.
	var u struct {
		Key      string
		InFlight int64 `json:"in_flight"`
		Limits   struct {
			MaxInFlight int   `json:"max_in_flight"`
			DailyJobs   int64 `json:"daily_jobs"`
		}
		Days []struct {
			Date string
			Jobs int64
		}
	}
	req, _ = http.NewRequest("GET", urls[1]+"/v1/usage", nil)
	req.Header.Set("Authorization", "Bearer sk_quota_key")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&u); err != nil || resp.StatusCode != 200 {
		t.Fatalf("usage: %d %s", resp.StatusCode, b)
	}
	if u.Key != "quota" || u.InFlight != 2 || u.Limits.MaxInFlight != 3 || u.Limits.DailyJobs != 5 ||
		len(u.Days) != 7 || u.Days[0].Date != time.Now().UTC().Format(time.DateOnly) || u.Days[0].Jobs != 5 {
		t.Fatalf("usage: %s", b)
	}
}

// writeKeys writes a keys file (SWAPD_KEYS_FILE) with yaml in the test's temp dir.
func writeKeys(t *testing.T, yaml string) string {
	t.Helper()
	keys := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(keys, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return keys
}

// startAPI runs an API (apicmd.Run, as cmd/api runs it) on a free loopback port with
// the keys file keys, on Redis redisAddr and minio's bucket, until the test ends, and
// returns its base URL once it answers.
func startAPI(t *testing.T, keys, redisAddr string, minio testenv.MinIOInfo, bucket string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort())
	env := map[string]string{
		"SWAPD_ADDR": addr, "SWAPD_KEYS_FILE": keys, "SWAPD_REDIS_URL": "redis://" + redisAddr + "/0",
		"SWAPD_S3_ENDPOINT": minio.Endpoint, "SWAPD_S3_ACCESS_KEY": minio.AccessKey, "SWAPD_S3_SECRET_KEY": minio.SecretKey,
		"SWAPD_S3_BUCKET": bucket, "SWAPD_LOG_LEVEL": "error",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, nil, func(k string) string { return env[k] }, io.Discard) }()
	t.Cleanup(func() { cancel(); <-done })
	url := "http://" + addr
	waitUp(t, url+"/healthz")
	return url
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not up: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUsageCountedWithTheRecord: a key without daily quotas has its jobs and input
// bytes counted in the Redis step that creates each record (jobs.CreateOptions.Tally),
// not by a call of their own before it; what is not a new job is not counted: a
// submit refused for jobs in flight, an idempotent replay, a body that fails to parse.
func TestUsageCountedWithTheRecord(t *testing.T) {
	redisAddr := testenv.Redis(t)
	minio := testenv.MinIO(t)
	url := startAPI(t, writeKeys(t, `
defaults: {requests_per_minute: 0}
keys:
  - {name: open, role: tenant, secret: sk_open_key, limits: {max_in_flight: 3}}
`), redisAddr, minio, "tally")

	submit := func(body, idem string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", url+"/v1/jobs", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk_open_key")
		req.Header.Set("Content-Type", "application/json")
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct{ Error struct{ Code string } }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if resp.Header.Get("Idempotent-Replayed") != "" {
			return resp.StatusCode, "replayed"
		}
		return resp.StatusCode, e.Error.Code
	}
	usage := func() (jobs, bytes int64) {
		t.Helper()
		req, _ := http.NewRequest("GET", url+"/v1/usage", nil)
		req.Header.Set("Authorization", "Bearer sk_open_key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var u struct {
			Days []struct{ Jobs, Bytes int64 }
		}
		if err := json.NewDecoder(resp.Body).Decode(&u); err != nil || len(u.Days) == 0 {
			t.Fatalf("usage: %d %v", resp.StatusCode, err)
		}
		return u.Days[0].Jobs, u.Days[0].Bytes
	}

	if st, code := submit(`{"kind":"probe"}`, "once"); st != 202 {
		t.Fatalf("first probe: %d %s", st, code)
	}
	if st, code := submit(`{"kind":"probe"}`, "once"); st != 202 || code != "replayed" {
		t.Fatalf("replay: %d %s", st, code)
	}
	if st, code := submit(`{"kind":`, ""); st != 400 {
		t.Fatalf("broken body: %d %s", st, code)
	}
	if j, b := usage(); j != 1 || b != 0 {
		t.Fatalf("after one probe, a replay and a broken body: %d jobs, %d bytes", j, b)
	}
	// Concurrent repeats of one idempotency key: those that created a record before
	// the first bound the key withdraw it (or found no room in flight while they
	// raced); one job is new, and one is counted.
	var wg sync.WaitGroup
	results := make(chan string, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, code := submit(`{"kind":"probe"}`, "burst")
			results <- fmt.Sprint(st, " ", code)
		}()
	}
	wg.Wait()
	close(results)
	fresh := 0
	for r := range results {
		switch r {
		case "202 ":
			fresh++
		case "202 replayed", "429 QUOTA_EXCEEDED":
		default:
			t.Fatalf("a concurrent repeat: %s", r)
		}
	}
	if j, _ := usage(); fresh != 1 || j != 2 {
		t.Fatalf("16 concurrent repeats: %d new jobs, usage %d jobs (want 1, 2)", fresh, j)
	}

	src, err := os.ReadFile(filepath.Join(fixtures.Dir(), "faces", "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.ReadFile(filepath.Join(fixtures.Dir(), "faces", "grace_hopper.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	image := `{"source": {"base64": "` + base64.StdEncoding.EncodeToString(src) + `"}, "target": {"base64": "` + base64.StdEncoding.EncodeToString(dst) + `"}}`
	if st, code := submit(image, ""); st != 202 {
		t.Fatalf("image job: %d %s", st, code)
	}
	if st, code := submit(image, ""); st != 429 || code != "QUOTA_EXCEEDED" {
		t.Fatalf("4th job in flight: %d %s", st, code)
	}
	if j, b := usage(); j != 3 || b != int64(len(src)+len(dst)) {
		t.Fatalf("after 3 jobs and a refused one: %d jobs, %d bytes (want 3, %d)", j, b, len(src)+len(dst))
	}
}
