package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// MarkTransient records that the job's current attempt failed on a transient error
// (storage, network, a source server) and returns when the first such failure
// happened: the start of the outage the job is waiting out. The time is kept for the
// job's life (a RunPod retry clears it), so a job that fails the same way on every
// attempt is measured against one outage budget, however quickly its attempts fail.
func (s *Store) MarkTransient(ctx context.Context, id string) (time.Time, error) {
	v, err := markTransientScript.Run(ctx, s.rdb, []string{key(id)}, now()).Text()
	if err == redis.Nil || (err == nil && v == "") {
		return time.Time{}, fmt.Errorf("job %s: no record", id)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("job %s: mark transient failure: %w", id, err)
	}
	return parseTime(v), nil
}

var markTransientScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return '' end
redis.call('HSETNX', KEYS[1], 'transient_since', ARGV[1])
return redis.call('HGET', KEYS[1], 'transient_since')`)
