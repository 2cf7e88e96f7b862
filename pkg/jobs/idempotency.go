package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/errcode"
)

// IdempotencyWindow is how long an Idempotency-Key is remembered.
const IdempotencyWindow = 24 * time.Hour

func idemKey(owner, key string) string { return "swapd:idem:" + owner + ":" + key }

// Remember binds an idempotency key to a job, if the key is new. When the key was
// already used it returns the job id it names: with the same request fingerprint that
// is the job to answer with; with another fingerprint it is a 422, because a key must
// not be reused for a different request.
func (s *Store) Remember(ctx context.Context, owner, key, fingerprint, jobID string) (existing string, err error) {
	res, err := rememberScript.Run(ctx, s.rdb, []string{idemKey(owner, key)}, fingerprint, jobID, int(IdempotencyWindow/time.Second)).Slice()
	if err != nil {
		return "", fmt.Errorf("idempotency key: %w", err)
	}
	if res[0].(int64) == 1 {
		return "", nil
	}
	if res[1].(string) != fingerprint {
		return "", errcode.New(errcode.IdempotencyMismatch, "Idempotency-Key %q was used with a different request in the last %v", key, IdempotencyWindow)
	}
	return res[2].(string), nil
}

// Lookup returns the job id an idempotency key names, if any, and whether the
// fingerprint matches.
func (s *Store) Lookup(ctx context.Context, owner, key, fingerprint string) (jobID string, err error) {
	v, err := s.rdb.HMGet(ctx, idemKey(owner, key), "fp", "job").Result()
	if err == redis.Nil || (err == nil && v[0] == nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("idempotency key: %w", err)
	}
	if v[0].(string) != fingerprint {
		return "", errcode.New(errcode.IdempotencyMismatch, "Idempotency-Key %q was used with a different request in the last %v", key, IdempotencyWindow)
	}
	return v[1].(string), nil
}

var rememberScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'fp'), redis.call('HGET', KEYS[1], 'job')}
end
redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'job', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, '', ''}`)
