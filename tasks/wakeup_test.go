package tasks

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
)

// dequeueCounter counts asynq's dequeues of a swap queue as they reach Redis, and
// those that found nothing. Added after the Wakeup's hook, it sees each dequeue the
// Wakeup sends.
type dequeueCounter struct {
	queue       string
	sent, empty atomic.Int64
}

func (c *dequeueCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *dequeueCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (c *dequeueCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		q, ok := dequeuedQueue(cmd)
		if !ok || q != c.queue {
			return next(ctx, cmd)
		}
		err := next(ctx, cmd)
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			return err // go-redis sends the script itself next (EVAL): one dequeue
		}
		c.sent.Add(1)
		if errors.Is(err, redis.Nil) {
			c.empty.Add(1)
		}
		return err
	}
}

// wakeupServer starts a one-slot asynq server on queue whose dequeues go through a
// Wakeup holding them for wait, and which sleeps poll after an empty answer. It
// returns the dequeue counter and a channel that receives the job id of each swap or
// webhook task run.
func wakeupServer(t *testing.T, addr, queue string, wait, poll time.Duration) (*dequeueCounter, <-chan string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sub := redis.NewClient(&redis.Options{Addr: addr})
	w := NewWakeup(sub, wait)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	counter := &dequeueCounter{queue: queue}
	rdb.AddHook(w.Hook())
	rdb.AddHook(counter)
	ran := make(chan string, 16)
	mux := asynq.NewServeMux()
	run := func(ctx context.Context, task *asynq.Task) error {
		var p struct {
			JobID string `json:"job_id"`
		}
		if err := decodePayload(task, &p); err != nil {
			return err
		}
		ran <- p.JobID
		return nil
	}
	mux.HandleFunc(TypeSwap, run)
	mux.HandleFunc(TypeWebhook, run)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 1, Queues: map[string]int{queue: 1}, TaskCheckInterval: poll, Logger: quietLogger{}})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel() // first: held dequeues answer, so the shutdown is not kept waiting
		<-done
		srv.Shutdown()
		rdb.Close()
		sub.Close()
	})
	waitFor(t, "the wake-up subscription", func() bool {
		n, err := sub.PubSubNumSub(context.Background(), WakeChannel).Result()
		return err == nil && n[WakeChannel] == 1
	})
	return counter, ran
}

// heldWhileIdle checks that the server's first dequeue found nothing and is held: no
// second one is sent in a second, five times the poll wakeupServer is given in the
// tests that call it (a hook that no longer recognised asynq's dequeue would send five).
func heldWhileIdle(t *testing.T, counter *dequeueCounter) {
	t.Helper()
	waitFor(t, "first empty dequeue", func() bool { return counter.empty.Load() == 1 })
	time.Sleep(time.Second)
	if n := counter.sent.Load(); n != 1 {
		t.Fatalf("%d dequeues sent while idle, want 1 held", n)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 20 s", what)
		}
	}
}

func ranJob(t *testing.T, ran <-chan string, want string) {
	t.Helper()
	select {
	case id := <-ran:
		if id != want {
			t.Fatalf("ran job %s, want %s", id, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("job %s did not run in 20 s", want)
	}
}

// TestWakeupTakesATaskAtOnce runs asynq's own server with a Wakeup that holds an
// empty dequeue for an hour, and a poll of 200 ms: the first dequeue is held (a
// second is not sent in the time five polls would take; it would be if the hook no
// longer recognised asynq's dequeue), so a job EnqueueSwap queues can only run
// because its wake-up message made the held dequeue ask again: the dequeue after the
// empty one takes it, and the next one is held again.
func TestWakeupTakesATaskAtOnce(t *testing.T) {
	addr := testenv.Redis(t)
	counter, ran := wakeupServer(t, addr, QueueSwap, time.Hour, 200*time.Millisecond)
	heldWhileIdle(t, counter)

	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	for i, backlog := range []bool{false, true} { // moved to the front (the script publishes), and not
		id := []string{"job-fair", "job-backlog"}[i]
		if err := EnqueueSwap(context.Background(), client, rdb, &jobs.Job{ID: id, Backlog: backlog}); err != nil {
			t.Fatal(err)
		}
		ranJob(t, ran, id)
		// After each job, one dequeue that found it and then one held empty again.
		waitFor(t, "the next held dequeue", func() bool { return counter.empty.Load() == int64(i+2) })
		if got, want := counter.sent.Load(), int64(2*i+3); got != want {
			t.Fatalf("after job %d: %d dequeues sent, want %d", i+1, got, want)
		}
	}
}

// TestWakeupWebhookTask: a webhook task due at once (the API's cancel event, a hand-off
// from a direct attempt, batch.completed) wakes the webhook queue's held dequeue, as
// EnqueueSwap does the swap queue's.
func TestWakeupWebhookTask(t *testing.T) {
	addr := testenv.Redis(t)
	counter, ran := wakeupServer(t, addr, QueueWebhooks, time.Hour, 200*time.Millisecond)
	heldWhileIdle(t, counter)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	n := &Notifier{Client: asynq.NewClientFromRedisClient(rdb), Redis: rdb, Jobs: jobs.NewStore(rdb, time.Hour), MaxRetry: 3}
	p := WebhookPayload{JobID: "job-canceled", EventID: "msg_wakeup", Type: "job.canceled", URL: "https://example.com/hook"}
	if err := n.enqueue(context.Background(), p, time.Time{}); err != nil {
		t.Fatal(err)
	}
	ranJob(t, ran, "job-canceled")
	waitFor(t, "the next held dequeue", func() bool { return counter.empty.Load() == 2 })
	if got := counter.sent.Load(); got != 3 {
		t.Fatalf("%d dequeues sent, want 3 (empty, the woken one that took the task, held)", got)
	}
}

// TestWakeupWithoutMessage: a task queued without a message (as asynq's forwarder
// moves retries in) is taken by the next dequeue after the wait, and a wake-up
// subscription that Redis dropped comes back by itself.
func TestWakeupWithoutMessage(t *testing.T) {
	addr := testenv.Redis(t)
	_, ran := wakeupServer(t, addr, QueueSwap, 100*time.Millisecond, 10*time.Millisecond)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	task, err := NewSwapTask("job-quiet")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	ranJob(t, ran, "job-quiet")

	ctx := context.Background()
	if err := rdb.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the subscription back", func() bool {
		n, err := rdb.PubSubNumSub(ctx, WakeChannel).Result()
		return err == nil && n[WakeChannel] == 1
	})
	if err := EnqueueSwap(ctx, client, rdb, &jobs.Job{ID: "job-after-kill"}); err != nil {
		t.Fatal(err)
	}
	ranJob(t, ran, "job-after-kill")
}

// TestWakeupDequeueNoLostMessage: a message that arrives after the dequeue ran but
// before the wait began (the run below delivers it itself) is not lost: the dequeue is
// asked again at once, not after Wait. When the Wakeup stops, a held dequeue answers.
func TestWakeupDequeueNoLostMessage(t *testing.T) {
	w := NewWakeup(nil, 5*time.Second) // a lost message: redis.Nil after 5 s
	runs := 0
	err := w.dequeue(context.Background(), QueueSwap, func() error {
		if runs++; runs == 1 {
			w.wake("other-queue") // not this queue's: changes nothing
			w.wake(QueueSwap)
			return redis.Nil
		}
		return nil // the task
	})
	if err != nil || runs != 2 {
		t.Fatalf("dequeue = %v after %d runs, want a task after 2", err, runs)
	}

	close(w.done) // as when Run ends
	runs = 0
	err = w.dequeue(context.Background(), QueueSwap, func() error { runs++; return redis.Nil })
	if !errors.Is(err, redis.Nil) || runs != 1 {
		t.Fatalf("stopped Wakeup: dequeue = %v after %d runs, want redis.Nil after 1", err, runs)
	}
}

// TestDequeuedQueue: only asynq's dequeue script is recognised, by its four keys.
func TestDequeuedQueue(t *testing.T) {
	ctx := context.Background()
	dequeue := func(name, q string) redis.Cmder {
		p := "asynq:{" + q + "}:"
		return redis.NewCmd(ctx, name, "sha", 4, p+"pending", p+"paused", p+"active", p+"lease", 1700000000, p+"t:")
	}
	for _, c := range []struct {
		cmd   redis.Cmder
		queue string
	}{
		{dequeue("evalsha", "swap"), "swap"},
		{dequeue("eval", "swap-pabc"), "swap-pabc"},
		{dequeue("get", "swap"), ""},
		{redis.NewCmd(ctx, "evalsha", "sha", 4, "asynq:{swap}:pending", "asynq:{swap}:archived", "asynq:{swap}:active", "asynq:{swap}:lease", 1, "x"), ""},
		{redis.NewCmd(ctx, "evalsha", "sha", 2, "asynq:{swap}:scheduled", "asynq:{swap}:pending", 1, "x"), ""},
		{redis.NewCmd(ctx, "get", "asynq:{swap}:pending"), ""},
	} {
		q, ok := dequeuedQueue(c.cmd)
		if q != c.queue || ok != (c.queue != "") {
			t.Errorf("dequeuedQueue(%v) = %q, %v; want %q", c.cmd.Args(), q, ok, c.queue)
		}
	}
}
