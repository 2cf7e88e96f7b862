package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/tasks"
)

// maxJSONBody caps a JSON submission, base64 inputs included (RunPod's /run allows
// 10 MB; base64 inflates by a third).
const maxJSONBody = 64 << 20

type createRequest struct {
	Source  json.RawMessage `json:"source"` // one input or a list
	Target  *inputSpec      `json:"target"`
	Options jobs.Options    `json:"options"`
	Webhook *struct {
		URL string `json:"url"`
	} `json:"webhook"`
}

type createResponse struct {
	ID     string      `json:"id"`
	Status jobs.Status `json:"status"`
}

// handleCreateJob accepts a job as JSON or as multipart/form-data and answers 202.
func handleCreateJob(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.Must(uuid.NewV7()).String()
		job := &jobs.Job{ID: id, CreatedAt: time.Now().UTC()}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		var err error
		switch mt {
		case "multipart/form-data":
			r.Body = http.MaxBytesReader(w, r.Body, int64(d.MaxSources+1)*d.Limits.MaxBytes+1<<20)
			err = parseMultipart(r, d, job)
		case "application/json", "":
			r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
			err = parseJSON(r, d, job)
		default:
			err = errcode.New(errcode.UnsupportedMedia, "send application/json or multipart/form-data, not %q", mt)
		}
		if err == nil {
			err = enqueue(r.Context(), d, job)
		}
		if err != nil {
			// Whatever was stored for this job goes; nothing else is touched.
			_ = d.Store.DeletePrefix(context.WithoutCancel(r.Context()), "jobs/"+id+"/")
			writeError(w, d.Log, err)
			return
		}
		d.Log.Info("job queued", "job", id, "sources", len(job.Sources))
		w.Header().Set("Location", "/v1/jobs/"+id)
		writeJSON(w, http.StatusAccepted, createResponse{ID: id, Status: jobs.Queued})
	})
}

func parseJSON(r *http.Request, d *Deps, job *jobs.Job) error {
	var req createRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if e := readError(err, maxJSONBody); errcode.Code(e) == errcode.InputTooLarge {
			return e
		}
		return errcode.New(errcode.InvalidRequest, "the body is not a valid job: %v", err)
	}
	var sources []inputSpec
	if len(req.Source) > 0 && req.Source[0] == '{' {
		var one inputSpec
		if err := json.Unmarshal(req.Source, &one); err != nil {
			return errcode.New(errcode.InvalidRequest, "source: %v", err)
		}
		sources = []inputSpec{one}
	} else if len(req.Source) > 0 {
		if err := json.Unmarshal(req.Source, &sources); err != nil {
			return errcode.New(errcode.InvalidRequest, "source must be an input or a list of inputs: %v", err)
		}
	}
	if err := checkCounts(d, len(sources), req.Target != nil); err != nil {
		return err
	}
	if err := setSpec(d, job, req.Options, webhookURL(req)); err != nil {
		return err
	}
	for i, s := range sources {
		in, err := resolveInput(r.Context(), d, job.ID, fmt.Sprintf("source-%d", i), s)
		if err != nil {
			return err
		}
		job.Sources = append(job.Sources, in)
	}
	in, err := resolveInput(r.Context(), d, job.ID, "target", *req.Target)
	job.Target = in
	return err
}

func webhookURL(req createRequest) string {
	if req.Webhook == nil {
		return ""
	}
	return req.Webhook.URL
}

func checkCounts(d *Deps, sources int, target bool) error {
	switch {
	case sources == 0:
		return errcode.New(errcode.InvalidRequest, "at least one source image is required")
	case sources > d.MaxSources:
		return errcode.New(errcode.InvalidRequest, "%d sources; the limit is %d", sources, d.MaxSources)
	case !target:
		return errcode.New(errcode.InvalidRequest, "a target image is required")
	}
	return nil
}

// setSpec validates and records the options and webhook.
func setSpec(d *Deps, job *jobs.Job, opts jobs.Options, hook string) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	job.Options = opts
	if hook == "" {
		return nil
	}
	if err := netguard.CheckURL(hook, d.Policy); err != nil {
		if errors.Is(err, netguard.ErrBlocked) {
			return errcode.New(errcode.URLBlocked, "webhook url %s points at a private or reserved address", hook)
		}
		return errcode.New(errcode.InvalidRequest, "webhook url: %v", err)
	}
	job.Webhook = &jobs.Webhook{URL: hook}
	return nil
}

// parseMultipart streams file parts straight to object storage, one at a time.
func parseMultipart(r *http.Request, d *Deps, job *jobs.Job) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return errcode.New(errcode.InvalidRequest, "the multipart body cannot be read: %v", err)
	}
	var opts jobs.Options
	var hook string
	target := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if e := readError(err, d.Limits.MaxBytes); errcode.Code(e) == errcode.InputTooLarge {
				return e
			}
			return errcode.New(errcode.InvalidRequest, "the multipart body is malformed: %v", err)
		}
		switch part.FormName() {
		case "source":
			if len(job.Sources) >= d.MaxSources {
				return errcode.New(errcode.InvalidRequest, "more than %d sources", d.MaxSources)
			}
			name := fmt.Sprintf("source-%d", len(job.Sources))
			in, err := storeStream(r.Context(), d, inputKey(job.ID, name), part)
			if err != nil {
				return inputError(name, err)
			}
			job.Sources = append(job.Sources, in)
		case "target":
			if target {
				return errcode.New(errcode.InvalidRequest, "more than one target")
			}
			in, err := storeStream(r.Context(), d, inputKey(job.ID, "target"), part)
			if err != nil {
				return inputError("target", err)
			}
			job.Target, target = in, true
		case "options":
			b, err := io.ReadAll(io.LimitReader(part, 64<<10))
			if err != nil {
				return errcode.New(errcode.InvalidRequest, "options: %v", err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&opts); err != nil {
				return errcode.New(errcode.InvalidRequest, "options is not valid JSON options: %v", err)
			}
		case "webhook_url":
			b, _ := io.ReadAll(io.LimitReader(part, 4<<10))
			hook = string(b)
		default:
			return errcode.New(errcode.InvalidRequest, "unknown form field %q (expected source, target, options, webhook_url)", part.FormName())
		}
	}
	if err := checkCounts(d, len(job.Sources), target); err != nil {
		return err
	}
	return setSpec(d, job, opts, hook)
}

// enqueue writes the record, then the task: a worker that picks the task up always
// finds its record. If the enqueue fails the record goes too.
func enqueue(ctx context.Context, d *Deps, job *jobs.Job) error {
	if err := d.Jobs.Create(ctx, job); err != nil {
		return err
	}
	t, err := tasks.NewSwapTask(job.ID)
	if err == nil {
		_, err = d.Queue.EnqueueContext(ctx, t)
	}
	if err != nil {
		_, _ = d.Jobs.Delete(context.WithoutCancel(ctx), job.ID)
		d.Log.Error("enqueue", "job", job.ID, "err", err)
		return errcode.New(errcode.Unavailable, "the job queue is unavailable; try again")
	}
	return nil
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// loadJob reads the job named in the path, or answers with an error and returns nil.
func loadJob(w http.ResponseWriter, r *http.Request, d *Deps) *jobs.Job {
	id := r.PathValue("id")
	if !idPattern.MatchString(id) {
		writeError(w, d.Log, errcode.New(errcode.NotFound, "no job with id %q", id))
		return nil
	}
	j, err := d.Jobs.Get(r.Context(), id)
	if err != nil {
		writeError(w, d.Log, err)
		return nil
	}
	return j
}

func handleGetJob(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if j := loadJob(w, r, d); j != nil {
			writeJSON(w, http.StatusOK, tasks.Present(r.Context(), d.Store, j, d.URLExpiry))
		}
	})
}

func handleCancelJob(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j := loadJob(w, r, d)
		if j == nil {
			return
		}
		if err := cancelJob(r.Context(), d, j.ID); err != nil {
			writeError(w, d.Log, err)
			return
		}
		if j = loadJob(w, r, d); j != nil {
			writeJSON(w, http.StatusOK, tasks.Present(r.Context(), d.Store, j, d.URLExpiry))
		}
	})
}

// cancelJob marks the job canceled in swapd's record, which is what the worker obeys,
// then tells asynq as a courtesy: a queued task is deleted, a running one is signalled.
func cancelJob(ctx context.Context, d *Deps, id string) error {
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
		_ = d.Inspector.DeleteTask(tasks.QueueSwap, id)
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
		ctx := r.Context()
		if !j.Status.Terminal() {
			if err := cancelJob(ctx, d, j.ID); err != nil && errcode.Code(err) != errcode.Conflict {
				writeError(w, d.Log, err)
				return
			}
		}
		var keys []string
		for _, in := range append(append([]jobs.Input{}, j.Sources...), j.Target) {
			if in.Key != "" {
				keys = append(keys, in.Key)
			}
		}
		if err := d.Store.Delete(ctx, keys...); err != nil {
			writeError(w, d.Log, fmt.Errorf("delete inputs of %s: %w", j.ID, err))
			return
		}
		if err := d.Store.DeletePrefix(ctx, "jobs/"+j.ID+"/"); err != nil {
			writeError(w, d.Log, fmt.Errorf("delete objects of %s: %w", j.ID, err))
			return
		}
		if _, err := d.Jobs.Delete(ctx, j.ID); err != nil {
			writeError(w, d.Log, fmt.Errorf("delete record %s: %w", j.ID, err))
			return
		}
		d.Log.Info("job deleted", "job", j.ID)
		w.WriteHeader(http.StatusNoContent)
	})
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
