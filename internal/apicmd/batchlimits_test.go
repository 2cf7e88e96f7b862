package apicmd

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/swapd/swapd/internal/testenv"
)

// TestBatchLimits: a batch counts each item as a job, whole or not at all. With
// max_in_flight 3 and daily_jobs 5, a batch of 4 is refused QUOTA_EXCEEDED with nothing
// counted or queued; a batch of 3 is accepted (3 in flight, 3 jobs today); canceling it
// frees the places; a next batch of 3 would pass the daily quota and is refused whole;
// one of 2 fits. The API runs alone (no worker), so accepted items stay queued.
func TestBatchLimits(t *testing.T) {
	redisAddr := testenv.Redis(t)
	minio := testenv.MinIO(t)
	url := startAPI(t, writeKeys(t, `
defaults: {requests_per_minute: 0}
keys:
  - {name: batcher, role: tenant, secret: sk_batch_key, limits: {max_in_flight: 3, daily_jobs: 5}}
`), redisAddr, minio, "batchlimits")

	call := func(method, path, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk_batch_key")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
			}
		}
		return resp.StatusCode
	}
	batch := func(n int) string {
		targets := make([]string, n)
		for i := range targets {
			targets[i] = fmt.Sprintf(`{"url": "https://example.com/t%d.jpg"}`, i)
		}
		return `{"source": {"url": "https://example.com/s.jpg"}, "targets": [` + strings.Join(targets, ",") + `]}`
	}
	type errBody struct {
		Error struct{ Code string } `json:"error"`
	}
	usage := func() (inFlight, today int64) {
		var u struct {
			InFlight int64 `json:"in_flight"`
			Days     []struct {
				Jobs int64 `json:"jobs"`
			} `json:"days"`
		}
		if st := call("GET", "/v1/usage", "", &u); st != 200 || len(u.Days) == 0 {
			t.Fatalf("usage: %d %+v", st, u)
		}
		return u.InFlight, u.Days[0].Jobs
	}
	check := func(step string, wantInFlight, wantToday int64) {
		t.Helper()
		if f, d := usage(); f != wantInFlight || d != wantToday {
			t.Fatalf("%s: %d in flight, %d jobs today; want %d and %d", step, f, d, wantInFlight, wantToday)
		}
	}

	var e errBody
	if st := call("POST", "/v1/batches", batch(4), &e); st != 429 || e.Error.Code != "QUOTA_EXCEEDED" {
		t.Fatalf("batch of 4 over max_in_flight 3: %d %s", st, e.Error.Code)
	}
	check("refused batch of 4", 0, 0)

	var created struct {
		ID    string   `json:"id"`
		Items []string `json:"items"`
	}
	if st := call("POST", "/v1/batches", batch(3), &created); st != 202 || len(created.Items) != 3 {
		t.Fatalf("batch of 3: %d %+v", st, created)
	}
	check("batch of 3", 3, 3)
	var list struct {
		Jobs []struct{ ID string } `json:"jobs"`
	}
	if st := call("GET", "/v1/jobs", "", &list); st != 200 || len(list.Jobs) != 3 {
		t.Fatalf("the items are not the key's jobs: %d %+v", st, list)
	}

	var v struct {
		Status string         `json:"status"`
		Counts map[string]int `json:"counts"`
	}
	if st := call("POST", "/v1/batches/"+created.ID+"/cancel", "", &v); st != 200 || v.Status != "completed" || v.Counts["canceled"] != 3 || v.Counts["queued"] != 0 {
		t.Fatalf("cancel: %d %+v", st, v)
	}
	check("canceled batch", 0, 3)

	e = errBody{}
	if st := call("POST", "/v1/batches", batch(3), &e); st != 429 || e.Error.Code != "QUOTA_EXCEEDED" {
		t.Fatalf("batch of 3 over the daily quota's last 2: %d %s", st, e.Error.Code)
	}
	check("refused batch over the daily quota", 0, 3)
	if st := call("POST", "/v1/batches", batch(2), nil); st != 202 {
		t.Fatalf("batch of 2 within the daily quota: %d", st)
	}
	check("batch of 2", 2, 5)
}
