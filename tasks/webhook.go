package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/metrics"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/pkg/runpod"
	"github.com/swapd/swapd/pkg/storage"
	"github.com/swapd/swapd/pkg/webhook"
)

// Notifier turns a job's terminal state into a webhook task. The API uses it for
// cancels, the worker for successes and failures.
type Notifier struct {
	Client    *asynq.Client
	Jobs      *jobs.Store
	Store     *storage.Store
	URLExpiry time.Duration // lifetime of the presigned output URL in the event
	MaxRetry  int           // len(webhook schedule)

	// Direct, when set (the worker), makes the first delivery attempt straight from
	// the process that ended the job instead of through the queue: see DirectDelivery.
	Direct *DirectDelivery

	// Redis, when set, carries the wake-up for a webhook task due at once (a cancel
	// event from the API, a batch's batch.completed), so an idle worker sends it
	// straight away rather than at its next poll of the webhook queue (Wakeup).
	Redis redis.UniversalClient
}

// EventType names the event for a terminal status.
func EventType(s jobs.Status) string {
	switch s {
	case jobs.Succeeded:
		return webhook.EventJobSucceeded
	case jobs.Failed:
		return webhook.EventJobFailed
	case jobs.Canceled:
		return webhook.EventJobCanceled
	}
	return ""
}

// Notify sends job id's terminal event, if the job asked for one (see NotifyEnded).
// The Reaper calls it for a job that ended but is still owed its webhook (Redis failed
// in between, the process died): every attempt claims the event and finds it
// delivered after (WebhookHandler.claimDelivery), and the task id is the event's
// webhook-id, so a second Notify never sends an event twice.
func (n *Notifier) Notify(ctx context.Context, id string) error {
	j, err := n.Jobs.Get(ctx, id)
	if err != nil {
		return err
	}
	return n.NotifyEnded(ctx, j)
}

// NotifyEnded is Notify for the record j that its caller has just ended (or read):
// with a DirectDelivery, the first attempt goes out from this process at once and the
// webhook task is enqueued only if that attempt does not deliver; otherwise the task
// is enqueued now. Until one or the other is done, the job stays in the store's set of
// jobs owed a webhook (put there in the same step that ended it), which the Reaper
// sweeps, so a process that dies in between loses no event.
func (n *Notifier) NotifyEnded(ctx context.Context, j *jobs.Job) error {
	return n.notifyEnded(ctx, j, nil)
}

// direct reports whether first attempts go straight from this process.
func (n *Notifier) direct() bool { return n != nil && n.Direct != nil && len(n.Direct.Schedule) > 0 }

// heldClaim is the claim of a webhook event taken in the step that ended its job
// (jobs.Store.SucceedClaiming), and what that claim found.
type heldClaim struct {
	jobs.EventClaim
	Found jobs.Claim
}

// EventID is the webhook-id of job j's event typ: one per job and type, so receivers
// dedupe on it. A job retried through the RunPod API ends again, as a new event.
func EventID(j *jobs.Job, typ string) string {
	if j.Retries > 0 {
		return webhook.MessageID(fmt.Sprintf("%s/retry-%d", j.ID, j.Retries), typ)
	}
	return webhook.MessageID(j.ID, typ)
}

func (n *Notifier) notifyEnded(ctx context.Context, j *jobs.Job, held *heldClaim) error {
	typ := EventType(j.Status)
	if typ == "" {
		return nil // not ended (a retried job): nothing to send yet
	}
	if j.Batch != "" {
		// An item of a batch: the last item to end enqueues batch.completed (batchhook.go).
		if err := n.NotifyBatch(ctx, j.Batch); err != nil {
			return err
		}
	}
	if j.Webhook == nil {
		return nil // never owed one (the store puts only jobs with a webhook in the set)
	}
	if j.Webhook.URL == "" || j.Webhook.Status == "delivered" || j.Webhook.Status == "failed" {
		return n.Jobs.Notified(ctx, j.ID)
	}
	p := WebhookPayload{JobID: j.ID, EventID: EventID(j, typ), Type: typ, URL: j.Webhook.URL}
	// The snapshot is taken now, before anything presents j: rendering an attempt's
	// body puts presigned URLs into the record it renders (jobs.Present), and the
	// snapshot is shown in the dashboard.
	snapshot, err := (&Notifier{URLExpiry: n.URLExpiry}).Render(ctx, j, p.Type) // no store: no URLs, no bytes
	if err != nil {
		return err
	}
	p.Snapshot = snapshot
	if held != nil && held.EventID != p.EventID {
		// Not this event's claim (cannot happen while EventID reads only what Start
		// returned): give it back, and let the attempt claim its own.
		if held.Found == jobs.Claimed {
			_ = n.Jobs.ReleaseDelivery(ctx, held.EventID, held.Token)
		}
		held = nil
	}
	if n.direct() {
		n.Direct.start(n, p, j, held)
		return nil
	}
	return n.enqueue(ctx, p, time.Time{})
}

// enqueue enqueues p's webhook task (p.Snapshot set by NotifyEnded), due at `at`
// (now if zero), then marks the job notified. A task already there (the same event
// enqueued before) is left as it is.
func (n *Notifier) enqueue(ctx context.Context, p WebhookPayload, at time.Time) error {
	retries := n.MaxRetry
	if p.Direct {
		retries-- // the direct attempt was the first
	}
	t, err := NewWebhookTask(p, max(retries, 0))
	if err != nil {
		return err
	}
	var opts []asynq.Option
	if !at.IsZero() {
		opts = append(opts, asynq.ProcessAt(at))
	}
	if _, err := n.Client.EnqueueContext(ctx, t, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue webhook for job %s: %w", p.JobID, err)
	}
	if at.IsZero() {
		n.wake(ctx)
	}
	return n.Jobs.Notified(ctx, p.JobID)
}

// wake tells idle workers a webhook task is due now (see Notifier.Redis).
func (n *Notifier) wake(ctx context.Context) {
	if n.Redis != nil {
		wake(ctx, n.Redis, QueueWebhooks)
	}
}

// notBefore returns t rounded up to a whole second. asynq scores a scheduled task by
// the second it falls in and makes it due once that second begins, so a task
// scheduled for t itself could be due up to a second early: before a first delay of
// 300 ms had even begun.
func notBefore(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// DirectDelivery makes a webhook's first attempt from the worker that ended the job,
// in a goroutine (never in the swap task's slot), at most Concurrency at once, so a
// job's webhook does not wait for a worker to poll the queue for a task, and a
// delivered event costs no task at all.
//
// Once per webhook-id: every attempt, direct or task, claims the event first
// (claimDelivery), and whoever finds it claimed or delivered sends nothing. The
// direct attempt waits for a delivery slot until half the schedule's first delay has
// passed (then it hands the attempt to a task due at once), and gives the receiver
// as long as any attempt (webhook.DefaultTimeout: an answer cut off sooner would be a
// delivery the receiver has and swapd retries). On success it marks the event
// delivered, which also clears the job from the set of jobs owed a webhook; on
// failure it gives the claim back and enqueues the task for the schedule's second
// attempt, due after the first delay (at once for a receiver the SSRF guard refuses,
// which fails it for good, as any refused attempt does). If this process dies
// meanwhile, the job is still owed its webhook and the Reaper sends it.
type DirectDelivery struct {
	Handler  *WebhookHandler // renders, signs, delivers; its Jobs, Client, Secret, Log, Metrics
	Schedule []time.Duration // the webhook schedule; Schedule[0] is the wait before the second attempt

	slots chan struct{}
	wg    sync.WaitGroup
}

// NewDirectDelivery returns a DirectDelivery making up to concurrency attempts at once.
func NewDirectDelivery(h *WebhookHandler, schedule []time.Duration, concurrency int) *DirectDelivery {
	return &DirectDelivery{Handler: h, Schedule: schedule, slots: make(chan struct{}, max(concurrency, 1))}
}

// Wait waits for the direct attempts in flight (at shutdown; each ends by its deadline).
func (d *DirectDelivery) Wait() { d.wg.Wait() }

func (d *DirectDelivery) start(n *Notifier, p WebhookPayload, j *jobs.Job, held *heldClaim) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.attempt(n, p, j, held, time.Now().Add(d.Schedule[0]/2))
	}()
}

// attempt makes the direct attempt for p, rendering its body from j (the ended
// record), if it gets a delivery slot by slotBy, and enqueues the event's task unless
// the receiver got it. held, when set, is p's claim taken as the job ended.
func (d *DirectDelivery) attempt(n *Notifier, p WebhookPayload, j *jobs.Job, held *heldClaim, slotBy time.Time) {
	h := d.Handler
	log := h.Log.With("job", p.JobID, "webhook_id", p.EventID)
	// Recording the outcome, or handing the event to a task, must not be cut short by
	// the attempt's deadline.
	rctx, rcancel := context.WithTimeout(context.Background(), jobs.DeliveredMarkWindow+10*time.Second)
	defer rcancel()
	handOff := func(at time.Time, why string, err error) {
		log.Debug("the webhook task makes the next attempt", "why", why, "err", err)
		if err := n.enqueue(rctx, p, at); err != nil {
			// The job is still owed its webhook: the Reaper enqueues it.
			log.Warn("enqueue webhook task after the direct attempt", "err", err)
		}
	}
	wait, cancelWait := context.WithDeadline(context.Background(), slotBy)
	defer cancelWait()
	select {
	case d.slots <- struct{}{}:
		defer func() { <-d.slots }()
	case <-wait.Done():
		if held != nil && held.Found == jobs.Claimed {
			h.releaseDelivery(rctx, log, p, held.Token)
		}
		handOff(time.Time{}, "no delivery slot in time", nil)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), webhook.DefaultTimeout)
	defer cancel()
	token, err := h.claimHeld(ctx, log, p, held)
	if errors.Is(err, errAlreadyDelivered) {
		if err := n.Jobs.Notified(rctx, p.JobID); err != nil {
			log.Debug("mark notified", "err", err)
		}
		return
	}
	if err != nil {
		// Claimed by another attempt (the task looks again shortly), or not taken or
		// confirmed on the replicas: the task's attempt.
		handOff(time.Time{}, "not claimed", err)
		return
	}
	body, err := n.Render(ctx, j, p.Type)
	if err != nil {
		h.releaseDelivery(rctx, log, p, token)
		handOff(time.Time{}, "render", err)
		return
	}
	t0 := time.Now()
	status, err := webhook.Deliver(ctx, h.Client, p.URL, p.EventID, body, h.Secret)
	took := time.Since(t0)
	if err != nil {
		h.releaseDelivery(rctx, log, p, token)
		h.Metrics.WebhookAttempt(metrics.WebhookFailedRetrying, took)
		log.Warn("webhook attempt failed", "attempt", 1, "direct", true, "err", err)
		p.Direct = true
		at := notBefore(time.Now().Add(d.Schedule[0]))
		if errors.Is(err, netguard.ErrBlocked) {
			at = time.Time{} // refused at dial time on every attempt: the task fails it for good now
		}
		handOff(at, "attempt failed", err)
		return
	}
	h.Metrics.WebhookAttempt(metrics.WebhookDelivered, took)
	log.Info("webhook delivered", "status", status, "path", "direct")
	if err := h.markDelivered(rctx, p); err != nil {
		// The claim keeps other attempts away meanwhile; the job is still owed its
		// webhook where the mark was lost, and the Reaper's attempt will find the mark
		// or, past the claim, send it again (a receiver dedupes on webhook-id).
		log.Warn("webhook delivered, but its mark is not confirmed on a replica (written where Redis took it)", "err", err)
	}
}

// WebhookRetryDelay is RetryDelay(schedule) for the webhook server, where a task whose
// first attempt was made directly (WebhookPayload.Direct) is one step further along
// the schedule: its n-th retry waits the schedule's (n+1)-th delay. A task that found
// its event claimed by another attempt (DeliveryBusyError) looks again shortly.
func WebhookRetryDelay(schedule []time.Duration) asynq.RetryDelayFunc {
	base := RetryDelay(schedule)
	return func(n int, err error, t *asynq.Task) time.Duration {
		var busy *DeliveryBusyError
		if errors.As(err, &busy) {
			return min(max(busy.Left, 200*time.Millisecond), 2*time.Second)
		}
		if t.Type() == TypeWebhook {
			var p struct {
				Direct bool `json:"direct"`
			}
			if json.Unmarshal(t.Payload(), &p) == nil && p.Direct {
				n++
			}
		}
		return base(n, err, t)
	}
}

// Render builds the webhook body for job j's terminal event of type typ, by the
// job's origin: a job submitted through the RunPod API (runpod.IsRunPod(j.Via)) gets
// exactly the JSON its GET /v2/{endpoint}/status/{id} shows, as RunPod sends; every
// other job gets swapd's Standard Webhooks envelope {"type", "timestamp", "data": job}.
// Either way the delivery is signed and retried the same way.
func (n *Notifier) Render(ctx context.Context, j *jobs.Job, typ string) ([]byte, error) {
	if runpod.IsRunPod(j.Via) {
		var objs runpod.Objects
		if n.Store != nil {
			objs = n.Store
		}
		return json.Marshal(runpod.Render(ctx, objs, j, n.URLExpiry))
	}
	if n.Store != nil {
		jobs.Present(ctx, n.Store, j, n.URLExpiry)
	}
	data, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	return json.Marshal(webhook.Event{Type: typ, Timestamp: time.Now().UTC(), Data: data})
}

// WebhookHandler delivers webhook tasks.
type WebhookHandler struct {
	Jobs     *jobs.Store
	Notifier *Notifier    // renders each attempt's body with fresh URLs
	Client   *http.Client // from netguard.NewClient: private addresses refused at dial time
	Secret   webhook.Secret
	Log      *slog.Logger
	Metrics  *metrics.Metrics // optional
}

// ProcessTask implements asynq.Handler.
func (h *WebhookHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p WebhookPayload
	if err := decodePayload(t, &p); err != nil {
		return err
	}
	retried, _ := asynq.GetRetryCount(ctx)
	log := h.Log.With("job", p.JobID, "webhook_id", p.EventID, "path", "task", "retried", retried)
	// Whatever fails on swapd's own Redis here (a failover), not at the receiver, is
	// retried without spending the receiver's attempts (an OutageError, see
	// IsFailure), so a short schedule cannot run out during a failover.
	token, err := h.claimDelivery(ctx, log, p)
	if errors.Is(err, errAlreadyDelivered) {
		// A re-delivered task (its dequeue or acknowledgement was lost with a Redis
		// primary, or the reaper enqueued it again), or one whose direct attempt
		// succeeded: the receiver has it.
		log.Info("webhook already delivered; not sending it again")
		return nil
	}
	var busy *DeliveryBusyError
	if errors.As(err, &busy) {
		log.Info("webhook being sent by another attempt; looking again shortly", "claim_left", busy.Left)
	}
	if err != nil {
		return &OutageError{Since: time.Now(), Err: err}
	}
	// Recording the outcome must not be cut short by the task's deadline.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), jobs.DeliveredMarkWindow+10*time.Second)
	defer rcancel()
	body, err := h.body(ctx, p)
	if err != nil {
		h.releaseDelivery(rctx, log, p, token)
		return &OutageError{Since: time.Now(), Err: err}
	}
	t0 := time.Now()
	status, err := webhook.Deliver(ctx, h.Client, p.URL, p.EventID, body, h.Secret)
	took := time.Since(t0)
	if err == nil {
		h.Metrics.WebhookAttempt(metrics.WebhookDelivered, took)
		log.Info("webhook delivered", "status", status)
		if err := h.markDelivered(rctx, p); err != nil {
			log.Warn("webhook delivered, but its mark is not confirmed on a replica (written where Redis took it)", "err", err)
		}
		return nil
	}
	h.releaseDelivery(rctx, log, p, token)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	// A receiver the SSRF guard refuses at dial time (its name resolves to a private
	// or reserved address) is refused on every attempt: the schedule would only repeat
	// the refusal for a day. It fails for good now.
	if blocked := errors.Is(err, netguard.ErrBlocked); blocked || retried >= maxRetry {
		h.Metrics.WebhookAttempt(metrics.WebhookFailedFinal, took)
		log.Error("webhook failed for good", "attempts", retried+1, "blocked", blocked, "err", err)
		_ = h.Jobs.SetWebhookStatus(ctx, p.JobID, "failed")
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	h.Metrics.WebhookAttempt(metrics.WebhookFailedRetrying, took)
	log.Warn("webhook attempt failed", "attempt", retried+1, "err", err)
	return err
}

// body renders this attempt's body from the job record, so presigned URLs are fresh
// at every retry. A record that is gone (deleted by its owner, or expired during a
// long retry schedule) leaves the snapshot taken when the event happened.
func (h *WebhookHandler) body(ctx context.Context, p WebhookPayload) ([]byte, error) {
	if len(p.Body) > 0 {
		return p.Body, nil
	}
	j, err := h.Jobs.Get(ctx, p.JobID)
	if e, ok := errcode.As(err); ok && e.Code == errcode.NotFound {
		return p.Snapshot, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load job %s for its webhook: %w", p.JobID, err)
	}
	return h.Notifier.Render(ctx, j, p.Type)
}

// errAlreadyDelivered: claimDelivery found the event delivered.
var errAlreadyDelivered = errors.New("webhook already delivered")

// DeliveryBusyError is claimDelivery's error while another attempt holds the event's
// claim (for Left more at most): the task looks again shortly (WebhookRetryDelay),
// without spending an attempt, and finds the event delivered, or the claim given
// back or expired.
type DeliveryBusyError struct {
	EventID string
	Left    time.Duration
}

func (e *DeliveryBusyError) Error() string {
	return fmt.Sprintf("webhook %s is being sent by another attempt (its claim ends within %v)", e.EventID, e.Left.Round(time.Millisecond))
}

// claimDelivery claims p's event for this attempt (jobs.Store.ClaimDelivery) and
// waits until the replicas hold the claim (jobs.Store.Confirm), so that no other
// attempt sends the event meanwhile, even across a Redis failover: a second
// deliverer (the event's task while the direct attempt sends, a task asynq hands out
// again after a failover lost its acknowledgement) finds the claim and sends nothing.
// It returns the claim's token, errAlreadyDelivered, a *DeliveryBusyError, or the
// error of a claim that Redis failed to take or confirm (then given back).
func (h *WebhookHandler) claimDelivery(ctx context.Context, log *slog.Logger, p WebhookPayload) (string, error) {
	token := jobs.NewClaimToken()
	c, left, err := h.Jobs.ClaimDelivery(ctx, p.JobID, p.EventID, token)
	return h.claimed(ctx, log, p, token, c, left, err)
}

// claimHeld is claimDelivery for an attempt whose claim may have been taken as its
// job ended (held; see SwapHandler.succeed): it goes on from what that claim found
// instead of claiming again, and claims as claimDelivery does otherwise.
func (h *WebhookHandler) claimHeld(ctx context.Context, log *slog.Logger, p WebhookPayload, held *heldClaim) (string, error) {
	if held == nil || held.Found == jobs.ClaimNone {
		return h.claimDelivery(ctx, log, p)
	}
	// ClaimedByOther: the claim's time left is unknown here; a task due now looks again.
	return h.claimed(ctx, log, p, held.Token, held.Found, 0, nil)
}

// claimed goes on from a claim's outcome: the token to send under, once the claim is
// confirmed on the replicas, or why not to send.
func (h *WebhookHandler) claimed(ctx context.Context, log *slog.Logger, p WebhookPayload, token string, c jobs.Claim, left time.Duration, err error) (string, error) {
	switch {
	case err != nil:
		return "", err
	case c == jobs.AlreadyDelivered:
		return "", errAlreadyDelivered
	case c == jobs.ClaimedByOther:
		log.Debug("webhook claimed by another attempt; not sending it now", "left", left)
		return "", &DeliveryBusyError{EventID: p.EventID, Left: left}
	}
	if err := h.Jobs.Confirm(ctx); err != nil {
		h.releaseDelivery(context.WithoutCancel(ctx), log, p, token)
		return "", fmt.Errorf("claim of webhook %s not confirmed on replicas: %w", p.EventID, err)
	}
	return token, nil
}

// releaseDelivery gives p's claim back after an attempt that sent nothing or failed,
// best effort: a claim that cannot be given back expires (jobs.DeliveryClaimTTL).
func (h *WebhookHandler) releaseDelivery(ctx context.Context, log *slog.Logger, p WebhookPayload, token string) {
	if err := h.Jobs.ReleaseDelivery(ctx, p.EventID, token); err != nil {
		log.Debug("give the webhook claim back", "err", err)
	}
}

// markDelivered records that the receiver has p's event (jobs.Store.MarkDelivered),
// and with SWAPD_REDIS_MIN_REPLICAS waits until a replica holds the mark: a task
// re-delivered after a failover then finds it and sends nothing. The delivery is a
// fact, so while the mark cannot be confirmed (the primary is failing over) it is
// written again, on whichever primary the client reaches, for up to
// jobs.DeliveredMarkWindow, well within the claim that keeps other attempts away
// meanwhile (jobs.DeliveryClaimTTL).
func (h *WebhookHandler) markDelivered(ctx context.Context, p WebhookPayload) error {
	deadline := time.Now().Add(jobs.DeliveredMarkWindow)
	for {
		err := h.Jobs.MarkDelivered(ctx, p.JobID, p.EventID)
		if err == nil {
			err = h.Jobs.Confirm(ctx)
		}
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}
