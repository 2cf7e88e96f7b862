package tasks

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// WakeChannel is the Redis pub/sub channel a queue's name is published on once a task
// waits in it, so that idle workers take it at once (Wakeup): by EnqueueSwap for a
// swap task (after moving it ahead of the backlog, if it is to be), and by the
// Notifier for a webhook task due at once.
const WakeChannel = "swapd:wake"

// A Wakeup gives asynq the blocking dequeue it lacks. asynq's
// processor asks Redis for a task, and when none waits it sleeps its
// TaskCheckInterval and asks again: a worker either polls often (on this 2-core VM,
// 20 round trips a second at 50 ms cost an idle worker about 2 % of a core, much of
// it in waking the process up) or lets a new job wait up to the interval. With a
// Wakeup, an empty answer to the dequeue is held back (Hook) until a message on
// WakeChannel says a task came into that queue, and the dequeue is then
// asked again at once; only after Wait without a message does asynq see the empty
// answer and sleep. So an idle worker makes about one dequeue a Wait, and a new job
// is taken a pub/sub message after it was queued, not a poll later.
//
// Nothing depends on a message arriving: a task that came without one (a retry that
// asynq's forwarder moved in, a message lost while the subscription reconnects) is
// taken by the next dequeue, at most Wait plus the TaskCheckInterval later. A message
// cannot be missed between the dequeue and the wait: the waiter takes its queue's
// signal before it sends the dequeue, and a task queued after the dequeue ran is
// published after it too, so its message closes that signal (wakeup_test.go).
//
// The hook recognises asynq's dequeue script by its keys (asynq:{<queue>}:pending,
// :paused, :active, :lease, stable since v0.18); a different layout is never held
// back, and the worker then simply polls (TestWakeupTakesATaskAtOnce fails).
type Wakeup struct {
	// Wait is how long an empty dequeue is held back for a message, at most MaxWakeWait.
	Wait time.Duration

	rdb     redis.UniversalClient
	mu      sync.Mutex
	signals map[string]chan struct{} // per queue; closed and replaced on a message
	done    chan struct{}            // closed when Run ends: nothing waits after
}

// MaxWakeWait bounds Wakeup.Wait. asynq computes a task's 30 s lease before it sends
// the dequeue, so a task taken after a wait has a lease that much shorter; the
// heartbeat extends leases every 5 s, and 10 s leaves the rest of the lease to spare.
// A wait past the lease would hand out tasks whose lease had already run out, for
// the recoverer to give to a second worker.
const MaxWakeWait = 10 * time.Second

// NewWakeup returns a Wakeup that subscribes through rdb (Run) and holds an empty
// dequeue back for at most wait (capped at MaxWakeWait; 0 holds nothing back).
func NewWakeup(rdb redis.UniversalClient, wait time.Duration) *Wakeup {
	return &Wakeup{Wait: min(wait, MaxWakeWait), rdb: rdb, signals: map[string]chan struct{}{}, done: make(chan struct{})}
}

// Run listens on WakeChannel until ctx ends. go-redis resubscribes after a dropped
// connection by itself; messages published meanwhile are lost, which only delays
// their tasks (see Wakeup). When Run returns, held dequeues answer at once, so a
// server shutting down is not kept waiting.
func (w *Wakeup) Run(ctx context.Context) {
	defer close(w.done)
	sub := w.rdb.Subscribe(ctx, WakeChannel)
	defer sub.Close()
	msgs := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			w.wake(m.Payload)
		}
	}
}

// signal returns queue's current signal: it is closed by the next message for queue.
func (w *Wakeup) signal(queue string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch, ok := w.signals[queue]
	if !ok {
		ch = make(chan struct{})
		w.signals[queue] = ch
	}
	return ch
}

// wake closes queue's signal, if anyone took it, and starts a new one.
func (w *Wakeup) wake(queue string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.signals[queue]; ok {
		close(ch)
		delete(w.signals, queue)
	}
}

// Hook returns the go-redis hook to add to the Redis client of the worker's asynq
// servers (asynq.NewServerFromRedisClient). It changes nothing but asynq's dequeue of
// a queue that turns out empty.
func (w *Wakeup) Hook() redis.Hook { return wakeupHook{w} }

type wakeupHook struct{ w *Wakeup }

func (wakeupHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (wakeupHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h wakeupHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		queue, ok := dequeuedQueue(cmd)
		if !ok || h.w.Wait <= 0 {
			return next(ctx, cmd)
		}
		return h.w.dequeue(ctx, queue, func() error { return next(ctx, cmd) })
	}
}

// dequeue runs asynq's dequeue of queue (run) and, while it finds nothing, runs it
// again after each message for queue, until one finds a task or Wait has passed.
func (w *Wakeup) dequeue(ctx context.Context, queue string, run func() error) error {
	var timeout <-chan time.Time
	for {
		signal := w.signal(queue) // before the dequeue: a task queued after it closes this
		err := run()
		if !errors.Is(err, redis.Nil) {
			return err // a task, or an error asynq handles
		}
		if timeout == nil {
			t := time.NewTimer(min(w.Wait, MaxWakeWait))
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-signal:
		case <-timeout:
			return err
		case <-w.done:
			return err
		case <-ctx.Done():
			return err
		}
	}
}

// dequeuedQueue reports whether cmd is asynq's dequeue script (EVALSHA or EVAL with
// the keys asynq:{q}:pending, :paused, :active, :lease) and of which queue.
func dequeuedQueue(cmd redis.Cmder) (string, bool) {
	if name := cmd.Name(); name != "evalsha" && name != "eval" {
		return "", false
	}
	args := cmd.Args()
	if len(args) < 7 {
		return "", false
	}
	key := func(i int) string { s, _ := args[i].(string); return s }
	q, ok := strings.CutPrefix(key(3), "asynq:{")
	if !ok {
		return "", false
	}
	if q, ok = strings.CutSuffix(q, "}:pending"); !ok || q == "" {
		return "", false
	}
	prefix := "asynq:{" + q + "}:"
	if key(4) != prefix+"paused" || key(5) != prefix+"active" || key(6) != prefix+"lease" {
		return "", false
	}
	return q, true
}

// wake tells idle workers that a task waits in queue (see Wakeup). A failure is not an
// error for the caller: the task is queued, and is taken by the next poll.
func wake(ctx context.Context, rdb redis.UniversalClient, queue string) {
	_ = rdb.Publish(ctx, WakeChannel, queue).Err()
}
