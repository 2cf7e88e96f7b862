package tasks

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// moveToFront puts job id's pending swap task in queue ahead of the backlog: just
// behind the fair-share tasks moved there before it that still wait (so they keep
// their order), or at the very front when none does. asynq enqueues at the back of
// a queue's pending list and dequeues from its front, so without this a key's first
// job would wait behind every job another key queued before it; with it, one queue
// does what a second, lower-weighted backlog queue did before, and an idle worker
// polls one queue instead of two (half the Redis round trips of an idle poll).
//
// The backlog is not starved while fair-share jobs keep coming: every second move
// takes the oldest backlog task (the one just behind the fair-share tasks) into their
// group first, so it gets at least one task in three, as the backlog queue did when
// workers tried it one time in three.
//
// This is the one place swapd writes asynq's own keys: the pending list
// ("asynq:{<queue>}:pending", LPUSHed by asynq's enqueue, RPOPLPUSHed by its
// dequeue, holding task ids; a swap task's id is its job's). The move is best
// effort and safe if that layout ever changed: a task that is not found there
// (already taken, or a different layout) is left where it is, and the job runs in
// submission order. TestMoveToFront runs it against asynq itself.
//
// The script ends by pushing a wake-up token for queue (wake), so an idle worker takes
// the task where it now is (Wakeup) without a round trip of its own.
func moveToFront(ctx context.Context, rdb redis.UniversalClient, queue, id string) error {
	// The hash tag keeps swapd's two keys in the pending list's Cluster slot.
	keys := []string{"asynq:{" + queue + "}:pending", "swapd:{" + queue + "}:fronted", "swapd:{" + queue + "}:fronted-count", wakeKey(queue)}
	if err := frontScript.Run(ctx, rdb, keys, id, backlogTurn, wakeTokens, wakeTTL.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("move job %s to the front of %s: %w", id, queue, err)
	}
	return nil
}

// backlogTurn: every backlogTurn-th move also lets the oldest backlog task in.
const backlogTurn = 2

// frontScript: KEYS[1] the pending list (its front is the right end), KEYS[2] the id
// moved last (the back of the fair-share group), KEYS[3] a count of moves, KEYS[4] the
// wake-up tokens; ARGV[1] the task id, ARGV[2] backlogTurn, ARGV[3] and ARGV[4]
// wakeTokens and wakeTTL in ms (for wakeLua's wake). The new task is at the left end
// (LPUSH), so LREM finds it at once. On a backlog turn the task left of the group's
// back (the oldest backlog task; LPOS and LINDEX count from the right, where the
// group is) becomes the back.
// LINSERT BEFORE the back puts the new task behind it, and answers -1 when the back
// has been dequeued already (so has the whole group): then RPUSH puts it at the front.
var frontScript = redis.NewScript(wakeLua + `
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  wake(KEYS[4], ARGV[3], ARGV[4])
  return 0
end
local back = redis.call('GET', KEYS[2])
local placed = -1
if back then
  if redis.call('INCR', KEYS[3]) % tonumber(ARGV[2]) == 0 then
    local pos = redis.call('LPOS', KEYS[1], back, 'RANK', -1)
    if pos and pos > 0 then
      local older = redis.call('LINDEX', KEYS[1], pos - 1 - redis.call('LLEN', KEYS[1]))
      if older then back = older end
    end
  end
  placed = redis.call('LINSERT', KEYS[1], 'BEFORE', back, ARGV[1])
end
if placed <= 0 then redis.call('RPUSH', KEYS[1], ARGV[1]) end
redis.call('SET', KEYS[2], ARGV[1], 'EX', 86400)
redis.call('EXPIRE', KEYS[3], 86400)
wake(KEYS[4], ARGV[3], ARGV[4])
return 1`)
