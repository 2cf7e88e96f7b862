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
// This is the one place swapd writes asynq's own keys: the pending list
// ("asynq:{<queue>}:pending", LPUSHed by asynq's enqueue, RPOPLPUSHed by its
// dequeue, holding task ids; a swap task's id is its job's). The move is best
// effort and safe if that layout ever changed: a task that is not found there
// (already taken, or a different layout) is left where it is, and the job runs in
// submission order. TestMoveToFront runs it against asynq itself.
func moveToFront(ctx context.Context, rdb redis.UniversalClient, queue, id string) error {
	pending := "asynq:{" + queue + "}:pending"
	last := "swapd:{" + queue + "}:fronted" // the hash tag keeps both keys in one Cluster slot
	if err := frontScript.Run(ctx, rdb, []string{pending, last}, id).Err(); err != nil {
		return fmt.Errorf("move job %s to the front of %s: %w", id, queue, err)
	}
	return nil
}

// frontScript: KEYS[1] the pending list, KEYS[2] the id last moved to the front;
// ARGV[1] the task id. The new task is at the back (LPUSH, position 0), so LREM finds
// it at once; LINSERT BEFORE the last fronted id puts it on that id's back side, and
// answers -1 when that id has been dequeued already (then so have all fronted before
// it), when RPUSH puts it at the very front.
var frontScript = redis.NewScript(`
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
local last = redis.call('GET', KEYS[2])
local placed = -1
if last then placed = redis.call('LINSERT', KEYS[1], 'BEFORE', last, ARGV[1]) end
if placed <= 0 then redis.call('RPUSH', KEYS[1], ARGV[1]) end
redis.call('SET', KEYS[2], ARGV[1], 'EX', 86400)
return 1`)
