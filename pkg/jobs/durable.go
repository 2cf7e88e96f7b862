package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/errcode"
)

// Durability says what Store.Confirm waits for.
type Durability struct {
	// MinReplicas is how many replicas must acknowledge a write (0: Confirm does
	// nothing; a single Redis, or one whose replicas are not to be waited for).
	MinReplicas int
	// Timeout is how long Confirm waits for them (DefaultReplicaTimeout if zero).
	Timeout time.Duration
}

// DefaultReplicaTimeout is how long Confirm waits for replicas when
// Durability.Timeout is unset: long enough for a healthy replica on the same network (it acknowledges
// within a millisecond or two), short enough that a client told 503 has not given up.
const DefaultReplicaTimeout = time.Second

// durabilityKey is the marker Confirm writes before it waits.
const durabilityKey = "swapd:durability"

// Confirm makes sure every write this Redis primary has applied so far — the caller's
// record changes and its asynq enqueues included — has reached at least
// Store.Durability.MinReplicas replicas, waiting up to Store.Durability.Timeout. With MinReplicas 0
// (the default) it does nothing.
//
// WAIT only counts the writes of the connection that calls it, and asynq and the Lua
// transitions write on other pool connections. But replication is one ordered stream:
// the primary ships its writes to every replica in the order it applied them. So a
// marker write (INCR swapd:durability) followed by WAIT on the same pinned connection
// waits for the replication offset of the marker, which covers every earlier write of
// every connection.
//
// It returns an errcode UNAVAILABLE error when fewer replicas acknowledge in time (the
// node lost its replica, or it is an old primary that Sentinel has already replaced and
// whose writes will be thrown away), or when the marker cannot be written (READONLY on
// a demoted primary, a dropped connection; that error is wrapped too).
func (s *Store) Confirm(ctx context.Context) error {
	if s.Durability.MinReplicas <= 0 {
		return nil
	}
	timeout := s.Durability.Timeout
	if timeout <= 0 {
		timeout = DefaultReplicaTimeout
	}
	var acked int64
	var err error
	if c, ok := s.rdb.(interface{ Conn() *redis.Conn }); ok {
		// One connection taken from the pool for both commands (a plain or a
		// Sentinel-backed client): WAIT gets its own read deadline from go-redis.
		conn := c.Conn()
		defer conn.Close()
		if err = conn.Incr(ctx, durabilityKey).Err(); err == nil {
			acked, err = conn.Wait(ctx, s.Durability.MinReplicas, timeout).Result()
		}
	} else {
		// Other clients: a pipeline also runs on one connection, in order.
		var wait *redis.Cmd
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, durabilityKey)
			wait = p.Do(ctx, "WAIT", s.Durability.MinReplicas, timeout.Milliseconds())
			return nil
		})
		if err == nil {
			acked, err = wait.Int64()
		}
	}
	if err != nil {
		// The marker never reached a primary (READONLY on a demoted one, a connection
		// Sentinel's switch closed): nothing is confirmed either. The cause stays in
		// the chain for logs; clients see the code and message only.
		return fmt.Errorf("%w (%w)", errcode.New(errcode.Unavailable, "Redis could not confirm the write on %d replica(s); nothing was accepted, try again shortly",
			s.Durability.MinReplicas), err)
	}
	if acked < int64(s.Durability.MinReplicas) {
		return errcode.New(errcode.Unavailable, "Redis could not confirm the write on %d replica(s) within %v (%d did); nothing was accepted, try again shortly",
			s.Durability.MinReplicas, timeout, acked)
	}
	return nil
}

// Withdraw takes back a job whose submission could not be confirmed (Confirm failed
// after Create and the enqueue; the client is answered 503), in one step on the
// primary it reaches:
//
//   - a job still queued goes: its record, its index entries, and the idempotency key
//     bound to it (idem, if not empty), so the client's retry after the 503 starts
//     afresh. Its task, left in the queue, finds no record and is skipped;
//   - a job a worker has already started (the task was taken while the replicas were
//     awaited) is left to run, once, and so is its idempotency key: a retry with the
//     same key is answered with this job instead of running a second one;
//   - a job whose record is not there leaves only its idempotency key to remove.
//
// It is best effort: on a
// primary that Sentinel has replaced, the writes it undoes and the undoing are lost
// alike, and what reached the replica stands: the job runs once, and a retry with the
// same Idempotency-Key is answered with it.
func (s *Store) Withdraw(ctx context.Context, j *Job, idem string) error {
	idk := ""
	if idem != "" {
		idk = idemKey(j.Owner, idem)
	}
	err := withdrawScript.Run(ctx, s.rdb,
		[]string{key(j.ID), ownerKey(j.Owner), runningKey, queuedKey, notifyKey, liveKey(j.Owner), expiringKey, expiringUploadsKey, idk},
		j.ID).Err()
	if err != nil {
		return fmt.Errorf("withdraw job %s: %w", j.ID, err)
	}
	return nil
}

// withdrawScript: 1 withdrawn, 0 left to run (started or ended), -1 no record.
var withdrawScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if st and st ~= 'queued' then return 0 end
if st then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  for i = 3, 7 do redis.call('ZREM', KEYS[i], ARGV[1]) end
  redis.call('HDEL', KEYS[8], ARGV[1])
end
if KEYS[9] ~= '' and redis.call('HGET', KEYS[9], 'job') == ARGV[1] then redis.call('DEL', KEYS[9]) end
if st then return 1 end
return -1`)
