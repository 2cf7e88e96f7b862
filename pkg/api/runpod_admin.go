package api

// The endpoint-wide routes of the RunPod-compatible API (see runpod.go): purge-queue
// and health.

import (
	"context"
	"errors"
	"net/http"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/runpod"
	"github.com/swapd/swapd/tasks"
)

type runpodPurgeResult struct {
	Removed int    `json:"removed"`
	Status  string `json:"status"`
}

// handleRunPodPurge cancels the caller's queued jobs, all of them, whichever API
// submitted them: every endpoint id serves swapd's one queue. Running jobs are left
// alone, as on RunPod. Each canceled job gets its canceled webhook.
func handleRunPodPurge(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		removed, cursor := 0, ""
		for {
			page, err := d.Jobs.List(ctx, owner(r), cursor, 100, jobs.Queued)
			if err != nil {
				writeRunPodError(w, d, err)
				return
			}
			for _, j := range page.Jobs {
				ok, err := purgeJob(ctx, d, j.Owner, j.ID)
				if err != nil {
					writeRunPodError(w, d, err)
					return
				}
				if ok {
					removed++
				}
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		d.Log.Info("queue purged", "owner", owner(r), "removed", removed)
		writeJSON(w, http.StatusOK, runpodPurgeResult{Removed: removed, Status: "completed"})
	})
}

// purgeJob cancels a job only if it is still queued (one that started meanwhile keeps
// running) and reports whether it did.
func purgeJob(ctx context.Context, d *Deps, owner, id string) (bool, error) {
	err := d.Jobs.CancelQueued(ctx, id)
	if errors.Is(err, jobs.ErrTransition) || errcode.Code(err) == errcode.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	deleteSwapTask(d, id)
	if err := d.Notifier.Notify(ctx, id); err != nil {
		d.Log.Error("enqueue webhook", "job", id, "err", err)
	}
	return true, nil
}

// handleRunPodHealth reports swapd's swap queue and workers in RunPod's shape. The
// counts are service-wide, as RunPod's are endpoint-wide (the same numbers the asynq
// dashboard and /metrics show any key), from asynq's Inspector:
//
//	inQueue     tasks waiting (pending + scheduled)
//	inProgress  tasks being worked on (active)
//	retried     tasks waiting to be retried after a transient failure
//	failed      tasks that failed for good, still in asynq's archive
//	completed   attempts today (UTC) that ended without error (asynq's daily counters,
//	            processed − failed; cancels count here too)
//	idle        free worker slots (concurrency less busy slots) of servers serving swaps
//	running     workers processing a swap task now
//	ready       idle + running: every slot of a live server takes jobs
//	initializing, throttled, unhealthy
//	            always 0: a worker reports only once it is up, and swapd neither
//	            throttles workers nor keeps ones that fail their heartbeat
//
// Worker numbers come from the servers' heartbeats, so they lag by up to a few seconds.
// A fresh install, whose queue asynq does not know until a first job is queued, reports
// zeros rather than an error.
func handleRunPodHealth(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h runpod.Health
		qi, err := swapQueueInfo(d.Inspector)
		switch {
		case qi == nil && err == nil: // no job queued yet: all zero
		case err != nil:
			d.Log.Error("queue info", "err", err)
			writeRunPodMessage(w, http.StatusServiceUnavailable, "the job queue is unavailable; try again")
			return
		default:
			h.Jobs.InQueue = qi.Pending + qi.Scheduled
			h.Jobs.InProgress = qi.Active
			h.Jobs.Retried = qi.Retry
			h.Jobs.Failed = qi.Archived
			h.Jobs.Completed = max(qi.Processed-qi.Failed, 0)
		}
		servers, err := d.Inspector.Servers()
		if err != nil {
			d.Log.Error("server info", "err", err)
			writeRunPodMessage(w, http.StatusServiceUnavailable, "the job queue is unavailable; try again")
			return
		}
		for _, s := range servers {
			if _, ok := s.Queues[tasks.QueueSwap]; !ok {
				continue // not a swap server (a worker's webhook server)
			}
			for _, a := range s.ActiveWorkers {
				if tasks.IsSwapQueue(a.Queue) {
					h.Workers.Running++
				}
			}
			h.Workers.Idle += max(s.Concurrency-len(s.ActiveWorkers), 0)
		}
		h.Workers.Ready = h.Workers.Idle + h.Workers.Running
		writeJSON(w, http.StatusOK, h)
	})
}

// swapQueueInfo returns asynq's view of the swap queues added up, or nil and no error
// when asynq knows none of them yet (it learns a queue when a first task is enqueued
// on it; GetQueueInfo then fails with an error of asynq's internal package that does
// not match asynq.ErrQueueNotFound).
func swapQueueInfo(in *asynq.Inspector) (*asynq.QueueInfo, error) {
	queues, err := in.Queues()
	if err != nil {
		return nil, err
	}
	var sum *asynq.QueueInfo
	for _, q := range queues {
		if !tasks.IsSwapQueue(q) {
			continue
		}
		qi, err := in.GetQueueInfo(q)
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if sum == nil {
			sum = &asynq.QueueInfo{Queue: tasks.QueueSwap}
		}
		sum.Pending += qi.Pending
		sum.Scheduled += qi.Scheduled
		sum.Active += qi.Active
		sum.Retry += qi.Retry
		sum.Archived += qi.Archived
		sum.Processed += qi.Processed
		sum.Failed += qi.Failed
	}
	return sum, nil
}
