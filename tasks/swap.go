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
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/metrics"
	"github.com/swapd/swapd/pkg/storage"
	"github.com/swapd/swapd/pkg/usage"
	"github.com/swapd/swapd/pkg/webhook"
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
	job, err := h.Jobs.Start(ctx, p.JobID)
	if err != nil {
		if errors.Is(err, jobs.ErrTransition) || errcode.Code(err) == errcode.NotFound {
			// Terminal, canceled or deleted: a re-delivery must not run it again.
			log.Info("job not runnable, skipping", "reason", err)
			return nil
		}
		return fmt.Errorf("start job %s: %w", p.JobID, err)
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
		ended, held, err := h.succeed(ctx, job, out, stages)
		if err == nil {
			log.Info("job succeeded", "kind", job.Kind, "stages", stages)
			h.observe(job, jobs.Succeeded, "", stages)
			if h.Usage != nil && out != nil {
				if err := h.Usage.AddFrames(ctx, job.Owner, int64(out.Frames)); err != nil {
					log.Warn("count usage", "err", err)
				}
			}
			h.notifyHolding(ctx, log, ended, held)
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

// fail decides between retrying and failing the job for good: an input error fails
// at once with its code; a transient failure (storage, network, a source server) is
// retried until the outage it is part of outlasts the budget, then fails UNAVAILABLE.
func (h *SwapHandler) fail(ctx context.Context, log *slog.Logger, job *jobs.Job, runErr error) error {
	e, coded := errcode.As(runErr)
	if !coded || e.Code == errcode.Unavailable {
		// Retried by elapsed time, not by a count of quick attempts, so an outage of
		// storage up to the budget delays the job instead of failing it.
		since, err := h.Jobs.MarkTransient(ctx, job.ID)
		if err != nil {
			return fmt.Errorf("record transient failure of job %s: %w (after %w)", job.ID, err, runErr)
		}
		budget := h.OutageBudget
		if budget <= 0 {
			budget = DefaultOutageBudget
		}
		outage := time.Since(since).Round(time.Second)
		if outage <= budget {
			log.Warn("job attempt failed, will retry", "attempt", job.Attempts, "outage", outage, "err", runErr)
			if err := h.Jobs.Requeue(ctx, job.ID); err != nil {
				log.Warn("requeue job", "err", err)
			}
			return &OutageError{Since: since, Err: runErr}
		}
		log.Error("job failed: transient failures outlasted the outage budget", "attempts", job.Attempts, "outage", outage, "err", runErr)
		e = errcode.New(errcode.Unavailable, "the job kept failing on a transient error (storage, network or a source server) for %s over %d attempts; try again later", outage, job.Attempts)
	} else {
		log.Info("job failed", "code", e.Code, "message", e.Message) // the input is at fault: retrying cannot help
	}
	ended, err := h.Jobs.Fail(ctx, job.ID, e)
	if err != nil {
		return fmt.Errorf("record failure of job %s: %w", job.ID, err)
	}
	h.observe(job, jobs.Failed, e.Code, nil)
	h.notify(ctx, log, ended)
	return fmt.Errorf("%w: %w", runErr, asynq.SkipRetry)
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

// notify sends the ended job's webhook (Notifier.NotifyEnded), then waits until the
// replicas hold the outcome.
func (h *SwapHandler) notify(ctx context.Context, log *slog.Logger, ended *jobs.Job) {
	h.notifyHolding(ctx, log, ended, nil)
}

// succeed records job's success. Where the webhook's first attempt goes straight from
// this worker (DirectDelivery), the same step claims that attempt's delivery
// (jobs.Store.SucceedClaiming), saving the attempt a round trip of its own; held is
// that claim, for notifyHolding.
func (h *SwapHandler) succeed(ctx context.Context, job *jobs.Job, out *jobs.Output, stages map[string]float64) (*jobs.Job, *heldClaim, error) {
	if !h.Notifier.direct() || job.Webhook == nil || job.Webhook.URL == "" {
		ended, err := h.Jobs.Succeed(ctx, job.ID, out, stages)
		return ended, nil, err
	}
	c := jobs.EventClaim{EventID: EventID(job, webhook.EventJobSucceeded), Token: jobs.NewClaimToken()}
	ended, found, err := h.Jobs.SucceedClaiming(ctx, job.ID, out, stages, c)
	if err != nil {
		return nil, nil, err
	}
	return ended, &heldClaim{EventClaim: c, Found: found}, nil
}

// notifyHolding is notify for a job whose first attempt's claim, held, was taken as it
// ended (nil: none).
func (h *SwapHandler) notifyHolding(ctx context.Context, log *slog.Logger, ended *jobs.Job, held *heldClaim) {
	if err := h.Notifier.notifyEnded(ctx, ended, held); err != nil {
		// The job's outcome is recorded and it is still owed its webhook (the Reaper
		// sends it); a failed send does not turn a finished job into a retried one.
		log.Error("send webhook", "err", err)
	}
	h.confirmOutcome(ctx, log, ended.ID) // SWAPD_REDIS_MIN_REPLICAS replicas hold the outcome (durable.go)
}
