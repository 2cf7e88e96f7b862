package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/storage"
)

// Reaper closes the gaps between asynq's view of a job and swapd's record, so that no
// accepted job is lost and no webhook goes unsent, whatever failed in between:
//
//   - asynq archives a task whose lease expired once its retries are used up (a worker
//     that kept dying) without any handler running, so the record would stay running:
//     the Reaper fails it with UNAVAILABLE and sends its webhook;
//   - a task can vanish from Redis while its record says running or queued (keys lost
//     in a failover or evicted, asynq issues #764 and #1051; Redis failing between the
//     API's record and its enqueue): the Reaper enqueues the job again, and the next
//     attempt runs it from the start;
//   - a job can end without its webhook task being enqueued (Redis failed between the
//     two, or the process died): the Reaper enqueues it. The task id is the event's
//     webhook-id, and every attempt claims the event before sending and finds it
//     delivered after (see WebhookHandler.claimDelivery), so this never sends an event
//     twice.
//
// It looks only at records older than Grace, so it never races the normal path, and
// it leaves alone every task asynq still holds.
type Reaper struct {
	Jobs      *jobs.Store
	Inspector *asynq.Inspector
	Queue     *asynq.Client
	Redis     redis.UniversalClient // the Redis Queue writes to, for EnqueueSwap (nil: no fair-share fronting)
	Notifier  *Notifier
	Objects   *storage.Store // optional: deletes the objects of jobs whose records expire
	Log       *slog.Logger
	Grace     time.Duration // default 2 minutes
	Every     time.Duration // default 1 minute
}

// Repairs counts what one sweep did.
type Repairs struct {
	Requeued int // running jobs whose task had vanished, queued again
	Failed   int // running jobs whose task asynq archived, failed with UNAVAILABLE
	Enqueued int // queued jobs without a task, given one
	Notified int // ended jobs whose webhook task was missing, enqueued
	Expired  int // expired jobs whose objects were deleted
	Moved    int // tasks moved out of an older version's lanes (migrateLanes)
}

func (r Repairs) total() int {
	return r.Requeued + r.Failed + r.Enqueued + r.Notified + r.Expired + r.Moved
}

// Run sweeps every r.Every until ctx ends. Any worker may run one; sweeps are
// idempotent (each change is a compare-and-set on the record or a task id).
func (r *Reaper) Run(ctx context.Context) {
	every := r.Every
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	trim := time.NewTicker(time.Hour)
	defer trim.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-trim.C:
			// Owners' job indexes keep ids of expired records until listed; drop them
			// for owners who never list again.
			if _, err := r.Jobs.TrimIndexes(ctx); err != nil {
				r.Log.Warn("trim job indexes", "err", err)
			}
		case <-t.C:
			if rep, err := r.Sweep(ctx); err != nil {
				r.Log.Warn("reaper sweep", "err", err)
			} else if rep.total() > 0 {
				r.Log.Info("reaper swept", "requeued", rep.Requeued, "failed", rep.Failed, "enqueued", rep.Enqueued, "notified", rep.Notified, "expired", rep.Expired, "moved", rep.Moved)
			}
		}
	}
}

// Sweep checks once and reports what it repaired.
func (r *Reaper) Sweep(ctx context.Context) (Repairs, error) {
	var rep Repairs
	grace := r.Grace
	if grace <= 0 {
		grace = 2 * time.Minute
	}
	before := time.Now().Add(-grace)
	lanes, err := r.migrateLanes(ctx, &rep)
	if err != nil {
		return rep, err
	}
	if err := r.sweepRunning(ctx, before, lanes, &rep); err != nil {
		return rep, err
	}
	if err := r.sweepQueued(ctx, before, lanes, &rep); err != nil {
		return rep, err
	}
	if err := r.sweepUnnotified(ctx, before, &rep); err != nil {
		return rep, err
	}
	return rep, r.sweepExpired(ctx, &rep)
}

// sweepExpired deletes the objects (inputs, output, thumbnails; the uploads the job
// read) of jobs whose records have expired: a job's retention covers its files too.
func (r *Reaper) sweepExpired(ctx context.Context, rep *Repairs) error {
	if r.Objects == nil {
		return nil
	}
	due, err := r.Jobs.ExpiredBy(ctx, time.Now())
	if err != nil {
		return err
	}
	for _, e := range due {
		if err := r.Objects.DeletePrefix(ctx, jobs.ObjectPrefix(e.ID)); err != nil {
			return fmt.Errorf("objects of expired job %s: %w", e.ID, err)
		}
		if len(e.Uploads) > 0 {
			if err := r.Objects.Delete(ctx, e.Uploads...); err != nil {
				return fmt.Errorf("uploads of expired job %s: %w", e.ID, err)
			}
		}
		if err := r.Jobs.ObjectsDeleted(ctx, e.ID); err != nil {
			return err
		}
		rep.Expired++
	}
	return nil
}

func (r *Reaper) sweepRunning(ctx context.Context, before time.Time, lanes []string, rep *Repairs) error {
	ids, err := r.Jobs.RunningSince(ctx, before)
	if err != nil {
		return err
	}
	for _, id := range ids {
		job, info, err := r.swapTask(ctx, id, lanes)
		switch {
		case err != nil:
			return err
		case job == nil:
			continue // deleted or expired meanwhile
		case info == nil:
			ok, err := r.requeue(ctx, id)
			if err != nil {
				return err
			}
			if ok {
				rep.Requeued++
			}
		case info.State == asynq.TaskStateArchived:
			e := errcode.New(errcode.Unavailable, "the workers running this job were lost %d times; try again later", info.Retried+1)
			if _, err := r.Jobs.Fail(ctx, id, e); err != nil && !errors.Is(err, jobs.ErrTransition) {
				return err
			}
			r.Log.Error("job failed: its task was archived by asynq after lost workers", "job", id)
			if err := r.Notifier.Notify(ctx, id); err != nil {
				r.Log.Error("enqueue webhook", "job", id, "err", err)
			}
			rep.Failed++
		}
	}
	return nil
}

func (r *Reaper) sweepQueued(ctx context.Context, before time.Time, lanes []string, rep *Repairs) error {
	ids, err := r.Jobs.QueuedSince(ctx, before)
	if err != nil {
		return err
	}
	for _, id := range ids {
		job, info, err := r.swapTask(ctx, id, lanes)
		switch {
		case err != nil:
			return err
		case job == nil || info != nil || job.Status != jobs.Queued:
			continue // gone, held by asynq (pending, scheduled, retry, active), or moved on
		}
		if err := EnqueueSwap(ctx, r.Queue, r.Redis, job); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return err
		}
		r.Log.Warn("queued job had no task; enqueued it", "job", id)
		rep.Enqueued++
	}
	return nil
}

// swapTask returns job id's record and its task as asynq holds it (nil when asynq
// has none): in its job's queue, either shared queue, or one of the lanes an older
// version left tasks in. A nil job means the record is gone (and id is forgotten).
func (r *Reaper) swapTask(ctx context.Context, id string, lanes []string) (*jobs.Job, *asynq.TaskInfo, error) {
	job, err := r.Jobs.Get(ctx, id)
	if errcode.Code(err) == errcode.NotFound {
		_ = r.Jobs.Forget(ctx, id)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	queues := []string{JobQueue(job)}
	for _, q := range append([]string{QueueSwap, QueueBacklog}, lanes...) {
		if !slices.Contains(queues, q) {
			queues = append(queues, q)
		}
	}
	for _, q := range queues {
		info, err := r.Inspector.GetTaskInfo(q, id)
		switch {
		case err == nil:
			return job, info, nil
		case !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound):
			return nil, nil, fmt.Errorf("task of job %s: %w", id, err)
		}
	}
	return job, nil, nil
}

func (r *Reaper) sweepUnnotified(ctx context.Context, before time.Time, rep *Repairs) error {
	ids, err := r.Jobs.UnnotifiedSince(ctx, before)
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := r.Notifier.Notify(ctx, id)
		if errcode.Code(err) == errcode.NotFound {
			_ = r.Jobs.Forget(ctx, id)
			continue
		}
		if err != nil {
			return err
		}
		r.Log.Warn("ended job's webhook was not enqueued; enqueued it", "job", id)
		rep.Notified++
	}
	return nil
}

// requeue puts a running job whose task vanished back in the queue; false when the
// record is gone or ended meanwhile.
func (r *Reaper) requeue(ctx context.Context, id string) (bool, error) {
	job, err := r.Jobs.Get(ctx, id)
	if err != nil {
		_ = r.Jobs.Forget(ctx, id) // deleted or expired meanwhile
		return false, nil
	}
	if err := r.Jobs.Requeue(ctx, id); err != nil {
		if errors.Is(err, jobs.ErrTransition) {
			return false, nil // it ended meanwhile
		}
		return false, err
	}
	if err := EnqueueSwap(ctx, r.Queue, r.Redis, job); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return false, err
	}
	r.Log.Warn("job had no task in the queue; requeued", "job", id)
	return true, nil
}
