package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

var idPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// loadJob reads the job named in the path, or answers with an error and returns nil.
func loadJob(w http.ResponseWriter, r *http.Request, d *Deps) *jobs.Job {
	id := r.PathValue("id")
	if !idPattern.MatchString(id) {
		writeError(w, d.Log, errcode.New(errcode.NotFound, "no job with id %q", id))
		return nil
	}
	j, err := d.Jobs.Get(r.Context(), id)
	if err == nil && j.Owner != owner(r) {
		// Another key's job does not exist as far as this key can tell.
		err = errcode.New(errcode.NotFound, "no job with id %q", id)
	}
	if err != nil {
		writeError(w, d.Log, err)
		return nil
	}
	return j
}

func handleGetJob(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		include := r.URL.Query().Get("include")
		if include != "" && include != "embeddings" {
			writeError(w, d.Log, errcode.New(errcode.InvalidRequest, "include %q is not embeddings", include))
			return
		}
		if j := loadJob(w, r, d); j != nil {
			if include == "embeddings" {
				// An analysis's identities with their mean embeddings: only when asked.
				j.Output.WithEmbeddings()
			}
			writeJSON(w, http.StatusOK, jobs.Present(r.Context(), d.Store, j, d.URLExpiry))
		}
	})
}

func handleCancelJob(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j := loadJob(w, r, d)
		if j == nil {
			return
		}
		if err := cancelJob(r.Context(), d, j.Owner, j.ID); err != nil {
			writeError(w, d.Log, err)
			return
		}
		if j = loadJob(w, r, d); j != nil {
			writeJSON(w, http.StatusOK, jobs.Present(r.Context(), d.Store, j, d.URLExpiry))
		}
	})
}

// cancelJob marks owner's job id canceled in swapd's record, which is what the worker
// obeys, then tells asynq as a courtesy: a queued task is deleted (from whichever swap
// queue holds it), a running one is signalled.
func cancelJob(ctx context.Context, d *Deps, owner, id string) error {
	prev, err := d.Jobs.Cancel(ctx, id)
	var te *jobs.TransitionError
	if errors.As(err, &te) {
		return errcode.New(errcode.Conflict, "job %s is already %s", id, te.Current)
	}
	if err != nil {
		return err
	}
	switch prev {
	case jobs.Queued:
		deleteSwapTask(d, id)
	case jobs.Running:
		_ = d.Inspector.CancelProcessing(id)
	}
	if err := d.Notifier.Notify(ctx, id); err != nil {
		d.Log.Error("enqueue webhook", "job", id, "err", err)
	}
	d.Log.Info("job canceled", "job", id, "was", prev)
	return nil
}

// handleDeleteJob removes the record, the inputs and the output. A live job is
// canceled first so no worker writes an output after the delete.
func handleDeleteJob(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j := loadJob(w, r, d)
		if j == nil {
			return
		}
		if err := deleteJob(r.Context(), d, j); err != nil {
			writeError(w, d.Log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// deleteJob cancels j if it is live (so no worker writes an output after the delete),
// then removes its uploads, its objects and its record.
func deleteJob(ctx context.Context, d *Deps, j *jobs.Job) error {
	if !j.Status.Terminal() {
		if err := cancelJob(ctx, d, j.Owner, j.ID); err != nil && errcode.Code(err) != errcode.Conflict {
			return err
		}
	}
	if err := d.Store.Delete(ctx, ownUploads(j.Owner, j.Inputs())...); err != nil {
		return fmt.Errorf("delete inputs of %s: %w", j.ID, err)
	}
	if err := removeJob(ctx, d, j); err != nil {
		return err
	}
	d.Log.Info("job deleted", "job", j.ID)
	return nil
}

// ownUploads lists the upload keys among ins that owner's key uploaded: only those
// go with a job, since a record written before uploads were bound to keys may name
// another tenant's upload.
func ownUploads(owner string, ins []jobs.Input) []string {
	var keys []string
	for _, in := range ins {
		if in.Key != "" && ownsUpload(owner, in.Key) {
			keys = append(keys, in.Key)
		}
	}
	return keys
}

// removeJob deletes the objects under j's prefix (inputs the API stored, output,
// thumbnails) and then its record.
func removeJob(ctx context.Context, d *Deps, j *jobs.Job) error {
	if err := d.Store.DeletePrefix(ctx, jobs.ObjectPrefix(j.ID)); err != nil {
		return fmt.Errorf("delete objects of %s: %w", j.ID, err)
	}
	if _, err := d.Jobs.Delete(ctx, j); err != nil {
		return fmt.Errorf("delete record %s: %w", j.ID, err)
	}
	return nil
}

// handleJobOutput redirects to a presigned URL, so bytes flow from storage to the
// client without passing through the API.
func handleJobOutput(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j := loadJob(w, r, d)
		if j == nil {
			return
		}
		if j.Status != jobs.Succeeded || j.Output == nil {
			writeError(w, d.Log, errcode.New(errcode.Conflict, "job %s is %s; its output exists once it has succeeded", j.ID, j.Status))
			return
		}
		u, err := d.Store.PresignGet(r.Context(), j.Output.Key, d.URLExpiry, "")
		if err != nil {
			writeError(w, d.Log, fmt.Errorf("presign output of %s: %w", j.ID, err))
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
	})
}

// handleListJobs lists the caller's jobs, newest first: ?limit= (1–100, default 20),
// ?cursor= (next_cursor of the previous page), ?status=.
func handleListJobs(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := 20
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				writeError(w, d.Log, errcode.New(errcode.InvalidRequest, "limit must be 1–100"))
				return
			}
			limit = n
		}
		status := jobs.Status(q.Get("status"))
		switch status {
		case "", jobs.Queued, jobs.Running, jobs.Succeeded, jobs.Failed, jobs.Canceled:
		default:
			writeError(w, d.Log, errcode.New(errcode.InvalidRequest, "status %q is not a job status", status))
			return
		}
		cursor := q.Get("cursor")
		if cursor != "" && !idPattern.MatchString(cursor) {
			writeError(w, d.Log, errcode.New(errcode.InvalidRequest, "cursor %q is not a cursor from this API", cursor))
			return
		}
		page, err := d.Jobs.List(r.Context(), owner(r), cursor, limit, status)
		if err != nil {
			writeError(w, d.Log, err)
			return
		}
		if page.Jobs == nil {
			page.Jobs = []*jobs.Job{}
		}
		for _, j := range page.Jobs {
			jobs.Present(r.Context(), d.Store, j, d.URLExpiry)
		}
		writeJSON(w, http.StatusOK, page)
	})
}

// deleteSwapTask removes a queued job's task from asynq (a courtesy: the record
// already says the job will not run), wherever it waits: the shared queue, a worker
// profile's queue (tasks.ProfileQueue), or a queue an older version enqueued it in
// (the backlog queue, a lane). An absent task is fine.
func deleteSwapTask(d *Deps, id string) {
	queues := []string{tasks.QueueSwap, tasks.QueueBacklog}
	if all, err := d.Inspector.Queues(); err == nil {
		for _, q := range all {
			if tasks.IsSwapQueue(q) && !slices.Contains(queues, q) {
				queues = append(queues, q)
			}
		}
	}
	for _, q := range queues {
		_ = d.Inspector.DeleteTask(q, id)
	}
}
