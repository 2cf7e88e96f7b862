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

// dequeueCounter counts asynq's dequeues of a queue, and those that found nothing.
// Added after the Wakeup's hook, it sees each dequeue the Wakeup sends to Redis;
// added before, each answer asynq gets.
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
// returns the counters of dequeues sent to Redis and of answers asynq got, and a
// channel that receives the job id of each swap or webhook task run.
func wakeupServer(t *testing.T, addr, queue string, wait, poll time.Duration) (sent, got *dequeueCounter, ran <-chan string) {
	t.Helper()
	tokens := redis.NewClient(&redis.Options{Addr: addr})
	w := NewWakeup(tokens, wait)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	counter, answers := &dequeueCounter{queue: queue}, &dequeueCounter{queue: queue}
	rdb.AddHook(answers)
	rdb.AddHook(w.Hook())
	rdb.AddHook(counter)
	runs := make(chan string, 16)
	mux := asynq.NewServeMux()
	run := func(ctx context.Context, task *asynq.Task) error {
		var p struct {
			JobID string `json:"job_id"`
		}
		if err := decodePayload(task, &p); err != nil {
			return err
		}
		runs <- p.JobID
		return nil
	}
	mux.HandleFunc(TypeSwap, run)
	mux.HandleFunc(TypeWebhook, run)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 1, Queues: map[string]int{queue: 1}, TaskCheckInterval: poll, Logger: quietLogger{}})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Close(context.Background()) // first: held dequeues answer, so the shutdown is not kept waiting
		srv.Shutdown()
		rdb.Close()
		tokens.Close()
	})
	return counter, answers, runs
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
// empty dequeue for 10 s, and a poll of 200 ms: the first dequeue is held (a second
// is not sent in the time five polls would take; it would be if the hook no longer
// recognised asynq's dequeue), so a job EnqueueSwap queues is taken because its
// wake-up token made the held dequeue ask again: the dequeue after the empty one
// takes it, and the next one is held again.
func TestWakeupTakesATaskAtOnce(t *testing.T) {
	addr := testenv.Redis(t)
	counter, answers, ran := wakeupServer(t, addr, QueueSwap, MaxWakeWait, 200*time.Millisecond)
	heldWhileIdle(t, counter)

	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	for i, backlog := range []bool{false, true} { // moved to the front (the script pushes the token), and not (wake)
		id := []string{"job-fair", "job-backlog"}[i]
		if err := EnqueueSwap(context.Background(), client, rdb, &jobs.Job{ID: id, Backlog: backlog}); err != nil {
			t.Fatal(err)
		}
		takenWhenWoken(t, counter, answers, ran, id, i+1)
	}
}

// takenWhenWoken checks that job id, the n-th task of a wakeupServer whose dequeue was
// held, ran without asynq ever seeing an empty answer (the held dequeue took it when
// woken), and that the dequeues sent since are the usual ones: each task costs the
// dequeue that took it and one held empty again after it.
func takenWhenWoken(t *testing.T, counter, answers *dequeueCounter, ran <-chan string, id string, n int) {
	t.Helper()
	ranJob(t, ran, id)
	if e := answers.empty.Load(); e != 0 {
		t.Fatalf("asynq saw %d empty answers before %s ran, want 0: the held dequeue took it", e, id)
	}
	waitFor(t, "the next held dequeue", func() bool { return counter.empty.Load() == int64(n+1) })
	if got, want := counter.sent.Load(), int64(2*n+1); got != want {
		t.Fatalf("after task %d (%s): %d dequeues sent, want %d", n, id, got, want)
	}
}

// TestWakeupWebhookTask: a webhook task due at once (the API's cancel event, a hand-off
// from a direct attempt, batch.completed) wakes the webhook queue's held dequeue, as
// EnqueueSwap does the swap queue's.
func TestWakeupWebhookTask(t *testing.T) {
	addr := testenv.Redis(t)
	counter, answers, ran := wakeupServer(t, addr, QueueWebhooks, MaxWakeWait, 200*time.Millisecond)
	heldWhileIdle(t, counter)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	n := &Notifier{Client: asynq.NewClientFromRedisClient(rdb), Redis: rdb, Jobs: jobs.NewStore(rdb, time.Hour), MaxRetry: 3}
	p := WebhookPayload{JobID: "job-canceled", EventID: "msg_wakeup", Type: "job.canceled", URL: "https://example.com/hook"}
	if err := n.enqueue(context.Background(), p, time.Time{}); err != nil {
		t.Fatal(err)
	}
	takenWhenWoken(t, counter, answers, ran, "job-canceled", 1)
}

// TestWakeupWithoutToken: a task queued without a token (as asynq's forwarder moves
// retries in) is taken by the next dequeue after the wait.
func TestWakeupWithoutToken(t *testing.T) {
	addr := testenv.Redis(t)
	_, _, ran := wakeupServer(t, addr, QueueSwap, time.Second, 10*time.Millisecond)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	task, err := NewSwapTask("job-quiet")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asynq.NewClientFromRedisClient(rdb).Enqueue(task); err != nil {
		t.Fatal(err)
	}
	ranJob(t, ran, "job-quiet")
}

// TestWakeupTokenNotLost: a token pushed after the dequeue ran but before the wait
// began (the run below pushes it itself) is not lost: it stays in the list, and the
// dequeue is asked again at once, not after Wait (10 s). Another queue's token
// changes nothing. A closed Wakeup holds nothing back. Tokens pushed while no worker
// waits stop at wakeTokens and expire.
func TestWakeupTokenNotLost(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	w := NewWakeup(rdb, MaxWakeWait)
	runs := 0
	err := w.dequeue(ctx, QueueSwap, func() error {
		if runs++; runs == 1 {
			wake(ctx, rdb, "other-queue")
			wake(ctx, rdb, QueueSwap)
			return redis.Nil
		}
		return nil // the task
	})
	if err != nil || runs != 2 {
		t.Fatalf("dequeue = %v after %d runs, want a task after 2", err, runs)
	}
	if n := rdb.LLen(ctx, wakeKey(QueueSwap)).Val(); n != 0 {
		t.Fatalf("%d tokens left, want the one pushed taken", n)
	}

	w.Close(ctx)
	runs = 0
	err = w.dequeue(ctx, QueueSwap, func() error { runs++; return redis.Nil })
	if !errors.Is(err, redis.Nil) || runs != 1 {
		t.Fatalf("closed Wakeup: dequeue = %v after %d runs, want redis.Nil after 1", err, runs)
	}

	for range 2 * wakeTokens {
		wake(ctx, rdb, QueueWebhooks)
	}
	if n, ttl := rdb.LLen(ctx, wakeKey(QueueWebhooks)).Val(), rdb.PTTL(ctx, wakeKey(QueueWebhooks)).Val(); n != wakeTokens || ttl <= 0 || ttl > wakeTTL {
		t.Fatalf("after %d wakes with no worker: %d tokens expiring in %s, want %d expiring within %s", 2*wakeTokens, n, ttl, wakeTokens, wakeTTL)
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
