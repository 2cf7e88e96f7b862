package e2e

import (
	"io"
	"net/http"
	"testing"
	"time"

	swapdstack "github.com/swapd/swapd/internal/stack"
	"github.com/swapd/swapd/pkg/jobs"
)

// TestStorageOutageDelaysJobs: MinIO is killed (a real process, its data kept) while
// image jobs wait for their inputs, and restarted 20 s later (longer than the three quick retries that used to be all a job got). Every accepted job still
// succeeds, each with exactly one webhook; while storage is down, submits answer 503
// UNAVAILABLE with Retry-After, never 500. (The jobs' retries are counted by elapsed
// time against SWAPD_STORAGE_OUTAGE_BUDGET, not by a count of quick attempts, which
// used to fail half of them within seconds.)
func TestStorageOutageDelaysJobs(t *testing.T) {
	s, err := swapdstack.Start(map[string]string{
		swapdstack.NoWorker:           "1",
		"SWAPD_S3_BUCKET":             "swapd-outage",
		"SWAPD_STORAGE_OUTAGE_BUDGET": "5m",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	c := &stack{URL: s.URL, Key: s.Key, Admin: s.Admin, Secret: s.Secret, env: s.Env}

	rec, hook := receiver(t)
	face, target := b64(readFile(t, "faces/astronaut.png")), b64(readFile(t, "faces/grace_hopper.jpg"))
	const n = 8
	var ids []string
	for range n {
		var cr created
		if resp := c.postJSON(t, "/v1/jobs", map[string]any{
			"source": map[string]string{"base64": face}, "target": map[string]string{"base64": target},
			"webhook": map[string]string{"url": hook}}, &cr); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("submit: %d", resp.StatusCode)
		}
		ids = append(ids, cr.ID)
	}

	s.MinIO.Kill()
	down := time.Now()
	stopWorker := s.StartWorker(nil) // its attempts now fail to fetch their inputs
	defer stopWorker()

	// Submits that need storage are refused with 503 while it is down (once the API's
	// health probe has noticed: the first ones may fail on the request itself, also 503).
	saw503 := 0
	for time.Since(down) < 20*time.Second {
		var e apiError
		resp := c.postJSON(t, "/v1/jobs", map[string]any{
			"source": map[string]string{"base64": face}, "target": map[string]string{"base64": target}}, &e)
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable && e.Error.Code == "UNAVAILABLE" && resp.Header.Get("Retry-After") != "":
			saw503++
		default:
			t.Errorf("submit with storage down: %d %+v (Retry-After %q)", resp.StatusCode, e.Error, resp.Header.Get("Retry-After"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if saw503 == 0 {
		t.Error("no submit was answered 503 while storage was down")
	}
	for _, id := range ids {
		if j := c.get(t, id); j.Status.Terminal() {
			t.Fatalf("job %s ended during the outage: %s %+v", id, j.Status, j.Error)
		}
	}
	if err := s.MinIO.Restart(); err != nil {
		t.Fatal(err)
	}

	for _, id := range ids {
		deadline := time.Now().Add(90 * time.Second)
		for {
			j := c.get(t, id)
			if j.Status == jobs.Succeeded {
				break
			}
			if j.Status.Terminal() || time.Now().After(deadline) {
				t.Fatalf("job %s after the outage: %s %+v", id, j.Status, j.Error)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	c.waitWebhook(t, rec, n)
	time.Sleep(time.Second) // a duplicate would arrive now
	byID := map[string]int{}
	for _, q := range rec.Requests() {
		byID[q.Header.Get("webhook-id")]++
	}
	if len(rec.Requests()) != n || len(byID) != n {
		t.Fatalf("%d webhooks with %d distinct ids for %d jobs", len(rec.Requests()), len(byID), n)
	}
	t.Logf("storage outage: %d accepted, %d succeeded, 0 lost; %d webhooks, 0 duplicates; %d submits answered 503 during the outage",
		n, n, len(byID), saw503)
}
