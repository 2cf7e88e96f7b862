package jobs_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

func newStore(t *testing.T) (*jobs.Store, *redis.Client) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	return jobs.NewStore(rdb, time.Hour), rdb
}

func newJob(id string) *jobs.Job {
	blur := 0.2
	return &jobs.Job{
		ID: id, CreatedAt: time.Now().UTC(),
		Sources: []jobs.Input{{Key: "uploads/a", ContentType: "image/png", Size: 10}},
		Target:  jobs.Input{URL: "https://example.com/t.jpg"},
		Options: jobs.Options{FaceSelector: "many", MaskBlur: &blur},
		Webhook: &jobs.Webhook{URL: "https://example.com/hook"},
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.Create(ctx, newJob("j1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, newJob("j1")); errcode.Code(err) != errcode.Conflict {
		t.Fatalf("second create: %v, want CONFLICT", err)
	}
	j, err := s.Get(ctx, "j1")
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != jobs.Queued || j.Options.FaceSelector != "many" || *j.Options.MaskBlur != 0.2 || j.Webhook.Status != "pending" {
		t.Fatalf("round trip lost data: %+v", j)
	}
	if _, err := s.Start(ctx, "j1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProgress(ctx, "j1", jobs.Progress{Done: 2, Total: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Succeed(ctx, "j1", &jobs.Output{Key: "jobs/j1/output.jpg", ContentType: "image/jpeg", Size: 99, Faces: 1}, map[string]float64{"swap": 0.5}); err != nil {
		t.Fatal(err)
	}
	j, _ = s.Get(ctx, "j1")
	if j.Status != jobs.Succeeded || j.Attempts != 1 || j.Progress != (jobs.Progress{2, 5}) || j.Output.Size != 99 || j.Stages["swap"] != 0.5 || j.StartedAt == nil || j.FinishedAt == nil {
		t.Fatalf("after success: %+v", j)
	}
	if ttl, _ := s.TTL(ctx, "j1"); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("terminal record TTL = %v, want (0, 1h]", ttl)
	}
	// A re-delivered task must not run a finished job again.
	_, err = s.Start(ctx, "j1")
	var te *jobs.TransitionError
	if !errors.As(err, &te) || te.Current != jobs.Succeeded {
		t.Fatalf("start of succeeded job: %v", err)
	}
	if _, err := s.Cancel(ctx, "j1"); !errors.Is(err, jobs.ErrTransition) {
		t.Fatalf("cancel of succeeded job: %v", err)
	}
}

func TestRedeliveryCountsAttempts(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	_ = s.Create(ctx, newJob("j2"))
	for i := 0; i < 2; i++ {
		if _, err := s.Start(ctx, "j2"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Requeue(ctx, "j2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, "j2"); err != nil {
		t.Fatal(err)
	}
	j, _ := s.Get(ctx, "j2")
	if j.Attempts != 3 || j.Status != jobs.Running {
		t.Fatalf("attempts %d status %s, want 3 running", j.Attempts, j.Status)
	}
	if ttl, _ := s.TTL(ctx, "j2"); ttl != -1 {
		t.Fatalf("live record has TTL %v", ttl)
	}
}

func TestCancelStopsEverything(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	_ = s.Create(ctx, newJob("j3"))
	_, _ = s.Start(ctx, "j3")
	prev, err := s.Cancel(ctx, "j3")
	if err != nil || prev != jobs.Running {
		t.Fatalf("cancel: %v, %v", prev, err)
	}
	if _, err := s.Succeed(ctx, "j3", nil, nil); !errors.Is(err, jobs.ErrTransition) {
		t.Fatalf("success after cancel: %v", err)
	}
	if _, err := s.Fail(ctx, "j3", errcode.New(errcode.Internal, "x")); !errors.Is(err, jobs.ErrTransition) {
		t.Fatalf("fail after cancel: %v", err)
	}
	if err := s.SetProgress(ctx, "j3", jobs.Progress{Done: 1, Total: 2}); !errors.Is(err, jobs.ErrTransition) {
		t.Fatalf("progress after cancel: %v", err)
	}
	if st, _ := s.Status(ctx, "j3"); st != jobs.Canceled {
		t.Fatalf("status %s", st)
	}
}

func TestFailRecordsError(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	_ = s.Create(ctx, newJob("j4"))
	_, _ = s.Start(ctx, "j4")
	if _, err := s.Fail(ctx, "j4", errcode.New(errcode.NoFaceInSource, "no face")); err != nil {
		t.Fatal(err)
	}
	j, _ := s.Get(ctx, "j4")
	if j.Status != jobs.Failed || j.Error == nil || j.Error.Code != errcode.NoFaceInSource {
		t.Fatalf("%+v", j)
	}
}

func TestMissingJob(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	if _, err := s.Get(ctx, "nope"); errcode.Code(err) != errcode.NotFound {
		t.Fatalf("get: %v", err)
	}
	if _, err := s.Start(ctx, "nope"); errcode.Code(err) != errcode.NotFound {
		t.Fatalf("start: %v", err)
	}
	// A late webhook status update must not create a record without a status.
	if err := s.SetWebhookStatus(ctx, "nope", "delivered"); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, "swapd:job:nope").Result(); n != 0 {
		t.Fatal("SetWebhookStatus resurrected a deleted job")
	}
}

// Start, Succeed and Fail return the record as the change left it, so the worker needs
// no second read; an ended job with a webhook is owed it until MarkDelivered.
func TestTransitionsReturnTheRecord(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, id := range []string{"r1", "r2"} {
		if err := s.Create(ctx, newJob(id)); err != nil {
			t.Fatal(err)
		}
	}
	j, err := s.Start(ctx, "r1")
	if err != nil || j == nil || j.ID != "r1" || j.Status != jobs.Running || j.Attempts != 1 || j.StartedAt == nil || j.Options.FaceSelector != "many" {
		t.Fatalf("Start returned %+v, %v", j, err)
	}
	j, err = s.Succeed(ctx, "r1", nil, map[string]float64{"wait_slot": 0.001})
	if err != nil || j.Status != jobs.Succeeded || j.FinishedAt == nil || j.Webhook == nil || j.Webhook.Status != "pending" || j.Stages["wait_slot"] != 0.001 {
		t.Fatalf("Succeed returned %+v, %v", j, err)
	}
	// A job that never reported progress (a probe) is done when it succeeds.
	if j.Progress != (jobs.Progress{Done: 1, Total: 1}) {
		t.Fatalf("progress after success without any: %+v, want 1/1", j.Progress)
	}
	if _, err := s.Start(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProgress(ctx, "r2", jobs.Progress{Done: 3, Total: 9}); err != nil {
		t.Fatal(err)
	}
	j, err = s.Fail(ctx, "r2", errcode.New(errcode.NoFaceInTarget, "no face"))
	if err != nil || j.Status != jobs.Failed || j.Error == nil || j.Error.Code != errcode.NoFaceInTarget || j.Progress != (jobs.Progress{Done: 3, Total: 9}) {
		t.Fatalf("Fail returned %+v, %v", j, err)
	}
	owed := func() []string {
		ids, err := s.UnnotifiedSince(ctx, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := owed(); len(got) != 2 {
		t.Fatalf("jobs owed a webhook: %v, want r1 and r2", got)
	}
	if err := s.MarkDelivered(ctx, "r1", "msg_r1"); err != nil {
		t.Fatal(err)
	}
	if got := owed(); len(got) != 1 || got[0] != "r2" {
		t.Fatalf("jobs owed a webhook after r1's delivery: %v, want r2", got)
	}
	if j, _ := s.Get(ctx, "r1"); j.Webhook.Status != "delivered" {
		t.Fatalf("r1's webhook %+v after MarkDelivered", j.Webhook)
	}
}

// TestFairShareMarksBacklog: an owner's jobs beyond its FairShare in flight are
// marked Backlog, in the record too; another owner's first job is not, and an
// owner whose jobs end is below its share again.
func TestFairShareMarksBacklog(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	s.FairShare = 2
	create := func(id, owner string) *jobs.Job {
		t.Helper()
		j := &jobs.Job{ID: id, Owner: owner, CreatedAt: time.Now()}
		if err := s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	var got []bool
	for _, id := range []string{"a1", "a2", "a3", "a4"} {
		got = append(got, create(id, "a").Backlog)
	}
	if !slices.Equal(got, []bool{false, false, true, true}) {
		t.Fatalf("backlog of a's jobs: %v", got)
	}
	if j, err := s.Get(ctx, "a3"); err != nil || !j.Backlog {
		t.Fatalf("a3 read back: %+v %v", j, err)
	}
	if j, err := s.Get(ctx, "a1"); err != nil || j.Backlog {
		t.Fatalf("a1 read back: %+v %v", j, err)
	}
	if create("b1", "b").Backlog {
		t.Fatal("another owner's first job is backlog")
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		if _, err := s.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Succeed(ctx, id, &jobs.Output{Key: "k"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if create("a5", "a").Backlog { // a4 alone in flight: under the share
		t.Fatal("a5 is backlog with one job in flight")
	}
}
