package tasks

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Wakeup gives asynq the blocking dequeue it lacks. asynq's processor asks Redis for
// a task, and when none waits it sleeps its TaskCheckInterval and asks again: a worker
// either polls often (on this 2-core VM, 20 round trips a second at 50 ms cost an idle
// worker about 2 % of a core, much of it in waking the process up) or lets a new job
// wait up to the interval. With a Wakeup, an empty answer to the dequeue is held back
// (Hook) while the worker blocks on its queue's list of wake-up tokens (BLPOP on
// wakeKey), and the dequeue is asked again as soon as it takes one; only after Wait
// without a token does asynq see the empty answer and sleep. So an idle worker makes
// about one dequeue a Wait, and a new job is taken a round trip after it was queued,
// not a poll later.
//
// Whoever queues a task due at once pushes a token (wake): EnqueueSwap, inside the
// script that moves a fair-share job ahead of the backlog, and the Notifier for a
// webhook task. A token wakes one worker (Redis serves the longest-blocked BLPOP
// first), not every idle worker of the fleet, as a broadcast would; and it stays in
// the list until taken, so a token pushed between a worker's empty dequeue and its
// BLPOP is not lost. A list holds at most wakeTokens and expires a minute after its
// last push: tokens pushed while every worker was busy cost, later, one empty
// dequeue each.
//
// Nothing depends on a token: a task that came without one (a retry that asynq's
// forwarder moved in) is taken by the next dequeue, at most Wait plus the
// TaskCheckInterval later.
//
// The hook recognises asynq's dequeue script by its keys (asynq:{<queue>}:pending,
// :paused, :active, :lease, stable since v0.18); a different layout is never held
// back, and the worker then simply polls (TestWakeupTakesATaskAtOnce fails).
type Wakeup struct {
	// Wait is how long an empty dequeue is held back for a token: whole seconds (BLPOP
	// takes seconds), at most MaxWakeWait.
	Wait time.Duration

	rdb    redis.UniversalClient
	closed atomic.Bool
	mu     sync.Mutex
	held   map[string]int // queues with a dequeue held, and how many
}

// MaxWakeWait bounds Wakeup.Wait. asynq computes a task's 30 s lease before it sends
// the dequeue, so a task taken after a wait has a lease that much shorter; the
// heartbeat extends leases every 5 s, and 10 s leaves the rest of the lease to spare.
// A wait past the lease would hand out tasks whose lease had already run out, for
// the recoverer to give to a second worker.
const MaxWakeWait = 10 * time.Second

// NewWakeup returns a Wakeup that blocks on the token lists through rdb and holds an
// empty dequeue back for wait, rounded up to whole seconds and capped at MaxWakeWait
// (0 holds nothing back).
func NewWakeup(rdb redis.UniversalClient, wait time.Duration) *Wakeup {
	if wait > 0 {
		wait = min(max(wait.Round(time.Second), time.Second), MaxWakeWait)
	}
	return &Wakeup{Wait: wait, rdb: rdb, held: map[string]int{}}
}

// Close makes held dequeues answer, so a server shutting down is not kept waiting: it
// pushes a token to each queue this Wakeup holds a dequeue on (another worker may
// take it instead, and ask its queue once more for nothing).
func (w *Wakeup) Close(ctx context.Context) {
	w.closed.Store(true)
	w.mu.Lock()
	defer w.mu.Unlock()
	for q, n := range w.held {
		for range n {
			wake(ctx, w.rdb, q)
		}
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
// again after each wake-up token it takes, until one finds a task or Wait has passed.
func (w *Wakeup) dequeue(ctx context.Context, queue string, run func() error) error {
	deadline := time.Now().Add(w.Wait)
	for {
		err := run()
		if !errors.Is(err, redis.Nil) {
			return err // a task, or an error asynq handles
		}
		left := time.Until(deadline).Round(time.Second)
		if left <= 0 || w.closed.Load() {
			return err
		}
		w.hold(queue, 1)
		_, berr := w.rdb.BLPop(ctx, left, wakeKey(queue)).Result()
		w.hold(queue, -1)
		if berr != nil {
			return err // no token in time (redis.Nil), or Redis failing: asynq polls
		}
	}
}

func (w *Wakeup) hold(queue string, d int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held[queue] += d; w.held[queue] == 0 {
		delete(w.held, queue)
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

// wakeKey is queue's list of wake-up tokens; the hash tag keeps it in the Cluster slot
// of asynq's keys for the queue, so the front script may push to it.
func wakeKey(queue string) string { return "swapd:{" + queue + "}:wake" }

// wakeTokens is the most tokens a queue's list holds: enough to wake that many idle
// workers for a burst of tasks at once (each keeps taking tasks while there are
// any), few enough that those pushed while all workers were busy cost little later.
const wakeTokens = 64

// wakeTTL: a token list expires this long after its last push.
const wakeTTL = time.Minute

// wakeLua defines the Lua function wake(key, most, ttl): it pushes a token to the list
// key unless it holds most already, and renews its expiry of ttl ms. wakeScript and
// frontScript both start with it.
const wakeLua = `
local function wake(key, most, ttl)
  if redis.call('LLEN', key) < tonumber(most) then redis.call('LPUSH', key, 1) end
  redis.call('PEXPIRE', key, ttl)
end
`

var wakeScript = redis.NewScript(wakeLua + "wake(KEYS[1], ARGV[1], ARGV[2])\nreturn 1")

// wake tells an idle worker that a task waits in queue (see Wakeup). A failure is not
// an error for the caller: the task is queued, and is taken by the next poll.
func wake(ctx context.Context, rdb redis.UniversalClient, queue string) {
	_ = wakeScript.Run(ctx, rdb, []string{wakeKey(queue)}, wakeTokens, wakeTTL.Milliseconds()).Err()
}
