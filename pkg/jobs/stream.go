package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/errcode"
)

// A job's stream is its progress as RunPod's /stream hands it out: each progress
// report once. The cursor of what was last handed out is a key beside the record.

func streamKey(id string) string { return "swapd:job:" + id + ":stream" }

// streamCursorTTL bounds the cursor of a job that is still live (its record does not
// expire): longer than the longest execution timeout. Once the record has an expiry the
// cursor gets the same one.
const streamCursorTTL = 8 * 24 * time.Hour

// takeStreamScript reads the record and, if its progress differs from the cursor (the
// progress last handed out, counted per retry), moves the cursor to it. The cursor
// expires with the record (or after ARGV[1] ms while the record does not expire). It
// returns {1 if the progress is new, the record's fields}.
var takeStreamScript = redis.NewScript(`
local m = redis.call('HGETALL', KEYS[1])
if #m == 0 then return {0, m} end
local f = {}
for i = 1, #m, 2 do f[m[i]] = m[i+1] end
local total = tonumber(f['progress_total'] or '0') or 0
if total <= 0 then return {0, m} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then ttl = tonumber(ARGV[1]) end
local cur = (f['retries'] or '0') .. ':' .. (f['progress_done'] or '0') .. '/' .. total
if redis.call('GET', KEYS[2]) == cur then
  redis.call('PEXPIRE', KEYS[2], ttl)
  return {0, m}
end
redis.call('SET', KEYS[2], cur, 'PX', ttl)
return {1, m}`)

// TakeStream returns the job and whether its progress is new to the stream: reported
// by the worker since the last TakeStream of this job that returned true. The read and
// the cursor move are one atomic step, so concurrent callers never both get the same
// report. A job without progress yet is never new. An absent job is an errcode
// NOT_FOUND error.
func (s *Store) TakeStream(ctx context.Context, id string) (*Job, bool, error) {
	res, err := takeStreamScript.Run(ctx, s.rdb, []string{key(id), streamKey(id)}, streamCursorTTL.Milliseconds()).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("stream of job %s: %w", id, err)
	}
	fresh, _ := res[0].(int64)
	flat, _ := res[1].([]any)
	if len(flat) == 0 {
		return nil, false, errcode.New(errcode.NotFound, "no job with id %q (it may have expired)", id)
	}
	j, err := decode(id, fieldMap(flat))
	if err != nil {
		return nil, false, err
	}
	return j, fresh == 1, nil
}
