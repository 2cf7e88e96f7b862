package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

func TestPerJobFieldsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	j := newJob("rp-1")
	j.Via, j.Timeout, j.TTL, j.LowPriority = "runpod:files", 5*time.Second, 90*time.Second, true
	if err := s.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "rp-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Via != "runpod:files" || got.Timeout != 5*time.Second || got.TTL != 90*time.Second || !got.LowPriority || got.Retries != 0 {
		t.Fatalf("round trip: %+v", got)
	}
	// The terminal transition keeps the record for the job's own TTL, not the store's hour.
	_, _ = s.Start(ctx, "rp-1")
	if _, err := s.Succeed(ctx, "rp-1", nil, nil); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := s.TTL(ctx, "rp-1"); ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Fatalf("record TTL %v, want the job's 90s", ttl)
	}
	// Without one, the store's default applies as before.
	_ = s.Create(ctx, newJob("rp-2"))
	_, _ = s.Cancel(ctx, "rp-2")
	if ttl, _ := s.TTL(ctx, "rp-2"); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("default record TTL %v", ttl)
	}
}

func TestRetryFailedJob(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	_ = s.Create(ctx, newJob("rp-3"))
	if err := s.Retry(ctx, "rp-3"); !errors.Is(err, jobs.ErrTransition) {
		t.Fatalf("retry of a queued job: %v", err)
	}
	_, _ = s.Start(ctx, "rp-3")
	_ = s.SetProgress(ctx, "rp-3", jobs.Progress{Done: 1, Total: 5})
	if _, err := s.Fail(ctx, "rp-3", errcode.New(errcode.NoFaceInSource, "none")); err != nil {
		t.Fatal(err)
	}
	if err := s.Retry(ctx, "rp-3"); err != nil {
		t.Fatal(err)
	}
	j, _ := s.Get(ctx, "rp-3")
	if j.Status != jobs.Queued || j.Error != nil || j.Output != nil || j.StartedAt != nil || j.FinishedAt != nil ||
		j.Progress != (jobs.Progress{}) || j.Attempts != 1 || j.Retries != 1 || j.Webhook.Status != "pending" {
		t.Fatalf("after retry: %+v", j)
	}
	if ttl, _ := s.TTL(ctx, "rp-3"); ttl != -1 {
		t.Fatalf("a retried (live) record expires in %v", ttl)
	}
	_, _ = s.Start(ctx, "rp-3")
	if j, _ = s.Get(ctx, "rp-3"); j.Attempts != 2 || j.Status != jobs.Running {
		t.Fatalf("second run: %+v", j)
	}
	if err := s.Retry(ctx, "rp-3"); !errors.Is(err, jobs.ErrTransition) {
		t.Fatalf("retry of a running job: %v", err)
	}
	if err := s.Retry(ctx, "rp-none"); errcode.Code(err) != errcode.NotFound {
		t.Fatalf("retry of a missing job: %v", err)
	}
}

func TestCancelQueuedOnly(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	_ = s.Create(ctx, newJob("rp-4"))
	_ = s.Create(ctx, newJob("rp-5"))
	_, _ = s.Start(ctx, "rp-5")
	if err := s.CancelQueued(ctx, "rp-4"); err != nil {
		t.Fatal(err)
	}
	var te *jobs.TransitionError
	if err := s.CancelQueued(ctx, "rp-5"); !errors.As(err, &te) || te.Current != jobs.Running {
		t.Fatalf("cancel of a running job: %v", err)
	}
	if st, _ := s.Status(ctx, "rp-4"); st != jobs.Canceled {
		t.Fatalf("queued job is %s", st)
	}
	if st, _ := s.Status(ctx, "rp-5"); st != jobs.Running {
		t.Fatalf("running job is %s", st)
	}
}
