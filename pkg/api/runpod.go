package api

// The RunPod-compatible job API: RunPod's serverless queue protocol served under
// /v2/{endpoint}/ for the endpoint ids in Deps.RunPodEndpoints, so a RunPod client
// (runpod-python, or plain HTTP written against api.runpod.ai) can use swapd by changing
// its base URL and key.
//
// Jobs submitted here are ordinary swapd jobs of the calling key, visible under
// /v1/jobs too, with jobs.Job.Via naming the input schema (pkg/runpod parses both and
// renders results). Every endpoint id serves the same queue: ids only exist so clients
// configured with one keep working, and an unknown id is a 404.
//
//	POST /run           queue a job                     → {"id", "status": "IN_QUEUE"}
//	POST /runsync       queue and wait (?wait= ms, 1000–300000, default 90000) → the status
//	GET  /status/{id}   the job as RunPod shows it      (?ttl= is ignored)
//	GET  /stream/{id}   progress as stream chunks
//	POST /cancel/{id}   cancel a queued or running job  → {"id", "status"}
//	POST /retry/{id}    run a FAILED or TIMED_OUT job again under the same id
//	POST /purge-queue   cancel the caller's queued jobs → {"removed", "status": "completed"}
//	GET  /health        queue and worker counts
//
// Errors have RunPod's shape, {"error": "<message>"}, with swapd's HTTP statuses.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/runpod"
	"github.com/swapd/swapd/tasks"
)

// DefaultRunPodEndpoint is the endpoint id served when none is configured.
const DefaultRunPodEndpoint = "swapd"

// /runsync waits this long by default, and within these bounds when ?wait= is given
// (RunPod's values, milliseconds in the query).
const (
	runsyncDefaultWait = 90 * time.Second
	runsyncMinWait     = time.Second
	runsyncMaxWait     = 300 * time.Second
)

// runpodAuth accepts swapd's keys as RunPod clients send them, "Authorization: Bearer
// <key>" or the bare "Authorization: <key>" of RunPod's reference examples, then
// checks the endpoint id. Both failures answer in RunPod's error shape.
func runpodAuth(d *Deps) func(http.Handler) http.Handler {
	endpoints := map[string]bool{}
	for _, e := range d.RunPodEndpoints {
		if e = strings.TrimSpace(e); e != "" {
			endpoints[e] = true
		}
	}
	if len(endpoints) == 0 {
		endpoints[DefaultRunPodEndpoint] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := runpodKey(r)
			if !validKey(d.Keys, k) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="swapd"`)
				writeRunPodMessage(w, http.StatusUnauthorized, "unauthorized: send your API key as 'Authorization: Bearer <key>'")
				return
			}
			if ep := r.PathValue("endpoint"); !endpoints[ep] {
				writeRunPodMessage(w, http.StatusNotFound, fmt.Sprintf("endpoint %q not found", ep))
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ownerCtxKey{}, KeyID(k))))
		})
	}
}

// runpodKey is the key of "Bearer <key>" (any case), of Basic auth, or the whole
// header when it has no scheme.
func runpodKey(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, rest, found := strings.Cut(h, " ")
	switch {
	case !found:
		return h
	case strings.EqualFold(scheme, "Bearer"):
		return strings.TrimSpace(rest)
	}
	return presentedKey(r)
}

type runpodError struct {
	Error string `json:"error"`
}

func writeRunPodMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, runpodError{Error: msg})
}

// writeRunPodError answers with err's message and the HTTP status of its code; errors
// without a code are logged and reported as an internal error.
func writeRunPodError(w http.ResponseWriter, d *Deps, err error) {
	e, ok := errcode.As(err)
	if !ok {
		d.Log.Error("internal error", "err", err)
		e = errcode.New(errcode.Internal, "an internal error occurred; it has been logged")
	}
	writeRunPodMessage(w, errcode.HTTPStatus(e.Code), e.Message)
}

// objects is the store as pkg/runpod reads it (nil when there is none, as in tests).
func (d *Deps) objects() runpod.Objects {
	if d.Store == nil {
		return nil
	}
	return d.Store
}

// handleRunPodSubmit serves /run (sync false) and /runsync.
func handleRunPodSubmit(d *Deps, sync bool) http.Handler {
	limit, route, ttl := int64(runpod.MaxRunBody), "/run", runpod.RunTTL
	if sync {
		limit, route, ttl = runpod.MaxRunSyncBody, "/runsync", runpod.RunSyncTTL
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wait := runsyncDefaultWait
		if v := r.URL.Query().Get("wait"); sync && v != "" {
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				writeRunPodMessage(w, http.StatusBadRequest, fmt.Sprintf("wait %q is not a number of milliseconds", v))
				return
			}
			wait = min(max(time.Duration(ms)*time.Millisecond, runsyncMinWait), runsyncMaxWait)
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeRunPodMessage(w, http.StatusRequestEntityTooLarge,
					fmt.Sprintf("payload too large: the %s request body is over the limit of %d MB", route, limit>>20))
				return
			}
			writeRunPodMessage(w, http.StatusBadRequest, "the request body cannot be read")
			return
		}
		job, err := runpodSubmit(r.Context(), d, owner(r), body, ttl)
		if err != nil {
			writeRunPodError(w, d, err)
			return
		}
		d.Log.Info("job queued", "job", job.ID, "kind", job.Kind, "via", job.Via)
		if !sync {
			writeJSON(w, http.StatusOK, runpod.Result{ID: job.ID, Status: runpod.InQueue})
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
	if hook := strings.TrimSpace(req.Webhook); hook != "" {
		sub.Webhook = &struct {
			URL string `json:"url"`
		}{URL: hook}
	}
	err = resolve(ctx, d, job, sub)
	if err == nil {
		err = runpodEnqueue(ctx, d, job)
	}
	if err != nil {
		_ = d.Store.DeletePrefix(context.WithoutCancel(ctx), "jobs/"+job.ID+"/")
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

// runpodEnqueue writes the record and enqueues its task with the record's own task
// options (execution timeout), like enqueue does for native jobs.
func runpodEnqueue(ctx context.Context, d *Deps, job *jobs.Job) error {
	if err := d.Jobs.Create(ctx, job); err != nil {
		return err
	}
	t, err := tasks.NewSwapTask(job.ID, tasks.JobTaskOptions(job)...)
	if err == nil {
		_, err = d.Queue.EnqueueContext(ctx, t)
	}
	if err != nil {
		_, _ = d.Jobs.Delete(context.WithoutCancel(ctx), job)
		d.Log.Error("enqueue", "job", job.ID, "err", err)
		return errcode.New(errcode.Unavailable, "the job queue is unavailable; try again")
	}
	d.Metrics.JobSubmitted(string(job.Kind))
	return nil
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

func handleRunPodStream(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if j := runpodLoad(w, r, d); j != nil {
			writeJSON(w, http.StatusOK, runpod.Stream(j))
		}
	})
}

type runpodIDStatus struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// handleRunPodCancel cancels a queued or running job as /v1's cancel does. A job that
// has already ended is left alone and its status returned.
func handleRunPodCancel(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j := runpodLoad(w, r, d)
		if j == nil {
			return
		}
		if !j.Status.Terminal() {
			if err := cancelJob(r.Context(), d, j.ID); err != nil && errcode.Code(err) != errcode.Conflict {
				writeRunPodError(w, d, err)
				return
			}
			if j = runpodLoad(w, r, d); j == nil {
				return
			}
		}
		writeJSON(w, http.StatusOK, runpodIDStatus{ID: j.ID, Status: runpod.Status(j)})
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
			_ = d.Jobs.Fail(context.WithoutCancel(ctx), j.ID, e)
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
		_ = d.Inspector.DeleteTask(tasks.QueueSwap, j.ID) // absent is fine
		t, err := tasks.NewSwapTask(j.ID, tasks.JobTaskOptions(j)...)
		if err == nil {
			_, err = d.Queue.EnqueueContext(ctx, t)
		}
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
				ok, err := purgeJob(ctx, d, j.ID)
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
func purgeJob(ctx context.Context, d *Deps, id string) (bool, error) {
	err := d.Jobs.CancelQueued(ctx, id)
	if errors.Is(err, jobs.ErrTransition) || errcode.Code(err) == errcode.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_ = d.Inspector.DeleteTask(tasks.QueueSwap, id)
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
//
// Worker numbers come from the servers' heartbeats, so they lag by up to a few seconds.
func handleRunPodHealth(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h runpod.Health
		qi, err := d.Inspector.GetQueueInfo(tasks.QueueSwap)
		switch {
		case errors.Is(err, asynq.ErrQueueNotFound):
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
				continue
			}
			for _, a := range s.ActiveWorkers {
				if a.Queue == tasks.QueueSwap {
					h.Workers.Running++
				}
			}
			h.Workers.Idle += max(s.Concurrency-len(s.ActiveWorkers), 0)
		}
		writeJSON(w, http.StatusOK, h)
	})
}

// withRunPodPaths returns extra with the OpenAPI description of the /v2 routes added.
func withRunPodPaths(extra map[string]any) map[string]any {
	out := make(map[string]any, len(extra)+8)
	for k, v := range extra {
		out[k] = v
	}
	str := map[string]any{"type": "string"}
	endpoint := map[string]any{"name": "endpoint", "in": "path", "required": true, "schema": str,
		"description": "an endpoint id from SWAPD_RUNPOD_ENDPOINTS (default " + DefaultRunPodEndpoint + ")"}
	id := map[string]any{"name": "id", "in": "path", "required": true, "schema": str}
	params := func(ps ...any) map[string]any { return map[string]any{"parameters": ps} }
	schema := func(v any) map[string]any {
		return map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": schemaOf(v)}}}
	}
	respond := func(desc string, v any) map[string]any {
		r := schema(v)
		r["description"] = desc
		return r
	}
	rpErr := respond("RunPod error shape: {\"error\": \"<message>\"}", runpodError{})
	status := respond("the job as RunPod shows it; output by input schema (see pkg/runpod.Render), error \"<CODE>: <message>\"", runpod.Result{})
	request := map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
		"type": "object", "required": []string{"input"}, "properties": map[string]any{
			"input": map[string]any{"type": "object", "description": "files schema {process_type, source_file, target_file, options{mouth_mask, use_face_enhancer}} " +
				"or runpod-worker-inswapper schema {source_image, target_image, source_indexes, target_indexes, face_restore, codeformer_fidelity, output_format, …}"},
			"webhook": map[string]any{"type": "string", "description": "receives the /status body when the job ends (signed, retried)"},
			"policy": map[string]any{"type": "object", "properties": map[string]any{
				"executionTimeout": map[string]any{"type": "integer", "description": "ms, 5000–604800000, per attempt; default 600000"},
				"ttl":              map[string]any{"type": "integer", "description": "ms the record is kept after the job ends, 10000–604800000; default 30 min (/run), 1 min (/runsync)"},
				"lowPriority":      map[string]any{"type": "boolean", "description": "recorded only"},
			}},
			"s3Config": map[string]any{"type": "object", "description": "accepted and ignored: outputs stay in swapd's bucket"},
		}}}}}
	submit := func(summary string, limit string, extra ...any) map[string]any {
		return op(summary, map[string]any{"200": status, "400": rpErr, "401": rpErr, "404": rpErr, "413": respond("payload too large (limit "+limit+")", runpodError{}), "503": rpErr},
			params(append([]any{endpoint}, extra...)...), map[string]any{"requestBody": request})
	}
	wait := map[string]any{"name": "wait", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1000, "maximum": 300000}, "description": "ms to wait, default 90000"}
	ttl := map[string]any{"name": "ttl", "in": "query", "schema": map[string]any{"type": "integer"}, "description": "accepted and ignored"}
	out["/v2/{endpoint}/run"] = map[string]any{"post": submit("RunPod: queue a job (answers {id, status: IN_QUEUE})", "10 MB")}
	out["/v2/{endpoint}/runsync"] = map[string]any{"post": submit("RunPod: queue a job and wait for it", "20 MB", wait)}
	out["/v2/{endpoint}/status/{id}"] = map[string]any{"get": op("RunPod: a job's status and output", map[string]any{"200": status, "404": rpErr}, params(endpoint, id, ttl))}
	out["/v2/{endpoint}/stream/{id}"] = map[string]any{"get": op("RunPod: a job's progress as stream chunks", map[string]any{"200": respond("status and progress chunks", runpod.StreamResult{}), "404": rpErr}, params(endpoint, id))}
	out["/v2/{endpoint}/cancel/{id}"] = map[string]any{"post": op("RunPod: cancel a queued or running job", map[string]any{"200": respond("id and status", runpodIDStatus{}), "404": rpErr}, params(endpoint, id))}
	out["/v2/{endpoint}/retry/{id}"] = map[string]any{"post": op("RunPod: run a FAILED or TIMED_OUT job again under the same id", map[string]any{"200": respond("id and IN_QUEUE", runpodIDStatus{}), "400": rpErr, "404": rpErr}, params(endpoint, id))}
	out["/v2/{endpoint}/purge-queue"] = map[string]any{"post": op("RunPod: cancel the caller's queued jobs", map[string]any{"200": respond("how many were removed", runpodPurgeResult{})}, params(endpoint))}
	out["/v2/{endpoint}/health"] = map[string]any{"get": op("RunPod: queue and worker counts (service-wide, from asynq)", map[string]any{"200": respond("counts", runpod.Health{}), "503": rpErr}, params(endpoint))}
	return out
}
