// Package usage counts what each API key uses per UTC day (jobs submitted, input
// bytes stored, video frames processed) in Redis, so every API replica and worker
// adds to the same figures, and checks them against the key's daily quotas.
//
// Counters live in one hash per key and day and expire a week after the day, so
// GET /v1/usage can show today and the days before.
package usage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/apikeys"
	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

// Day is one key's use on one UTC day.
type Day struct {
	Date   string `json:"date"` // YYYY-MM-DD, UTC
	Jobs   int64  `json:"jobs"`
	Bytes  int64  `json:"bytes"`
	Frames int64  `json:"frames"`
}

// Counter reads and adds to the counters.
type Counter struct {
	Redis redis.UniversalClient
}

const keep = 8 * 24 * time.Hour

func (c *Counter) now() time.Time { return time.Now().UTC() }

func dayKey(owner, date string) string { return "swapd:usage:" + owner + ":" + date }

// TakeJob counts one job for key today, refusing it with QUOTA_EXCEEDED when the key's
// daily job, byte or frame quota is already used up. The job is counted in the same
// step as the job quota is checked, so concurrent submits cannot overshoot it; bytes
// and frames are added after the fact (AddBytes, AddFrames), so a job that starts under
// those quotas may take a key past them, and the next one is refused.
func (c *Counter) TakeJob(ctx context.Context, key apikeys.Key) error {
	l := key.Limits
	date := c.now().Format(time.DateOnly)
	res, err := takeScript.Run(ctx, c.Redis, []string{dayKey(key.ID, date)},
		l.DailyJobs, l.DailyBytes, l.DailyFrames, int(keep/time.Second)).Slice()
	if err != nil {
		return fmt.Errorf("usage of %s: %w", key.Name, err)
	}
	if what, _ := res[0].(string); what != "" {
		return errcode.New(errcode.QuotaExceeded, "this API key's daily %s quota is used up (%v of %v); it resets at 00:00 UTC", what, res[1], res[2])
	}
	return nil
}

// takeScript: ARGV = daily jobs, bytes, frames limits (0: none), expiry seconds.
var takeScript = redis.NewScript(`
local bytes = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0')
local frames = tonumber(redis.call('HGET', KEYS[1], 'frames') or '0')
if tonumber(ARGV[2]) > 0 and bytes >= tonumber(ARGV[2]) then return {'byte', bytes, ARGV[2]} end
if tonumber(ARGV[3]) > 0 and frames >= tonumber(ARGV[3]) then return {'frame', frames, ARGV[3]} end
local jobs = tonumber(redis.call('HGET', KEYS[1], 'jobs') or '0')
if tonumber(ARGV[1]) > 0 and jobs >= tonumber(ARGV[1]) then return {'job', jobs, ARGV[1]} end
redis.call('HINCRBY', KEYS[1], 'jobs', 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {'', 0, 0}`)

// Tally is what a new job of owner adds to today's use (1 job unless TakeJob counted
// it already, and its stored input bytes), for the Redis step that creates its
// record (jobs.CreateOptions.Tally): a key without daily quotas then needs no round
// trip of its own per submission, and a refused job is never counted. Untally takes
// it back when the submission is not accepted after all.
func (c *Counter) Tally(owner string, job bool, bytes int64) *jobs.Tally {
	add := map[string]int64{}
	if job {
		add["jobs"] = 1
	}
	if bytes > 0 {
		add["bytes"] = bytes
	}
	if owner == "" || len(add) == 0 {
		return nil
	}
	return &jobs.Tally{Key: dayKey(owner, c.now().Format(time.DateOnly)), Add: add, TTL: keep}
}

// Untally takes back what t added (a job created, then withdrawn: a concurrent
// repeat of its idempotency key, or a queue that refused its task).
func (c *Counter) Untally(ctx context.Context, t *jobs.Tally) {
	if t == nil {
		return
	}
	pipe := c.Redis.Pipeline()
	for f, n := range t.Add {
		pipe.HIncrBy(ctx, t.Key, f, -n)
	}
	_, _ = pipe.Exec(ctx)
}

// ReturnJob uncounts a job TakeJob counted that was not accepted after all.
func (c *Counter) ReturnJob(ctx context.Context, owner string) {
	_ = c.Redis.HIncrBy(ctx, dayKey(owner, c.now().Format(time.DateOnly)), "jobs", -1).Err()
}

// AddBytes counts input bytes stored for owner today.
func (c *Counter) AddBytes(ctx context.Context, owner string, n int64) error {
	return c.add(ctx, owner, "bytes", n)
}

// AddFrames counts video frames processed for owner today.
func (c *Counter) AddFrames(ctx context.Context, owner string, n int64) error {
	return c.add(ctx, owner, "frames", n)
}

func (c *Counter) add(ctx context.Context, owner, field string, n int64) error {
	if n <= 0 || owner == "" {
		return nil
	}
	k := dayKey(owner, c.now().Format(time.DateOnly))
	pipe := c.Redis.TxPipeline()
	pipe.HIncrBy(ctx, k, field, n)
	pipe.Expire(ctx, k, keep)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("usage %s of %s: %w", field, owner, err)
	}
	return nil
}

// Days returns owner's use on the last n days, today first.
func (c *Counter) Days(ctx context.Context, owner string, n int) ([]Day, error) {
	now := c.now()
	pipe := c.Redis.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, n)
	days := make([]Day, n)
	for i := range n {
		days[i].Date = now.AddDate(0, 0, -i).Format(time.DateOnly)
		cmds[i] = pipe.HGetAll(ctx, dayKey(owner, days[i].Date))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("usage of %s: %w", owner, err)
	}
	for i, cmd := range cmds {
		m := cmd.Val()
		days[i].Jobs, _ = strconv.ParseInt(m["jobs"], 10, 64)
		days[i].Bytes, _ = strconv.ParseInt(m["bytes"], 10, 64)
		days[i].Frames, _ = strconv.ParseInt(m["frames"], 10, 64)
	}
	return days, nil
}
