package tasks

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
)

// TestMoveToFront runs swap tasks through asynq itself (its client, its server with
// one slot): jobs within their owners' fair shares are taken before the backlog, in
// the order they came, even when they came after it, except that every second one
// lets the oldest backlog job in first; once those are taken, the next one goes to
// the front again. A move that finds no task changes nothing.
func TestMoveToFront(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	enqueue := func(id string, backlog bool) {
		t.Helper()
		if err := EnqueueSwap(ctx, client, rdb, &jobs.Job{ID: id, Backlog: backlog}); err != nil {
			t.Fatal(err)
		}
	}
	// drain runs a one-slot worker until n tasks ran, and returns their ids in order.
	drain := func(n int) []string {
		t.Helper()
		var mu sync.Mutex
		var order []string
		done := make(chan struct{})
		srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 1, Queues: SwapQueues, TaskCheckInterval: 10 * time.Millisecond,
			Logger: quietLogger{}})
		mux := asynq.NewServeMux()
		mux.HandleFunc(TypeSwap, func(ctx context.Context, task *asynq.Task) error {
			var p SwapPayload
			if err := decodePayload(task, &p); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if order = append(order, p.JobID); len(order) == n {
				close(done)
			}
			return nil
		})
		if err := srv.Start(mux); err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("ran %v, want %d tasks", order, n)
		}
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(order)
	}

	for _, id := range []string{"b1", "b2", "b3"} {
		enqueue(id, true)
	}
	enqueue("f1", false) // the first: to the front
	enqueue("b4", true)
	for _, id := range []string{"f2", "f3", "f4", "f5"} {
		enqueue(id, false) // behind f1, with b1 let in before f3 and b2 before f5
	}
	if got, want := drain(9), []string{"f1", "f2", "b1", "f3", "f4", "b2", "f5", "b3", "b4"}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	// The fair-share jobs moved before are gone: the next goes to the very front.
	enqueue("b5", true)
	enqueue("b6", true)
	enqueue("f6", false)
	if err := moveToFront(ctx, rdb, QueueSwap, "nope"); err != nil {
		t.Fatal(err)
	}
	if got, want := drain(3), []string{"f6", "b5", "b6"}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
}
