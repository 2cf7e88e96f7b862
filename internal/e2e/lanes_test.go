package e2e

import (
	"fmt"
	"io"
	"testing"
	"time"

	swapdstack "github.com/swapd/swapd/internal/stack"
	"github.com/swapd/swapd/pkg/apikeys"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// TestBacklogDoesNotStarveOtherKeys: one key queues 60 jobs, then another key 3, and
// a single worker with one task slot starts. The second key's jobs do not wait behind
// the whole backlog: swap tasks are spread over lanes by key and the worker takes
// from the lanes in turn, so they end while most of the first key's jobs still wait.
// (With one FIFO queue all 60 ran first.)
func TestBacklogDoesNotStarveOtherKeys(t *testing.T) {
	// Two keys in different lanes (a lane is a hash of the key's id).
	heavy, light := "sk_lanes_heavy", ""
	for i := 0; light == ""; i++ {
		k := fmt.Sprintf("sk_lanes_light_%d", i)
		if tasks.SwapQueue(apikeys.ID(k)) != tasks.SwapQueue(apikeys.ID(heavy)) {
			light = k
		}
	}
	s, err := swapdstack.Start(map[string]string{
		swapdstack.NoWorker: "1",
		"SWAPD_API_KEYS":    heavy + "," + light,
		"SWAPD_S3_BUCKET":   "swapd-lanes",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	as := func(key string) *stack {
		return &stack{URL: s.URL, Key: key, Admin: s.Admin, Secret: s.Secret, env: s.Env}
	}
	h, l := as(heavy), as(light)

	var backlog, few []string
	for range 60 {
		backlog = append(backlog, probe(t, h, ""))
	}
	for range 3 {
		few = append(few, probe(t, l, ""))
	}
	stop := s.StartWorker(map[string]string{"SWAPD_CONCURRENCY": "1"})
	defer stop()
	// The order the records say the jobs ended in (one slot: one at a time), not
	// what a poll sees when: how many of the backlog ended before the other key's last.
	var lastFew time.Time
	for _, id := range few {
		if j := l.waitStatus(t, id, jobs.Succeeded); j.FinishedAt.After(lastFew) {
			lastFew = *j.FinishedAt
		}
	}
	before := 0
	for _, id := range backlog {
		deadline := time.Now().Add(60 * time.Second)
		j := h.get(t, id)
		for !j.Status.Terminal() {
			if time.Now().After(deadline) {
				t.Fatalf("backlog job %s did not end", id)
			}
			time.Sleep(50 * time.Millisecond)
			j = h.get(t, id)
		}
		if j.FinishedAt.Before(lastFew) {
			before++
		}
	}
	// With two lanes in use each task taken is the other key's one time in two, so its
	// 3 jobs end after about 3 of the backlog's; one FIFO queue ran all 60 first.
	if before > 30 {
		t.Fatalf("%d of the first key's 60 jobs ended before the second key's 3 had", before)
	}
	t.Logf("%d of the first key's 60 jobs ended before the second key's 3 had", before)
}
