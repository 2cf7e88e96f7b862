package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

// Reaper closes the gaps between asynq's view of a job and swapd's record, so that no
// job stays "running" forever:
//
//   - asynq archives a task whose lease expired once its retries are used up (a worker
//     that kept dying) without any handler running, so the record would stay running:
//     the Reaper fails it with UNAVAILABLE and sends its webhook;
//   - a task can vanish from Redis while its record says running (keys lost in a
//     failover or evicted, asynq issues #764 and #1051): the Reaper puts the job back
//     in the queue, where the next attempt runs it from the start.
//
// It looks only at attempts that started more than Grace ago, so it never races the
// normal end of an attempt, and it leaves alone every task asynq still holds.
type Reaper struct {
	Jobs      *jobs.Store
	Inspector *asynq.Inspector
	Queue     *asynq.Client
	Notifier  *Notifier
	Log       *slog.Logger
	Grace     time.Duration // default 2 minutes
	Every     time.Duration // default 1 minute
}

// Run sweeps every r.Every until ctx ends. Any worker may run one; sweeps are
// idempotent (each change is a compare-and-set on the record).
func (r *Reaper) Run(ctx context.Context) {
	every := r.Every
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if requeued, failed, err := r.Sweep(ctx); err != nil {
				r.Log.Warn("reaper sweep", "err", err)
			} else if requeued+failed > 0 {
				r.Log.Warn("reaper repaired jobs", "requeued", requeued, "failed", failed)
			}
		}
	}
}

// Sweep checks once and reports how many jobs it requeued and failed.
func (r *Reaper) Sweep(ctx context.Context) (requeued, failed int, err error) {
	grace := r.Grace
	if grace <= 0 {
		grace = 2 * time.Minute
	}
	ids, err := r.Jobs.RunningSince(ctx, time.Now().Add(-grace))
	if err != nil {
		return 0, 0, err
	}
	for _, id := range ids {
		info, err := r.Inspector.GetTaskInfo(QueueSwap, id)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound):
			if err := r.requeue(ctx, id); err != nil {
				return requeued, failed, err
			}
			requeued++
		case err != nil:
			return requeued, failed, fmt.Errorf("task of job %s: %w", id, err)
		case info.State == asynq.TaskStateArchived:
			e := errcode.New(errcode.Unavailable, "the workers running this job were lost %d times; try again later", info.Retried+1)
			if err := r.Jobs.Fail(ctx, id, e); err != nil && !errors.Is(err, jobs.ErrTransition) {
				return requeued, failed, err
			}
			r.Log.Error("job failed: its task was archived by asynq after lost workers", "job", id)
			if err := r.Notifier.Notify(ctx, id); err != nil {
				r.Log.Error("enqueue webhook", "job", id, "err", err)
			}
			failed++
		}
	}
	return requeued, failed, nil
}

func (r *Reaper) requeue(ctx context.Context, id string) error {
	job, err := r.Jobs.Get(ctx, id)
	if err != nil {
		return nil // deleted meanwhile
	}
	if err := r.Jobs.Requeue(ctx, id); err != nil {
		if errors.Is(err, jobs.ErrTransition) {
			return nil // it ended meanwhile
		}
		return err
	}
	t, err := NewSwapTask(id, JobTaskOptions(job)...)
	if err != nil {
		return err
	}
	if _, err := r.Queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("re-enqueue job %s: %w", id, err)
	}
	r.Log.Warn("job had no task in the queue; requeued", "job", id)
	return nil
}
