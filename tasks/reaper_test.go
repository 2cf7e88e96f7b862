package tasks

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
)

// newReaper returns a Reaper that looks at every record (no grace) on a Redis of
// its own, with the store, queue client and inspector it uses.
func newReaper(t *testing.T) (*Reaper, *jobs.Store, *asynq.Client, *asynq.Inspector, *redis.Client) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	store := jobs.NewStore(rdb, time.Hour)
	queue := asynq.NewClientFromRedisClient(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	r := &Reaper{Jobs: store, Inspector: insp, Queue: queue, Redis: rdb, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Notifier: &Notifier{Client: queue, Jobs: store}, Grace: time.Nanosecond}
	return r, store, queue, insp, rdb
}

func TestReaperRepairsLostTasks(t *testing.T) {
	ctx := context.Background()
	r, store, queue, insp, _ := newReaper(t)

	running := func(id string) {
		t.Helper()
		if err := store.Create(ctx, &jobs.Job{ID: id, Owner: "o", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	enqueue := func(id string) {
		t.Helper()
		task, _ := NewSwapTask(id)
		if _, err := queue.Enqueue(task); err != nil {
			t.Fatal(err)
		}
	}
	running("lost")     // the record runs, the task is gone
	running("archived") // asynq archived the task after lost workers
	enqueue("archived")
	if err := insp.ArchiveTask(QueueSwap, "archived"); err != nil {
		t.Fatal(err)
	}
	running("healthy") // a task asynq still holds
	enqueue("healthy")
	if err := store.Create(ctx, &jobs.Job{ID: "queued", Owner: "o", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err) // queued, but its task never made it into Redis
	}
	if err := store.Create(ctx, &jobs.Job{ID: "queued-ok", Owner: "o", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	enqueue("queued-ok") // queued with its task: left alone
	// Ended with a webhook, but Redis failed before the webhook task was enqueued.
	hooked := &jobs.Job{ID: "hooked", Owner: "o", CreatedAt: time.Now(), Webhook: &jobs.Webhook{URL: "https://example.com/hook"}}
	if err := store.Create(ctx, hooked); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Start(ctx, "hooked"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Succeed(ctx, "hooked", &jobs.Output{Key: "jobs/hooked/output.jpg"}, nil); err != nil {
		t.Fatal(err)
	}

	rep, err := r.Sweep(ctx)
	if err != nil || rep != (Repairs{Requeued: 1, Failed: 1, Enqueued: 1, Notified: 1}) {
		t.Fatalf("first sweep: %+v err %v", rep, err)
	}
	if info, err := insp.GetTaskInfo(QueueSwap, "queued"); err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("queued job's task: %+v %v", info, err)
	}
	hookTasks, err := insp.ListPendingTasks(QueueWebhooks)
	if err != nil || len(hookTasks) != 1 {
		t.Fatalf("webhook tasks after the sweep: %d %v", len(hookTasks), err)
	}
	if j, _ := store.Get(ctx, "lost"); j.Status != jobs.Queued {
		t.Fatalf("lost job is %s", j.Status)
	}
	if info, err := insp.GetTaskInfo(QueueSwap, "lost"); err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("lost job's task: %+v %v", info, err)
	}
	if j, _ := store.Get(ctx, "archived"); j.Status != jobs.Failed || j.Error.Code != "UNAVAILABLE" {
		t.Fatalf("archived job: %s %+v", j.Status, j.Error)
	}
	if j, _ := store.Get(ctx, "healthy"); j.Status != jobs.Running {
		t.Fatalf("healthy job touched: %s", j.Status)
	}
	// Nothing left to repair: a second sweep changes nothing.
	if rep, err := r.Sweep(ctx); err != nil || rep.total() != 0 {
		t.Fatalf("second sweep: %+v %v", rep, err)
	}
	// The webhook sent once is not enqueued again by a later sweep, even if the
	// delivered task is gone from Redis.
	_ = insp.DeleteTask(QueueWebhooks, hookTasks[0].ID)
	_ = store.SetWebhookStatus(ctx, "hooked", "delivered")
	if rep, err := r.Sweep(ctx); err != nil || rep.total() != 0 {
		t.Fatalf("sweep after delivery: %+v %v", rep, err)
	}
	// A recent attempt is left alone whatever asynq says.
	r.Grace = time.Hour
	running("recent")
	if rep, _ := r.Sweep(ctx); rep.total() != 0 {
		t.Fatal("the reaper touched an attempt inside its grace period")
	}
}
