package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/swapd/swapd/pkg/apikeys"
	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/usage"
)

// countJob wraps a submit route with the key's daily quotas. A key with a daily job,
// byte or frame quota takes its job before anything is read or stored
// (usage.Counter.TakeJob), so one whose quota is used up is refused with 429
// QUOTA_EXCEEDED, written by fail in the route's error shape, without uploading a
// byte; for every key, the job (unless taken so) and its input bytes are counted in
// the step that creates the record (enqueue, usage.Counter.Tally), which saves a key
// without daily quotas a Redis round trip per submission. A submission that is not
// accepted after all (any answer but a new job) is uncounted. Jobs in flight are
// limited where the record is created (jobs.CreateOptions.MaxInFlight).
func countJob(d *Deps, fail func(http.ResponseWriter, *slog.Logger, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := keyOf(r.Context())
			if d.Usage == nil {
				next.ServeHTTP(w, r)
				return
			}
			c := &submitCount{}
			if l := key.Limits; l.DailyJobs > 0 || l.DailyBytes > 0 || l.DailyFrames > 0 {
				if err := d.Usage.TakeJob(r.Context(), key); err != nil {
					fail(w, d.Log, err)
					return
				}
				c.taken = true
			}
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), submitCountKey{}, c)))
			if !accepted(rec) {
				ctx := context.WithoutCancel(r.Context())
				if c.taken {
					d.Usage.ReturnJob(ctx, key.ID)
				}
				d.Usage.Untally(ctx, c.tallied)
			}
		})
	}
}

// submitCount is what countJob and the record's creation counted of one submission.
type submitCount struct {
	taken   bool        // the job, by TakeJob before the body was read
	tallied *jobs.Tally // what the record's creation added (the job unless taken, input bytes)
}

type submitCountKey struct{}

// tally is what creating job's record counts for the submission in ctx (nil when
// nothing is counted: no usage counter, or a route countJob does not wrap).
func tally(ctx context.Context, d *Deps, job *jobs.Job) (*submitCount, *jobs.Tally) {
	c, _ := ctx.Value(submitCountKey{}).(*submitCount)
	if c == nil || d.Usage == nil {
		return nil, nil
	}
	var n int64
	for _, in := range job.Inputs() {
		n += in.Size
	}
	return c, d.Usage.Tally(job.Owner, !c.taken, n)
}

// accepted reports whether a submit answer is a new job: 202 without a replay, or a
// RunPod /runsync that created one (200 with a body; its failures are 4xx/5xx).
func accepted(rec *statusRecorder) bool {
	if rec.Header().Get("Idempotent-Replayed") != "" {
		return false
	}
	return rec.status == http.StatusAccepted || rec.status == http.StatusOK
}

// usageResponse is GET /v1/usage: the calling key's limits and what it used.
type usageResponse struct {
	ID       string      `json:"id"`  // the key's id: the owner recorded on its jobs
	Key      string      `json:"key"` // the key's name
	Role     string      `json:"role"`
	Limits   limitsView  `json:"limits"`
	InFlight int64       `json:"in_flight"` // jobs queued or running now
	Days     []usage.Day `json:"days"`      // today first, then the 6 days before
}

type limitsView struct {
	RequestsPerMinute int   `json:"requests_per_minute"`
	MaxInFlight       int   `json:"max_in_flight"`
	DailyJobs         int64 `json:"daily_jobs"`
	DailyFrames       int64 `json:"daily_frames"`
	DailyBytes        int64 `json:"daily_bytes"`
	RetentionSeconds  int64 `json:"retention_seconds"` // how long ended jobs are kept (0: the default)
}

// handleUsage answers GET /v1/usage. Zero limits mean none.
func handleUsage(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := keyOf(r.Context())
		if d.Usage == nil || d.Jobs == nil {
			writeError(w, d.Log, errcode.New(errcode.Unavailable, "usage is not available without Redis"))
			return
		}
		inFlight, err := d.Jobs.InFlight(r.Context(), key.ID)
		if err != nil {
			writeError(w, d.Log, err)
			return
		}
		days, err := d.Usage.Days(r.Context(), key.ID, 7)
		if err != nil {
			writeError(w, d.Log, err)
			return
		}
		l := key.Limits
		writeJSON(w, http.StatusOK, usageResponse{ID: key.ID, Key: key.Name, Role: string(key.Role), InFlight: inFlight, Days: days,
			Limits: limitsView{RequestsPerMinute: l.RequestsPerMinute, MaxInFlight: l.MaxInFlight, DailyJobs: l.DailyJobs, DailyFrames: l.DailyFrames, DailyBytes: l.DailyBytes,
				RetentionSeconds: int64(d.retention(key, 0) / time.Second)}})
	})
}

// retention is how long a job of key is kept once it ends (0: the store's default):
// its own ttl (a RunPod policy) or the key's retention, within the operator's floor
// and ceiling. The record, its inputs and its output go together (tasks.Reaper).
func (d *Deps) retention(key apikeys.Key, ttl time.Duration) time.Duration {
	if ttl <= 0 {
		ttl = key.Limits.Retention
	}
	if ttl <= 0 {
		return 0
	}
	if d.RetentionMin > 0 {
		ttl = max(ttl, d.RetentionMin)
	}
	if d.RetentionMax > 0 {
		ttl = min(ttl, d.RetentionMax)
	}
	return ttl
}
