package api

// The job routes of the RunPod-compatible API (see runpod.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/runpod"
	"github.com/swapd/swapd/tasks"
)

// runpodWait reads ?wait= (ms) of /runsync and /status-sync, within RunPod's bounds,
// or answers 400 and returns false.
func runpodWait(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return runsyncDefaultWait, true
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		writeRunPodMessage(w, http.StatusBadRequest, fmt.Sprintf("wait %q is not a number of milliseconds", v))
		return 0, false
	}
	return min(max(time.Duration(ms)*time.Millisecond, runsyncMinWait), runsyncMaxWait), true
}

// handleRunPodRun serves POST /run: queue the job, answer {id, status: IN_QUEUE}.
func handleRunPodRun(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		job, ok := runpodAccept(w, r, d, "/run", runpod.MaxRunBody, runpod.RunTTL)
		if ok {
			writeJSON(w, http.StatusOK, runpod.Result{ID: job.ID, Status: runpod.InQueue})
		}
	})
}

// handleRunPodRunSync serves POST /runsync: queue the job, wait up to ?wait= ms for it
// to end, and answer its status as it then is.
func handleRunPodRunSync(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wait, ok := runpodWait(w, r)
		if !ok {
			return
		}
		job, ok := runpodAccept(w, r, d, "/runsync", runpod.MaxRunSyncBody, runpod.RunSyncTTL)
		if !ok {
			return
		}
		j, err := awaitJob(r.Context(), d, job.ID, wait)
		if err != nil {
			writeRunPodError(w, d, err)
			return
		}
		writeJSON(w, http.StatusOK, runpod.Render(r.Context(), d.objects(), j, d.URLExpiry))
	})
}

// runpodAccept reads a submit body of at most limit bytes and queues its job; on
// failure it has answered, in RunPod's shape.
func runpodAccept(w http.ResponseWriter, r *http.Request, d *Deps, route string, limit int64, ttl time.Duration) (*jobs.Job, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeRunPodMessage(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("payload too large: the %s request body is over the limit of %d MB", route, limit>>20))
			return nil, false
		}
		writeRunPodMessage(w, http.StatusBadRequest, "the request body cannot be read")
		return nil, false
	}
	job, err := runpodSubmit(r.Context(), d, owner(r), body, ttl)
	if err != nil {
		writeRunPodError(w, d, err)
		return nil, false
	}
	d.Log.Info("job queued", "job", job.ID, "kind", job.Kind, "via", job.Via)
	return job, true
}

// runpodSubmit turns a RunPod request into a swapd job of owner and queues it. The
// policy becomes the record's execution timeout and ttl; without a ttl the record is
// kept for RunPod's result retention of the route (defaultTTL) after the job ends.
func runpodSubmit(ctx context.Context, d *Deps, owner string, body []byte, defaultTTL time.Duration) (*jobs.Job, error) {
	req, err := runpod.DecodeRequest(body)
	if err != nil {
		return nil, err
	}
	in, err := runpod.ParseInput(req.Input)
	if err != nil {
		return nil, err
	}
	job := newJob(owner)
	job.Via = in.Via
	job.TTL = defaultTTL
	if ttl, ok, _ := req.Policy.RecordTTL(); ok {
		job.TTL = ttl
	}
	if t, ok, _ := req.Policy.Timeout(); ok {
		job.Timeout = t
	}
	job.LowPriority = req.Policy != nil && req.Policy.LowPriority

	sub := Submission{Kind: in.Kind, Options: in.Options}
	if in.Source != nil {
		sub.Source, _ = json.Marshal(fileInput(in.Source))
	}
	if in.Target != nil {
		t := fileInput(in.Target)
		sub.Target = &t
	}
	if hook := req.Hook(); hook != "" {
		sub.Webhook = &struct {
			URL string `json:"url"`
		}{URL: hook}
	}
	err = resolve(ctx, d, job, sub)
	if err == nil {
		err = runpodEnqueue(ctx, d, job)
	}
	if err != nil {
		_ = d.Store.DeletePrefix(context.WithoutCancel(ctx), jobs.ObjectPrefix(job.ID))
		return nil, err
	}
	return job, nil
}

func fileInput(f *runpod.File) Input {
	if f.URL != "" {
		return Input{URL: f.URL}
	}
	return Input{Base64: f.Base64}
}

// runpodEnqueue writes the record and enqueues its task, as enqueue does for native
// jobs (RunPod requests have no idempotency key).
func runpodEnqueue(ctx context.Context, d *Deps, job *jobs.Job) error {
	_, err := enqueue(ctx, d, job, "", "")
	return err
}

// awaitJob polls the record until the job ends, wait passes or the client goes away,
// and returns it as it then is.
func awaitJob(ctx context.Context, d *Deps, id string, wait time.Duration) (*jobs.Job, error) {
	deadline := time.Now().Add(wait)
	poll := 50 * time.Millisecond
	for {
		st, err := d.Jobs.Status(ctx, id)
		left := time.Until(deadline)
		if err != nil || st.Terminal() || left <= 0 {
			break
		}
		t := time.NewTimer(min(poll, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		poll = min(poll*2, 500*time.Millisecond)
	}
	return d.Jobs.Get(ctx, id)
}

// runpodLoad reads the caller's job named in the path, or answers 404 and returns nil.
func runpodLoad(w http.ResponseWriter, r *http.Request, d *Deps) *jobs.Job {
	id := r.PathValue("id")
	notFound := func() {
		writeRunPodMessage(w, http.StatusNotFound, fmt.Sprintf("job %q not found (it may have expired)", id))
	}
	if !idPattern.MatchString(id) {
		notFound()
		return nil
	}
	j, err := d.Jobs.Get(r.Context(), id)
	switch {
	case errcode.Code(err) == errcode.NotFound, err == nil && j.Owner != owner(r):
		notFound()
		return nil
	case err != nil:
		writeRunPodError(w, d, err)
		return nil
	}
	return j
}

func handleRunPodStatus(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if j := runpodLoad(w, r, d); j != nil {
			writeJSON(w, http.StatusOK, runpod.Render(r.Context(), d.objects(), j, d.URLExpiry))
		}
	})
}

// handleRunPodStatusSync serves /status-sync/{id}?wait=ms, which runpod-sdk's runSync
// polls once /runsync has answered before the job ended: it waits, as /runsync does,
// until the job ends or wait passes, then answers the job's status.
func handleRunPodStatusSync(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wait, ok := runpodWait(w, r)
		if !ok {
			return
		}
		j := runpodLoad(w, r, d)
		if j == nil {
			return
		}
		if !j.Status.Terminal() {
			var err error
			if j, err = awaitJob(r.Context(), d, j.ID, wait); err != nil {
				writeRunPodError(w, d, err)
				return
			}
		}
		writeJSON(w, http.StatusOK, runpod.Render(r.Context(), d.objects(), j, d.URLExpiry))
	})
}

// streamWait is how long /stream waits for something new (progress or the job's end)
// before answering an empty stream: short enough for the clients' request timeouts
// (runpod-python's is 10 s), long enough that runpod-sdk's stream loop, which polls
// without pause, does not spin.
const streamWait = 3 * time.Second

// handleRunPodStream hands out the job's progress as stream chunks, each once
// (jobs.Store.TakeStream keeps the cursor in Redis), as RunPod hands out each chunk a
// generator handler yields once. With nothing new and the job still live it waits up
// to streamWait. A job that has ended answers its final status with whatever progress
// was not handed out yet, and from then on its final status and an empty stream, so
// runpod-python's Job.stream loop (until the status is final and the stream empty)
// ends.
func handleRunPodStream(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if runpodLoad(w, r, d) == nil {
			return
		}
		id := r.PathValue("id")
		deadline := time.Now().Add(streamWait)
		poll := 50 * time.Millisecond
		for {
			j, fresh, err := d.Jobs.TakeStream(r.Context(), id)
			if err != nil {
				if r.Context().Err() == nil {
					writeRunPodError(w, d, err)
				}
				return
			}
			left := time.Until(deadline)
			if fresh || j.Status.Terminal() || left <= 0 {
				writeJSON(w, http.StatusOK, runpod.Stream(j, fresh))
				return
			}
			t := time.NewTimer(min(poll, left))
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
			poll = min(poll*2, 250*time.Millisecond)
		}
	})
}

type runpodIDStatus struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// handleRunPodCancel cancels a queued or running job as /v1's cancel does. A job that
// has already ended is left alone and its status returned. The answer carries the
// job's delayTime and executionTime, as RunPod's does.
func handleRunPodCancel(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j := runpodLoad(w, r, d)
		if j == nil {
			return
		}
		if !j.Status.Terminal() {
			if err := cancelJob(r.Context(), d, j.Owner, j.ID); err != nil && errcode.Code(err) != errcode.Conflict {
				writeRunPodError(w, d, err)
				return
			}
			if j = runpodLoad(w, r, d); j == nil {
				return
			}
		}
		writeJSON(w, http.StatusOK, runpod.CancelAnswer(j, time.Now()))
	})
}

// handleRunPodRetry runs a failed job again under its id: the record goes back to
// queued with error and output cleared, the failed run's task (archived by asynq) is
// deleted and a new one enqueued. Attempts keep counting.
func handleRunPodRetry(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j := runpodLoad(w, r, d)
		if j == nil {
			return
		}
		notRetryable := func(status string) {
			writeRunPodMessage(w, http.StatusBadRequest, fmt.Sprintf("job %s is %s; only FAILED or TIMED_OUT jobs can be retried", j.ID, status))
		}
		if j.Status != jobs.Failed {
			notRetryable(runpod.Status(j))
			return
		}
		ctx := r.Context()
		var te *jobs.TransitionError
		if err := d.Jobs.Retry(ctx, j.ID); errors.As(err, &te) {
			notRetryable(runpod.Status(&jobs.Job{Status: te.Current}))
			return
		} else if err != nil {
			writeRunPodError(w, d, err)
			return
		}
		if err := requeue(ctx, d, j); err != nil {
			// Put the record back as it was, so the client can retry the retry.
			e := j.Error
			if e == nil {
				e = errcode.New(errcode.Internal, "the job failed")
			}
			_, _ = d.Jobs.Fail(context.WithoutCancel(ctx), j.ID, e)
			writeRunPodError(w, d, err)
			return
		}
		d.Log.Info("job retried", "job", j.ID, "retries", j.Retries+1)
		writeJSON(w, http.StatusOK, runpodIDStatus{ID: j.ID, Status: runpod.InQueue})
	})
}

// requeue enqueues the job's task again. The failed run's task stays in asynq's
// archive under the job's id, which would refuse the new one, so it is deleted first.
// Right after a failure the task can still be active for a moment (asynq archives it
// once the handler has returned), so a conflict is retried for a few seconds.
func requeue(ctx context.Context, d *Deps, j *jobs.Job) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		deleteSwapTask(d, j.ID) // absent is fine
		err := tasks.EnqueueSwap(ctx, d.Queue, d.Redis, j)
		if err == nil {
			return nil
		}
		if !errors.Is(err, asynq.ErrTaskIDConflict) || time.Now().After(deadline) {
			d.Log.Error("re-enqueue", "job", j.ID, "err", err)
			return errcode.New(errcode.Unavailable, "the job queue is unavailable; try again")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
