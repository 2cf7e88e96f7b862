package e2e

import (
	"context"
	"encoding/base64"
	"io"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	swapdstack "github.com/swapd/swapd/internal/stack"
	"github.com/swapd/swapd/pkg/jobs"
)

// A fleet of two worker configurations: one with an occluder (xseg_1), one
// without. Jobs with an occlusion mask must all reach the worker that has the
// model (the API routes them to its profile's queue): without routing, the other
// worker would take about half of them and fail them with UNSUPPORTED_OPTION.
// Jobs that need nothing special run on either.
func TestJobsReachAWorkerWithTheirModel(t *testing.T) {
	s, err := swapdstack.Start(map[string]string{
		swapdstack.NoWorker: "1",
		"SWAPD_S3_BUCKET":   "swapd-routing",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	plain := s.StartWorker(map[string]string{"SWAPD_OCCLUDER_MODELS": "", "SWAPD_CONCURRENCY": "2"})
	defer plain()
	masked := s.StartWorker(map[string]string{"SWAPD_CONCURRENCY": "1"})
	defer masked()

	// Both workers have published their profiles before anything is submitted.
	opt, err := redis.ParseURL(s.Env["SWAPD_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p, err := jobs.LiveProfiles(context.Background(), rdb, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d worker profiles published, want 2", len(p))
		}
		time.Sleep(100 * time.Millisecond)
	}

	c := &stack{URL: s.URL, Key: s.Key, Admin: s.Admin, Secret: s.Secret, env: s.Env}
	source := base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))
	target := base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))
	submit := func(opts map[string]any) string {
		var j created
		body := map[string]any{"source": map[string]string{"base64": source}, "target": map[string]string{"base64": target}, "options": opts}
		if resp := c.postJSON(t, "/v1/jobs", body, &j); resp.StatusCode != 202 {
			t.Fatalf("%v: submit %d", opts, resp.StatusCode)
		}
		return j.ID
	}
	var occluded, ordinary []string
	for range 8 {
		occluded = append(occluded, submit(map[string]any{"mask_types": []string{"box", "occlusion"}}))
		ordinary = append(ordinary, submit(map[string]any{}))
	}
	for _, id := range occluded {
		if j := c.waitStatus(t, id, jobs.Succeeded, jobs.Failed); j.Status != jobs.Succeeded {
			t.Errorf("occlusion job %s: %s %+v (reached the worker without the occluder?)", id, j.Status, j.Error)
		}
	}
	for _, id := range ordinary {
		if j := c.waitStatus(t, id, jobs.Succeeded, jobs.Failed); j.Status != jobs.Succeeded {
			t.Errorf("plain job %s: %s %+v", id, j.Status, j.Error)
		}
	}
}
