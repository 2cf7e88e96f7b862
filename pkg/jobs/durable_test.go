package jobs_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

// Withdraw (a submit answered 503) takes back a queued job with its idempotency key,
// in one step, and leaves a job a worker has started to run once, its key still
// naming it, so a retry with the key is answered with that job.
func TestWithdraw(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	submit := func(id, idem string) *jobs.Job {
		t.Helper()
		j := newJob(id)
		j.Owner = "o"
		if err := s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		if existing, err := s.Remember(ctx, "o", idem, "fp", id); err != nil || existing != "" {
			t.Fatalf("remember: %q %v", existing, err)
		}
		return j
	}

	queued := submit("q1", "key-q")
	if err := s.Withdraw(ctx, queued, "key-q"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "q1"); errcode.Code(err) != errcode.NotFound {
		t.Fatalf("withdrawn queued job: %v, want NOT_FOUND", err)
	}
	if id, err := s.Lookup(ctx, "o", "key-q", "fp"); err != nil || id != "" {
		t.Fatalf("idempotency key of a withdrawn job names %q (%v)", id, err)
	}
	if ids, _ := s.QueuedSince(ctx, time.Now().Add(time.Hour)); slices.Contains(ids, "q1") {
		t.Fatal("withdrawn job still in the queued set (the reaper would enqueue it again)")
	}
	if n, _ := s.InFlight(ctx, "o"); n != 0 {
		t.Fatalf("withdrawn job still counted in flight (%d)", n)
	}
	if err := rdb.ZScore(ctx, "swapd:owner:o:jobs", "q1").Err(); err == nil {
		t.Fatal("withdrawn job still in its owner's index")
	}

	started := submit("r1", "key-r")
	if _, err := s.Start(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Withdraw(ctx, started, "key-r"); err != nil {
		t.Fatal(err)
	}
	if j, err := s.Get(ctx, "r1"); err != nil || j.Status != jobs.Running {
		t.Fatalf("started job after Withdraw: %v %v, want running", j, err)
	}
	if id, err := s.Lookup(ctx, "o", "key-r", "fp"); err != nil || id != "r1" {
		t.Fatalf("idempotency key of a started job names %q (%v), want r1", id, err)
	}

	// The key bound to another job (a concurrent repeat won it) is not touched.
	other := newJob("q2")
	other.Owner = "o"
	if err := s.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := s.Withdraw(ctx, other, "key-r"); err != nil {
		t.Fatal(err)
	}
	if id, _ := s.Lookup(ctx, "o", "key-r", "fp"); id != "r1" {
		t.Fatalf("another job's withdrawal removed the key naming r1 (now %q)", id)
	}
}
