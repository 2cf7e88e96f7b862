package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/tasks"
)

// maxJSONBody caps a JSON submission, base64 inputs included (RunPod's /runsync allows
// 20 MB; base64 inflates by a third).
const maxJSONBody = 64 << 20

// Submission is a job as a client describes it in JSON. The RunPod endpoint builds
// one from its own input schemas and submits it through the same path.
type Submission struct {
	Kind      jobs.Kind       `json:"kind,omitempty"`   // image or video (from the target's content), analyze, or probe
	Source    json.RawMessage `json:"source,omitempty"` // one input or a list
	Target    *Input          `json:"target,omitempty"`
	Reference *Input          `json:"reference,omitempty"`
	Options   jobs.Options    `json:"options"`
	Webhook   *struct {
		URL string `json:"url"`
	} `json:"webhook,omitempty"`
}

type createResponse struct {
	ID     string      `json:"id"`
	Status jobs.Status `json:"status"`
}

// handleCreateJob accepts a job as JSON or as multipart/form-data and answers 202.
// With an Idempotency-Key header, the same key and request within 24 h answer with the
// first job instead of creating another.
func handleCreateJob(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		idem := r.Header.Get("Idempotency-Key")
		if len(idem) > 255 {
			writeError(w, d.Log, errcode.New(errcode.InvalidRequest, "Idempotency-Key is longer than 255 characters"))
			return
		}
		job := newJob(owner(r))
		fp := sha256.New()
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		var err error
		switch mt {
		case "multipart/form-data":
			r.Body = http.MaxBytesReader(w, r.Body, int64(d.MaxSources+2)*d.Limits.MaxBytes+d.VideoLimits.MaxBytes+1<<20)
			err = parseMultipart(r, d, job, fp)
		case "application/json", "":
			// The body is read as a stream: base64 inputs go to storage as they arrive
			// (jsonstream.go), the rest is decoded as a whole body always was.
			body := io.TeeReader(http.MaxBytesReader(w, r.Body, maxJSONBody), fp)
			scan := scanSubmission(body, d.MaxSources, func(name string, in io.Reader) (jobs.Input, error) {
				return storeStream(r.Context(), d, jobs.InputKey(job.ID, name), in, strings.HasPrefix(name, "target"))
			})
			if scan.readErr != nil {
				err = readError(scan.readErr, maxJSONBody)
				break
			}
			if idem != "" {
				// A replay is recognised once the whole body is read (its fingerprint),
				// and keeps nothing of what this request streamed.
				id, lerr := d.Jobs.Lookup(r.Context(), job.Owner, idem, hex.EncodeToString(fp.Sum(nil)))
				if lerr != nil || id != "" {
					if len(scan.streamed.list) > 0 {
						_ = d.Store.DeletePrefix(context.WithoutCancel(r.Context()), jobs.ObjectPrefix(job.ID))
					}
					replay(w, r, d, id, lerr)
					return
				}
			}
			if scan.syntaxErr != nil {
				err = scan.syntaxErr
				if _, coded := errcode.As(err); !coded {
					err = errcode.New(errcode.InvalidRequest, "the body is not a valid job: %v", err)
				}
				break
			}
			var sub Submission
			if err = decodeStrict(scan.skeleton, &sub); err == nil {
				err = resolveStreamed(r.Context(), d, job, sub, scan.streamed)
			}
			if err == nil {
				// A field given twice: the last counts, and what the others stored goes.
				if unused := scan.streamed.unused(); len(unused) > 0 {
					_ = d.Store.Delete(context.WithoutCancel(r.Context()), unused...)
				}
			}
		default:
			err = errcode.New(errcode.UnsupportedMedia, "send application/json or multipart/form-data, not %q", mt)
		}
		var existing string
		if err == nil {
			existing, err = enqueue(r.Context(), d, job, idem, hex.EncodeToString(fp.Sum(nil)))
		}
		if err != nil || existing != "" {
			// Whatever was stored for this job goes; nothing else is touched.
			_ = d.Store.DeletePrefix(context.WithoutCancel(r.Context()), jobs.ObjectPrefix(job.ID))
		}
		if existing != "" || errcode.Code(err) == errcode.IdempotencyMismatch {
			replay(w, r, d, existing, err)
			return
		}
		if err != nil {
			writeError(w, d.Log, err)
			return
		}
		d.Log.Info("job queued", "job", job.ID, "kind", job.Kind, "sources", len(job.Sources))
		w.Header().Set("Location", "/v1/jobs/"+job.ID)
		writeJSON(w, http.StatusAccepted, createResponse{ID: job.ID, Status: jobs.Queued})
	})
}

func newJob(owner string) *jobs.Job {
	return &jobs.Job{ID: uuid.Must(uuid.NewV7()).String(), Owner: owner, CreatedAt: time.Now().UTC()}
}

// replay answers an idempotent repeat with the job the key first created.
func replay(w http.ResponseWriter, r *http.Request, d *Deps, id string, err error) {
	if err != nil {
		writeError(w, d.Log, err)
		return
	}
	j, err := d.Jobs.Get(r.Context(), id)
	if err != nil {
		writeError(w, d.Log, err)
		return
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.Header().Set("Location", "/v1/jobs/"+id)
	writeJSON(w, http.StatusAccepted, createResponse{ID: id, Status: j.Status})
}

func decodeStrict(body []byte, v any) error {
	if err := unmarshalStrict(body, v); err != nil {
		return errcode.New(errcode.InvalidRequest, "the body is not a valid job: %v", err)
	}
	return nil
}

// unmarshalStrict is json.Unmarshal refusing unknown fields at any depth of v's
// structs. (A json.RawMessage inside v, like Submission.Source, is not checked: it is
// decoded with this again.)
func unmarshalStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("there is more after the JSON value; send one value")
	}
	return nil
}

// resolve checks a submission and stores its inputs under the job, decoding its base64
// inputs from the submission's strings. The RunPod endpoint submits this way: its
// bodies (10 MB for /run, 20 MB for /runsync) are read whole, not streamed.
func resolve(ctx context.Context, d *Deps, job *jobs.Job, sub Submission) error {
	return resolveStreamed(ctx, d, job, sub, nil)
}

// resolveStreamed is resolve for a body read by scanSubmission: its base64 inputs were
// stored while it was read, and each Input.Base64 is the placeholder of its result in
// streamed. Inputs are checked in the same order either way, so the same body is
// refused for the same reason.
func resolveStreamed(ctx context.Context, d *Deps, job *jobs.Job, sub Submission, streamed *streamedInputs) error {
	hook := ""
	if sub.Webhook != nil {
		hook = sub.Webhook.URL
	}
	if err := setSpec(d, job, sub.Options, hook); err != nil {
		return err
	}
	if sub.Kind == jobs.KindProbe {
		// A probe carries no inputs: it exercises the queue, a device slot, the record
		// and the webhook, nothing else.
		if len(sub.Source) > 0 || sub.Target != nil || sub.Reference != nil {
			return errcode.New(errcode.InvalidRequest, "a probe job takes no source, target or reference")
		}
		job.Kind = jobs.KindProbe
		return nil
	}
	if sub.Kind != "" && sub.Kind != jobs.KindImage && sub.Kind != jobs.KindVideo && sub.Kind != jobs.KindAnalyze {
		return errcode.New(errcode.InvalidRequest, "kind %q is not one of image, video, analyze, probe", sub.Kind)
	}
	// Strict like the rest of the body: an unknown field inside an input is refused.
	var sources []Input
	if len(sub.Source) > 0 && sub.Source[0] == '{' {
		var one Input
		if err := unmarshalStrict(sub.Source, &one); err != nil {
			return errcode.New(errcode.InvalidRequest, "source: %v", err)
		}
		sources = []Input{one}
	} else if len(sub.Source) > 0 {
		if err := unmarshalStrict(sub.Source, &sources); err != nil {
			return errcode.New(errcode.InvalidRequest, "source must be an input or a list of inputs: %v", err)
		}
	}
	if err := checkShape(d, sub.Kind, job.Options, len(sources), sub.Reference != nil, sub.Target != nil); err != nil {
		return err
	}
	for i, s := range sources {
		in, err := resolveInputStreamed(ctx, d, job.ID, fmt.Sprintf("source-%d", i), s, streamed)
		if err != nil {
			return err
		}
		job.Sources = append(job.Sources, in)
	}
	if sub.Reference != nil {
		in, err := resolveInputStreamed(ctx, d, job.ID, "reference", *sub.Reference, streamed)
		if err != nil {
			return err
		}
		job.Reference = &in
	}
	in, err := resolveInputStreamed(ctx, d, job.ID, "target", *sub.Target, streamed)
	if err != nil {
		return err
	}
	job.Target = in
	if err := setKind(job, sub.Kind); err != nil {
		return err
	}
	return resolveMappings(ctx, d, job)
}

// setKind derives image or video from the target's content; a URL target is taken to
// be what the client says (image by default) and checked by the worker.
func setKind(job *jobs.Job, asked jobs.Kind) error {
	if asked == jobs.KindAnalyze {
		// An image or a video: the worker tells them apart by content.
		job.Kind = jobs.KindAnalyze
		return nil
	}
	kind := jobs.KindImage
	if strings.HasPrefix(job.Target.ContentType, "video/") {
		kind = jobs.KindVideo
	} else if job.Target.ContentType == "" && asked != "" {
		kind = asked
	}
	if asked != "" && asked != kind {
		return errcode.New(errcode.InvalidRequest, "kind is %q but the target is a%s", asked, map[jobs.Kind]string{jobs.KindImage: "n image", jobs.KindVideo: " video"}[kind])
	}
	job.Kind = kind
	return nil
}

func checkCounts(d *Deps, sources int, target bool) error {
	switch {
	case sources == 0:
		return errcode.New(errcode.InvalidRequest, "at least one source image is required")
	case sources > d.MaxSources:
		return errcode.New(errcode.InvalidRequest, "%d sources; the limit is %d", sources, d.MaxSources)
	case !target:
		return errcode.New(errcode.InvalidRequest, "a target image or video is required")
	}
	return nil
}

// setSpec validates and records the options and webhook.
func setSpec(d *Deps, job *jobs.Job, opts jobs.Options, hook string) error {
	queue, err := validateOptions(d, opts) // options, what they need offered, and the queue (offers.go)
	if err != nil {
		return err
	}
	job.Options, job.Queue = opts, queue
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

// parseMultipart streams file parts straight to object storage, one at a time, hashing
// names and contents into fp so an Idempotency-Key can recognise a repeat (the raw body
// cannot: multipart boundaries are random).
func parseMultipart(r *http.Request, d *Deps, job *jobs.Job, fp hash.Hash) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return errcode.New(errcode.InvalidRequest, "the multipart body cannot be read: %v", err)
	}
	var opts jobs.Options
	var hook string
	target, kind := false, jobs.Kind("")
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
		name := part.FormName()
		fmt.Fprintf(fp, "\x00%s\x00", name)
		body := io.TeeReader(part, fp)
		switch name {
		case "source":
			if len(job.Sources) >= d.MaxSources {
				return errcode.New(errcode.InvalidRequest, "more than %d sources", d.MaxSources)
			}
			name := fmt.Sprintf("source-%d", len(job.Sources))
			in, err := storeStream(r.Context(), d, jobs.InputKey(job.ID, name), body, false)
			if err != nil {
				return inputError(name, err)
			}
			job.Sources = append(job.Sources, in)
		case "target", "reference":
			if (name == "target" && target) || (name == "reference" && job.Reference != nil) {
				return errcode.New(errcode.InvalidRequest, "more than one %s", name)
			}
			in, err := storeStream(r.Context(), d, jobs.InputKey(job.ID, name), body, name == "target")
			if err != nil {
				return inputError(name, err)
			}
			if name == "target" {
				job.Target, target = in, true
			} else {
				job.Reference = &in
			}
		case "options":
			b, err := io.ReadAll(io.LimitReader(body, 64<<10))
			if err != nil {
				return errcode.New(errcode.InvalidRequest, "options: %v", err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&opts); err != nil {
				return errcode.New(errcode.InvalidRequest, "options is not valid JSON options: %v", err)
			}
		case "webhook_url":
			b, _ := io.ReadAll(io.LimitReader(body, 4<<10))
			hook = strings.TrimSpace(string(b))
		case "kind":
			b, _ := io.ReadAll(io.LimitReader(body, 64))
			kind = jobs.Kind(strings.TrimSpace(string(b)))
		default:
			return errcode.New(errcode.InvalidRequest, "unknown form field %q (expected source, target, reference, options, webhook_url, kind)", name)
		}
	}
	if err := checkShape(d, kind, opts, len(job.Sources), job.Reference != nil, target); err != nil {
		return err
	}
	if err := setSpec(d, job, opts, hook); err != nil {
		return err
	}
	if err := setKind(job, kind); err != nil {
		return err
	}
	return resolveMappings(r.Context(), d, job)
}

// enqueue writes the record, binds the idempotency key, then enqueues the task: a
// worker that picks the task up always finds its record. If the key already names a
// job (a concurrent repeat), this job is withdrawn and that id returned. If the
// enqueue fails the record goes too.
//
// With SWAPD_REDIS_MIN_REPLICAS, the record is confirmed on the replicas before
// the task exists, and the task after: when Redis is failing over, the first
// confirmation is the one that fails, and the 503 then withdraws a job no worker
// can have started (the task was never enqueued). Only a replica lost between the
// two confirmations leaves a 503'd job that may run once (README, Reliability).
func enqueue(ctx context.Context, d *Deps, job *jobs.Job, idem, fingerprint string) (existing string, err error) {
	job.TTL = d.retention(keyOf(ctx), job.TTL)
	count, t := tally(ctx, d, job)
	if err := d.Jobs.CreateWith(ctx, job, jobs.CreateOptions{MaxInFlight: keyOf(ctx).Limits.MaxInFlight, Tally: t}); err != nil {
		return "", err
	}
	if count != nil {
		count.tallied = t // taken back by countJob unless the answer is a new job
	}
	if idem != "" {
		existing, err := d.Jobs.Remember(ctx, job.Owner, idem, fingerprint, job.ID)
		if err != nil || existing != "" {
			_, _ = d.Jobs.Delete(context.WithoutCancel(ctx), job)
			return existing, err
		}
	}
	if err := d.Jobs.Confirm(ctx); err != nil { // the record, before any worker can see the task
		_ = d.Jobs.Withdraw(context.WithoutCancel(ctx), job, idem)
		return "", err
	}
	if err := tasks.EnqueueSwap(ctx, d.Queue, d.Redis, job); err != nil {
		_, _ = d.Jobs.Delete(context.WithoutCancel(ctx), job)
		d.Log.Error("enqueue", "job", job.ID, "err", err)
		return "", errcode.New(errcode.Unavailable, "the job queue is unavailable; try again")
	}
	if err := d.Jobs.Confirm(ctx); err != nil { // and the task: on SWAPD_REDIS_MIN_REPLICAS replicas, or 503
		_ = d.Jobs.Withdraw(context.WithoutCancel(ctx), job, idem)
		return "", err
	}
	d.Metrics.JobSubmitted(string(job.Kind))
	return "", nil
}
