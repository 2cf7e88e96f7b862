package jobs_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

// TakeStream hands each progress report out once: per value, per retry, and to one of
// several concurrent callers.
func TestTakeStreamHandsProgressOutOnce(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	j := newJob("0190c5d2-8f1e-7a4b-9c3d-000000000001")
	if err := s.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	take := func(wantFresh bool, want jobs.Progress) {
		t.Helper()
		got, fresh, err := s.TakeStream(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if fresh != wantFresh || got.Progress != want {
			t.Fatalf("fresh %v progress %+v, want %v %+v", fresh, got.Progress, wantFresh, want)
		}
	}
	take(false, jobs.Progress{}) // queued, no progress: nothing to hand out
	if _, err := s.Start(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	take(false, jobs.Progress{})
	p1 := jobs.Progress{Done: 1, Total: 3}
	if err := s.SetProgress(ctx, j.ID, p1); err != nil {
		t.Fatal(err)
	}
	take(true, p1)
	take(false, p1)

	// Ten callers race for the next report: exactly one gets it.
	p2 := jobs.Progress{Done: 2, Total: 3}
	if err := s.SetProgress(ctx, j.ID, p2); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var winners atomic.Int32
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, fresh, err := s.TakeStream(ctx, j.ID); err == nil && fresh {
				winners.Add(1)
			}
		}()
	}
	wg.Wait()
	if winners.Load() != 1 {
		t.Fatalf("%d callers got the same report", winners.Load())
	}

	// The last report of an ended job is handed out once, then never again.
	if _, err := s.Fail(ctx, j.ID, errcode.New(errcode.Internal, "boom")); err != nil {
		t.Fatal(err)
	}
	take(false, p2)
	// The cursor expires with the record.
	if ttl := rdb.PTTL(ctx, "swapd:job:"+j.ID+":stream").Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("cursor ttl %v", ttl)
	}

	// A retried job streams again from the start, even the same values.
	if err := s.Retry(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProgress(ctx, j.ID, p2); err != nil {
		t.Fatal(err)
	}
	take(true, p2)
	take(false, p2)

	if _, _, err := s.TakeStream(ctx, "0190c5d2-8f1e-7a4b-9c3d-00000000ffff"); errcode.Code(err) != errcode.NotFound {
		t.Fatalf("absent job: %v", err)
	}
}
