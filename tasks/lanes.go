package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/pkg/errcode"
)

// migrateLanes moves the swap tasks that an older API enqueued in a lane (legacyLanes,
// from before QueueBacklog), which no worker serves any more, to the queue their job
// belongs to now, and forgets lanes left empty. Pending, scheduled and retrying tasks
// move (a scheduled one becomes due at once); an active one is left to the older
// worker running it. It returns the lanes that still hold tasks, where swapTask must
// look too, so that a job running from one is not taken for a job without a task.
//
// Each task is deleted before its job is enqueued again, so a task is never in two
// queues at once; if the enqueue then fails, the job is queued without a task, which
// the next sweep repairs (sweepQueued).
func (r *Reaper) migrateLanes(ctx context.Context, rep *Repairs) ([]string, error) {
	all, err := r.Inspector.Queues()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	var left []string
	for _, q := range all {
		if !slices.Contains(legacyLanes, q) {
			continue
		}
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
			r.Inspector.ListPendingTasks, r.Inspector.ListScheduledTasks, r.Inspector.ListRetryTasks,
		} {
			infos, err := list(q, asynq.PageSize(1000))
			if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
				return nil, fmt.Errorf("tasks of %s: %w", q, err)
			}
			for _, t := range infos {
				if t.Type != TypeSwap {
					continue
				}
				if err := r.Inspector.DeleteTask(q, t.ID); err != nil {
					if errors.Is(err, asynq.ErrTaskNotFound) {
						continue
					}
					return nil, fmt.Errorf("move task %s from %s: %w", t.ID, q, err)
				}
				job, err := r.Jobs.Get(ctx, t.ID) // a swap task's id is its job's
				if errcode.Code(err) == errcode.NotFound {
					continue
				}
				if err != nil {
					return nil, err
				}
				if job.Status.Terminal() {
					continue
				}
				if err := EnqueueSwap(ctx, r.Queue, r.Redis, job); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
					return nil, err
				}
				rep.Moved++
			}
		}
		// Refused while the lane still holds a task (an active one).
		if err := r.Inspector.DeleteQueue(q, false); err != nil {
			left = append(left, q)
		}
	}
	return left, nil
}
