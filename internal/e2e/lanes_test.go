package e2e

import (
	"io"
	"testing"
	"time"

	swapdstack "github.com/swapd/swapd/internal/stack"
	"github.com/swapd/swapd/pkg/jobs"
)

// TestBacklogDoesNotStarveOtherKeys: one key queues 60 jobs, then another key 3, and
// a single worker with one task slot starts. The second key's jobs do not wait behind
// the whole backlog: the first key's jobs past its fair share (SWAPD_FAIR_SHARE, 8
// by default) wait at the back of the queue, while every key's jobs within its share
// are moved ahead of them as they come (tasks.moveToFront), every second move letting
// the oldest backlog job in first so the backlog is not starved either: the second
// key's 3 run after the first key's first 8 and 2 of its backlog. (With a plain FIFO
// queue all 60 ran first; with the backlog in a second queue tried one time in three,
// 11-15 did.)
func TestBacklogDoesNotStarveOtherKeys(t *testing.T) {
	heavy, light := "sk_lanes_heavy", "sk_lanes_light"
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
	// The first key's first 8 (moves 1-8, no backlog yet), then the second key's 3
	// (moves 9-11), the 9th and the 11th letting a backlog job in first.
	if before != 10 {
		t.Fatalf("%d of the first key's 60 jobs ended before the second key's 3 had", before)
	}
	t.Logf("%d of the first key's 60 jobs ended before the second key's 3 had", before)
}
