package tasks

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/pkg/jobs"
)

// TestReaperMovesTasksOutOfOldLanes: tasks an older API enqueued in its lanes
// ("swap-3", no longer served) move to the queue their job belongs to now, the
// lane is forgotten once empty, and a task of an ended job is dropped. A task
// still active in a lane (an older worker running it) keeps its lane, and the
// running job is not mistaken for one without a task.
func TestReaperMovesTasksOutOfOldLanes(t *testing.T) {
	ctx := context.Background()
	r, store, queue, insp, rdb := newReaper(t)

	inLane := func(id, lane string, opts ...asynq.Option) {
		t.Helper()
		if err := store.Create(ctx, &jobs.Job{ID: id, Owner: "o", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		task, _ := NewSwapTask(id)
		if _, err := queue.Enqueue(task, append([]asynq.Option{asynq.Queue(lane)}, opts...)...); err != nil {
			t.Fatal(err)
		}
	}
	inLane("pending", "swap-3")
	inLane("later", "swap-3", asynq.ProcessIn(time.Hour))
	inLane("ended", "swap-3")
	if _, err := store.Start(ctx, "ended"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Succeed(ctx, "ended", &jobs.Output{Key: "k"}, nil); err != nil {
		t.Fatal(err)
	}
	// A task an older worker is running: its own server takes it from the lane.
	inLane("active", "swap-5")
	old := asynq.NewServerFromRedisClient(rdb, asynq.Config{Queues: map[string]int{"swap-5": 1}, Concurrency: 1,
		TaskCheckInterval: 10 * time.Millisecond, Logger: quietLogger{}})
	started, release := make(chan struct{}), make(chan struct{})
	if err := old.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		close(started)
		<-release
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	defer old.Shutdown()
	defer close(release)
	<-started
	if _, err := store.Start(ctx, "active"); err != nil {
		t.Fatal(err)
	}

	rep, err := r.Sweep(ctx)
	if err != nil || rep != (Repairs{Moved: 2}) {
		t.Fatalf("sweep: %+v err %v", rep, err)
	}
	for _, id := range []string{"pending", "later"} {
		if info, err := insp.GetTaskInfo(QueueSwap, id); err != nil || info.State != asynq.TaskStatePending {
			t.Fatalf("%s after the sweep: %+v %v", id, info, err)
		}
	}
	if _, err := insp.GetTaskInfo(QueueSwap, "ended"); err == nil {
		t.Fatal("the ended job's task was moved")
	}
	qs, err := insp.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(qs, "swap-3") || !slices.Contains(qs, "swap-5") {
		t.Fatalf("queues after the sweep: %v (want swap-3 forgotten, swap-5 kept)", qs)
	}
	if j, _ := store.Get(ctx, "active"); j.Status != jobs.Running {
		t.Fatalf("the job running from an old lane is %s", j.Status)
	}
	if rep, err := r.Sweep(ctx); err != nil || rep.total() != 0 {
		t.Fatalf("second sweep: %+v %v", rep, err)
	}
}

type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(...any) {}
