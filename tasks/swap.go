package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/metrics"
	"github.com/swapd/swapd/pkg/storage"
	"github.com/swapd/swapd/pkg/usage"
)

// Devices hands out a device's pipeline together with one of its slots; release gives
// the slot back. A job holds the slot only while it runs inference, not while it
// fetches inputs or uploads its output.
type Devices interface {
	Acquire(ctx context.Context) (p Pipeline, release func(), err error)
}

// SwapHandler runs swap tasks.
type SwapHandler struct {
	Jobs     *jobs.Store
	Store    *storage.Store
	Fetcher  *Fetcher
	Devices  Devices
	Notifier *Notifier
	Limits   media.Limits
	Video    media.VideoLimits
	Memory   *media.Budget    // optional: bounds the decoded pixels jobs hold at once
	Cache    *EmbeddingCache  // optional
	Metrics  *metrics.Metrics // optional
	Usage    *usage.Counter   // optional: video frames count against the key's daily quota
	Log      *slog.Logger

	// OutageBudget is how long a job retries through transient failures (storage,
	// network, source servers) before failing with UNAVAILABLE; default
	// DefaultOutageBudget. Counted from the job's first transient failure.
	OutageBudget time.Duration

	// CancelPoll is how often a running job re-reads its status to notice a cancel
	// (default 200 ms). asynq's own CancelProcessing is best-effort and sends the task
	// to retry, so swapd's record is what decides.
	CancelPoll time.Duration
}

// ProcessTask implements asynq.Handler.
func (h *SwapHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p SwapPayload
	if err := decodePayload(t, &p); err != nil {
		return err
	}
	log := h.Log.With("job", p.JobID)
	if err := h.Jobs.Start(ctx, p.JobID); err != nil {
		if errors.Is(err, jobs.ErrTransition) || errcode.Code(err) == errcode.NotFound {
			// Terminal, canceled or deleted: a re-delivery must not run it again.
			log.Info("job not runnable, skipping", "reason", err)
			return nil
		}
		return fmt.Errorf("start job %s: %w", p.JobID, err)
	}
	job, err := h.Jobs.Get(ctx, p.JobID)
	if err != nil {
		return fmt.Errorf("load job %s: %w", p.JobID, err)
	}
	log.Info("job running", "attempt", job.Attempts)

	runCtx, stop := h.watchCancel(ctx, job.ID)
	out, stages, runErr := h.run(runCtx, job)
	canceled := stop()
	if runErr != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// asynq's per-task deadline: the job is too long for its execution timeout, and
		// another attempt would be too. (asynq will still send the task to retry, since
		// its context ended; the terminal record makes that attempt a no-op.)
		timeout := job.Timeout
		if timeout <= 0 {
			timeout = SwapTimeout
		}
		runErr = errcode.New(errcode.TimedOut, "the job ran longer than its execution timeout of %d ms", timeout.Milliseconds())
	}
	// Record the outcome even when asynq's context has ended (deadline, shutdown).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()

	if runErr == nil && !canceled {
		err := h.Jobs.Succeed(ctx, job.ID, out, stages)
		if err == nil {
			log.Info("job succeeded", "kind", job.Kind, "stages", stages)
			h.observe(job, jobs.Succeeded, "", stages)
			if h.Usage != nil && out != nil {
				if err := h.Usage.AddFrames(ctx, job.Owner, int64(out.Frames)); err != nil {
					log.Warn("count usage", "err", err)
				}
			}
			h.notify(ctx, log, job.ID)
			return nil
		}
		if !errors.Is(err, jobs.ErrTransition) {
			return fmt.Errorf("record success of job %s: %w", job.ID, err)
		}
		canceled = true // canceled between the last step and now
	}
	if canceled || h.isCanceled(ctx, job.ID) {
		// The client canceled: leave no output behind, and tell asynq all is done.
		if err := h.Store.DeletePrefix(ctx, jobs.OutputPrefix(job.ID)); err != nil {
			log.Warn("remove output of canceled job", "err", err)
		}
		log.Info("job canceled while running")
		h.observe(job, jobs.Canceled, "", stages)
		return nil
	}
	return h.fail(ctx, log, job, runErr)
}

// fail decides between retrying and failing the job for good.
func (h *SwapHandler) fail(ctx context.Context, log *slog.Logger, job *jobs.Job, runErr error) error {
	if e, ok := errcode.As(runErr); ok && e.Code != errcode.Unavailable {
		// The input is at fault: retrying cannot help.
		log.Info("job failed", "code", e.Code, "message", e.Message)
		if err := h.Jobs.Fail(ctx, job.ID, e); err != nil {
			return fmt.Errorf("record failure of job %s: %w", job.ID, err)
		}
		h.observe(job, jobs.Failed, e.Code, nil)
		h.notify(ctx, log, job.ID)
		return fmt.Errorf("%w: %w", runErr, asynq.SkipRetry)
	}
	// A transient failure: retried by elapsed time, not by a count of quick attempts,
	// so an outage of storage up to the budget delays the job instead of failing it.
	since, err := h.Jobs.MarkTransient(ctx, job.ID)
	if err != nil {
		return fmt.Errorf("record transient failure of job %s: %w (after %w)", job.ID, err, runErr)
	}
	budget := h.OutageBudget
	if budget <= 0 {
		budget = DefaultOutageBudget
	}
	if outage := time.Since(since); outage > budget {
		log.Error("job failed: transient failures outlasted the outage budget", "attempts", job.Attempts, "outage", outage.Round(time.Second), "err", runErr)
		e := errcode.New(errcode.Unavailable, "the job kept failing on a transient error (storage, network or a source server) for %s over %d attempts; try again later", outage.Round(time.Second), job.Attempts)
		if err := h.Jobs.Fail(ctx, job.ID, e); err != nil {
			return fmt.Errorf("record failure of job %s: %w", job.ID, err)
		}
		h.observe(job, jobs.Failed, e.Code, nil)
		h.notify(ctx, log, job.ID)
		return fmt.Errorf("%w: %w", runErr, asynq.SkipRetry)
	}
	log.Warn("job attempt failed, will retry", "attempt", job.Attempts, "outage", time.Since(since).Round(time.Second), "err", runErr)
	if err := h.Jobs.Requeue(ctx, job.ID); err != nil {
		log.Warn("requeue job", "err", err)
	}
	return &OutageError{Since: since, Err: runErr}
}

// observe records a finished job in the metrics.
func (h *SwapHandler) observe(job *jobs.Job, status jobs.Status, code string, stages map[string]float64) {
	if h.Metrics == nil {
		return
	}
	started := time.Time{}
	if job.StartedAt != nil {
		started = *job.StartedAt
	}
	h.Metrics.JobFinished(string(job.Kind), string(status), code, job.CreatedAt, started, time.Now())
	for stage, secs := range stages {
		h.Metrics.Stage(stage, time.Duration(secs*float64(time.Second)))
	}
}

func (h *SwapHandler) notify(ctx context.Context, log *slog.Logger, id string) {
	if err := h.Notifier.Notify(ctx, id); err != nil {
		// The job's outcome is recorded; a lost event is logged loudly but does not
		// turn a finished job into a retried one.
		log.Error("enqueue webhook", "err", err)
	}
	h.confirmOutcome(ctx, log, id) // SWAPD_REDIS_MIN_REPLICAS replicas hold the outcome and webhook (durable.go)
}

func (h *SwapHandler) isCanceled(ctx context.Context, id string) bool {
	st, err := h.Jobs.Status(ctx, id)
	return err == nil && st == jobs.Canceled
}

// watchCancel returns a context that is canceled when the job's record stops being
// running (a client canceled or deleted it). stop ends the watch and reports whether
// it fired.
func (h *SwapHandler) watchCancel(ctx context.Context, id string) (context.Context, func() bool) {
	ctx, cancel := context.WithCancel(ctx)
	every := h.CancelPoll
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	fired := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				st, err := h.Jobs.Status(ctx, id)
				if err == nil && st != jobs.Running || errcode.Code(err) == errcode.NotFound {
					close(fired)
					cancel()
					return
				}
			}
		}
	}()
	return ctx, func() bool {
		cancel()
		<-done
		select {
		case <-fired:
			return true
		default:
			return false
		}
	}
}

// stageTimer accumulates per-stage seconds for the job record and the logs.
type stageTimer map[string]float64

func (s stageTimer) add(stage string, d time.Duration) { s[stage] += d.Seconds() }

func (s stageTimer) since(stage string, t0 time.Time) { s.add(stage, time.Since(t0)) }

func (s stageTimer) addAll(m map[string]time.Duration) {
	for stage, d := range m {
		s.add(stage, d)
	}
}

// run does the work of one attempt for the job's kind.
func (h *SwapHandler) run(ctx context.Context, job *jobs.Job) (*jobs.Output, map[string]float64, error) {
	switch job.Kind {
	case jobs.KindProbe:
		return h.runProbe(ctx, job)
	case jobs.KindVideo:
		return h.runVideo(ctx, job)
	}
	return h.runImage(ctx, job)
}

// runProbe takes and releases a device slot and does nothing else: the job still goes
// through the API, the queue, the record and the webhook, which is what a synthetic
// health check wants to see.
func (h *SwapHandler) runProbe(ctx context.Context, job *jobs.Job) (*jobs.Output, map[string]float64, error) {
	st := stageTimer{}
	_, release, err := h.acquire(ctx, st)
	if err != nil {
		return nil, st, err
	}
	release()
	return nil, st, h.Jobs.SetProgress(ctx, job.ID, jobs.Progress{Done: 1, Total: 1})
}

// runImage does the work of one image attempt: fetch, decode, detect/embed/swap/paste,
// encode, upload. Each step checks ctx, so a cancel takes effect within one step.
func (h *SwapHandler) runImage(ctx context.Context, job *jobs.Job) (*jobs.Output, map[string]float64, error) {
	st := stageTimer{}
	const steps = 5
	progress := h.progressFunc(ctx, job.ID, steps)
	progress(0)

	in, err := h.fetchInputs(ctx, job, st)
	if err != nil {
		return nil, st, err
	}
	// What the job's images take decoded, from their headers: waited for before any is
	// decoded, held until the frames are dropped (IMAGE_TOO_LARGE if it never fits).
	lease, err := h.Memory.Reserve(ctx, in.target, append([][]byte{in.reference}, in.sources...)...)
	if err != nil {
		return nil, st, err
	}
	defer lease.Release()
	t0 := time.Now()
	target, _, err := media.Decode(bytes.NewReader(in.target), h.Limits)
	st.since("decode", t0)
	if err != nil {
		return nil, st, fmt.Errorf("target: %w", err)
	}
	progress(1)

	pipe, release, err := h.acquire(ctx, st)
	if err != nil {
		return nil, st, err
	}
	id, err := h.identity(ctx, job, pipe, in, st)
	if err != nil {
		release()
		return nil, st, err
	}
	progress(2)
	times := map[string]time.Duration{}
	result, faces, err := pipe.SwapImage(ctx, target, id, job.Options, times)
	release()
	st.addAll(times)
	if err != nil {
		return nil, st, err
	}
	progress(3)

	t0 = time.Now()
	var buf bytes.Buffer
	contentType, err := media.Encode(&buf, result, job.Options.Format(), job.Options.JPEGQuality)
	st.since("encode", t0)
	if err != nil {
		return nil, st, err
	}
	progress(4)
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}

	t0 = time.Now()
	key := jobs.OutputKey(job.ID, job.Options.Format())
	obj, err := h.Store.Put(ctx, key, &buf, int64(buf.Len()), contentType)
	st.since("upload", t0)
	if err != nil {
		return nil, st, fmt.Errorf("upload output: %w", err)
	}
	progress(5)
	return &jobs.Output{Key: key, ContentType: contentType, Size: obj.Size, Faces: faces}, st, nil
}

// progressFunc returns a recorder of done/total for the job. Writes are cheap (one
// HSET) but a video calls it per frame, so it writes at most every 250 ms, and always
// the first and last values.
func (h *SwapHandler) progressFunc(ctx context.Context, id string, total int) func(done int) {
	var last time.Time
	return func(done int) {
		if done != 0 && done != total && time.Since(last) < 250*time.Millisecond {
			return
		}
		last = time.Now()
		if err := h.Jobs.SetProgress(ctx, id, jobs.Progress{Done: done, Total: total}); err != nil && ctx.Err() == nil {
			h.Log.Debug("progress", "job", id, "err", err)
		}
	}
}

// acquire takes a device slot, recording the wait.
func (h *SwapHandler) acquire(ctx context.Context, st stageTimer) (Pipeline, func(), error) {
	t0 := time.Now()
	pipe, release, err := h.Devices.Acquire(ctx)
	st.since("wait_slot", t0)
	return pipe, release, err
}

// fetched holds a job's input bytes (the target only for images; a video target is
// streamed to a file instead).
type fetched struct {
	sources   [][]byte
	reference []byte
	target    []byte
}

func (h *SwapHandler) fetchInputs(ctx context.Context, job *jobs.Job, st stageTimer) (fetched, error) {
	var f fetched
	get := func(in jobs.Input, name string) ([]byte, error) {
		t0 := time.Now()
		b, err := h.Fetcher.Fetch(ctx, in, h.Limits.MaxBytes)
		st.since("fetch", t0)
		if err != nil {
			return nil, inputErr(name, err)
		}
		return b, nil
	}
	for i, in := range job.Sources {
		b, err := get(in, fmt.Sprintf("source %d", i))
		if err != nil {
			return f, err
		}
		f.sources = append(f.sources, b)
	}
	if job.Reference != nil {
		b, err := get(*job.Reference, "reference")
		if err != nil {
			return f, err
		}
		f.reference = b
	}
	if job.Kind != jobs.KindVideo {
		b, err := get(job.Target, "target")
		if err != nil {
			return f, err
		}
		f.target = b
	}
	return f, nil
}

// identity computes what the job swaps in. A source seen before (same bytes) comes
// from the embedding cache without being decoded, detected or recognised.
func (h *SwapHandler) identity(ctx context.Context, job *jobs.Job, pipe Pipeline, in fetched, st stageTimer) (Identity, error) {
	var id Identity
	times := map[string]time.Duration{}
	defer st.addAll(times)
	decode := func(b []byte, name string) (media.Frame, error) {
		t0 := time.Now()
		f, _, err := media.Decode(bytes.NewReader(b), h.Limits)
		st.since("decode", t0)
		return f, inputErr(name, err)
	}
	o := job.Options
	if len(o.SourceIndexes) > 0 || len(o.TargetIndexes) > 0 {
		f, err := decode(in.sources[0], "source 0")
		if err != nil {
			return id, err
		}
		if id.Faces, err = pipe.EmbedFaces(ctx, f, o, times); err != nil {
			return id, inputErr("source 0", err)
		}
	}
	embs := make([][]float32, len(in.sources))
	for i, b := range in.sources {
		hash := ContentHash(b)
		if e, ok := h.Cache.Get(ctx, hash); ok {
			embs[i] = e
			continue
		}
		f, err := decode(b, fmt.Sprintf("source %d", i))
		if err != nil {
			return id, err
		}
		if embs[i], err = pipe.EmbedLargest(ctx, f, o, times); err != nil {
			return id, inputErr(fmt.Sprintf("source %d", i), err)
		}
		h.Cache.Put(ctx, hash, embs[i])
	}
	var err error
	if id.Embedding, err = pipe.Average(embs); err != nil {
		return id, err
	}
	if in.reference != nil {
		f, err := decode(in.reference, "reference")
		if err != nil {
			return id, err
		}
		if id.Reference, err = pipe.EmbedLargest(ctx, f, o, times); err != nil {
			return id, inputErr("reference", err)
		}
	}
	return id, nil
}

// inputErr prefixes a coded error's message with the input it concerns.
func inputErr(name string, err error) error {
	if e, ok := errcode.As(err); ok && !strings.HasPrefix(e.Message, name) {
		return errcode.New(e.Code, "%s: %s", name, e.Message)
	}
	return err
}
