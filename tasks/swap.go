package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/storage"
)

// Pipeline is the face pipeline of one device, seen from a job. The worker adapts
// pkg/faceswap to it; keeping the interface in job terms keeps this package (which
// the API imports to enqueue tasks) free of ONNX Runtime.
type Pipeline interface {
	// Run swaps the face of the averaged sources into target. It returns the number of
	// faces swapped and adds per-stage times (detect, embed, swap, paste) to stages.
	// Errors the client caused carry an errcode (NO_FACE_IN_SOURCE …).
	Run(ctx context.Context, sources []media.Frame, target media.Frame, opts jobs.Options, stages map[string]time.Duration) (media.Frame, int, error)
}

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
	Log      *slog.Logger

	// CancelPoll is how often a running job re-reads its status to notice a cancel
	// (default 200 ms). asynq's own CancelProcessing is best-effort and sends the task
	// to retry, so swapd's record is what decides.
	CancelPoll time.Duration
}

// OutputKey is where a job's result lives. It is derived from the job id alone, so a
// re-delivered task overwrites its own earlier output instead of adding another.
func OutputKey(jobID, format string) string {
	ext := "jpg"
	if format == "png" {
		ext = "png"
	}
	return "jobs/" + jobID + "/output." + ext
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

	if runErr == nil && !canceled {
		err := h.Jobs.Succeed(ctx, job.ID, out, stages)
		if err == nil {
			log.Info("job succeeded", "kind", job.Kind, "stages", stages)
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
		if err := h.Store.DeletePrefix(ctx, "jobs/"+job.ID+"/output."); err != nil {
			log.Warn("remove output of canceled job", "err", err)
		}
		log.Info("job canceled while running")
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
		h.notify(ctx, log, job.ID)
		return fmt.Errorf("%w: %w", runErr, asynq.SkipRetry)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if retried >= maxRetry {
		log.Error("job failed after retries", "attempts", job.Attempts, "err", runErr)
		e := errcode.New(errcode.Unavailable, "the job failed %d times on a transient error (storage, network or worker); try again later", job.Attempts)
		if err := h.Jobs.Fail(ctx, job.ID, e); err != nil {
			return fmt.Errorf("record failure of job %s: %w", job.ID, err)
		}
		h.notify(ctx, log, job.ID)
		return fmt.Errorf("%w: %w", runErr, asynq.SkipRetry)
	}
	log.Warn("job attempt failed, will retry", "attempt", job.Attempts, "err", runErr)
	if err := h.Jobs.Requeue(ctx, job.ID); err != nil {
		log.Warn("requeue job", "err", err)
	}
	return runErr
}

func (h *SwapHandler) notify(ctx context.Context, log *slog.Logger, id string) {
	if err := h.Notifier.Notify(ctx, id); err != nil {
		// The job's outcome is recorded; a lost event is logged loudly but does not
		// turn a finished job into a retried one.
		log.Error("enqueue webhook", "err", err)
	}
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

// run does the work of one attempt for the job's kind.
func (h *SwapHandler) run(ctx context.Context, job *jobs.Job) (*jobs.Output, map[string]float64, error) {
	switch job.Kind {
	case jobs.KindProbe:
		return h.runProbe(ctx, job)
	case jobs.KindVideo:
		return h.runVideo(ctx, job)
	}
	out, st, err := h.runImage(ctx, job)
	if err != nil {
		return nil, st, err
	}
	return &out, st, nil
}

// runProbe takes and releases a device slot and does nothing else: the job still goes
// through the API, the queue, the record and the webhook, which is what a synthetic
// health check wants to see.
func (h *SwapHandler) runProbe(ctx context.Context, job *jobs.Job) (*jobs.Output, map[string]float64, error) {
	st := stageTimer{}
	t0 := time.Now()
	_, release, err := h.Devices.Acquire(ctx)
	st.since("wait_slot", t0)
	if err != nil {
		return nil, st, err
	}
	release()
	return nil, st, h.Jobs.SetProgress(ctx, job.ID, jobs.Progress{Done: 1, Total: 1})
}

// runImage does the work of one image attempt: fetch, decode, detect/embed/swap/paste,
// encode, upload. Each step checks ctx, so a cancel takes effect within one step.
func (h *SwapHandler) runImage(ctx context.Context, job *jobs.Job) (jobs.Output, map[string]float64, error) {
	st := stageTimer{}
	const steps = 5
	progress := func(done int) {
		if err := h.Jobs.SetProgress(ctx, job.ID, jobs.Progress{Done: done, Total: steps}); err != nil && ctx.Err() == nil {
			h.Log.Debug("progress", "job", job.ID, "err", err)
		}
	}
	progress(0)

	inputs := append(append([]jobs.Input{}, job.Sources...), job.Target)
	frames := make([]media.Frame, len(inputs))
	for i, in := range inputs {
		t0 := time.Now()
		data, err := h.Fetcher.Fetch(ctx, in, h.Limits.MaxBytes)
		st.since("fetch", t0)
		if err != nil {
			return jobs.Output{}, st, err
		}
		t0 = time.Now()
		f, _, err := media.Decode(bytes.NewReader(data), h.Limits)
		st.since("decode", t0)
		if err != nil {
			return jobs.Output{}, st, fmt.Errorf("%s: %w", inputName(i, len(job.Sources)), err)
		}
		frames[i] = f
	}
	progress(1)
	if err := ctx.Err(); err != nil {
		return jobs.Output{}, st, err
	}

	t0 := time.Now()
	pipe, release, err := h.Devices.Acquire(ctx)
	st.since("wait_slot", t0)
	if err != nil {
		return jobs.Output{}, st, err
	}
	times := map[string]time.Duration{}
	result, faces, err := pipe.Run(ctx, frames[:len(job.Sources)], frames[len(job.Sources)], job.Options, times)
	release()
	for stage, d := range times {
		st.add(stage, d)
	}
	if err != nil {
		return jobs.Output{}, st, err
	}
	progress(3)

	t0 = time.Now()
	var buf bytes.Buffer
	contentType, err := media.Encode(&buf, result, job.Options.Format(), job.Options.JPEGQuality)
	st.since("encode", t0)
	if err != nil {
		return jobs.Output{}, st, err
	}
	progress(4)
	if err := ctx.Err(); err != nil {
		return jobs.Output{}, st, err
	}

	t0 = time.Now()
	key := OutputKey(job.ID, job.Options.Format())
	obj, err := h.Store.Put(ctx, key, &buf, int64(buf.Len()), contentType)
	st.since("upload", t0)
	if err != nil {
		return jobs.Output{}, st, fmt.Errorf("upload output: %w", err)
	}
	progress(5)
	return jobs.Output{Key: key, ContentType: contentType, Size: obj.Size, Faces: faces}, st, nil
}

func inputName(i, sources int) string {
	if i < sources {
		return fmt.Sprintf("source %d", i)
	}
	return "target"
}
