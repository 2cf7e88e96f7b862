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

// Notify enqueues the webhook for job id's terminal event, if the job asked for one,
// then marks the job notified. A job that ended but was never marked (Redis failed in
// between, the process died) is found by the Reaper, which calls Notify again: the
// task id (the event's webhook-id) makes a second enqueue a no-op while the first
// task exists, and a delivered webhook is not enqueued again.
func (n *Notifier) Notify(ctx context.Context, id string) error {
	j, err := n.Jobs.Get(ctx, id)
	if err != nil {
		return err
	}
	typ := EventType(j.Status)
	if typ != "" {
		// An item of a batch: the last item to end enqueues batch.completed (batchhook.go).
		if err := n.notifyBatch(ctx, id); err != nil {
			return err
		}
	}
	if j.Webhook == nil || j.Webhook.URL == "" || typ == "" || j.Webhook.Status == "delivered" || j.Webhook.Status == "failed" {
		if typ == "" {
			return nil // not ended (a retried job): nothing to send yet
		}
		return n.Jobs.Notified(ctx, id)
	}
	snapshot, err := (&Notifier{URLExpiry: n.URLExpiry}).Render(ctx, j, typ) // no store: no URLs, no bytes
	if err != nil {
		return err
	}
	// One event per job and type: the id doubles as the webhook-id receivers dedupe on.
	// A job retried through the RunPod API ends again, as a new event.
	eventID := webhook.MessageID(id, typ)
	if j.Retries > 0 {
		eventID = webhook.MessageID(fmt.Sprintf("%s/retry-%d", id, j.Retries), typ)
	}
	p := WebhookPayload{JobID: id, EventID: eventID, Type: typ, URL: j.Webhook.URL, Snapshot: snapshot}
	if d := n.Direct; d != nil && len(d.Schedule) > 0 {
		return n.notifyDirect(ctx, d, p, j)
	}
	t, err := NewWebhookTask(p, n.MaxRetry)
	if err != nil {
		return err
	}
	if _, err := n.Client.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue webhook for job %s: %w", id, err)
	}
	return n.Jobs.Notified(ctx, id)
}

// notifyDirect enqueues the webhook task as the schedule's second attempt, due after
// the schedule's first delay, marks the job notified, and only then starts the first
// attempt from this process. The scheduled task is what survives: if this process
// dies, or the attempt fails, the task carries on with the schedule under the same
// webhook-id. A second Notify of the same event (the reaper, a replica confirmation)
// finds the task already there and starts no second direct attempt.
func (n *Notifier) notifyDirect(ctx context.Context, d *DirectDelivery, p WebhookPayload, j *jobs.Job) error {
	p.Direct = true
	t, err := NewWebhookTask(p, len(d.Schedule)-1)
	if err != nil {
		return err
	}
	enqueued := time.Now()
	_, err = n.Client.EnqueueContext(ctx, t, asynq.ProcessIn(d.Schedule[0]))
	fresh := err == nil
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue webhook for job %s: %w", p.JobID, err)
	}
	if err := n.Jobs.Notified(ctx, p.JobID); err != nil {
		return err
	}
	if !fresh {
		return nil
	}
	// With SWAPD_REDIS_MIN_REPLICAS, the receiver hears of the outcome only once the
	// replicas hold it and the task (a failover could otherwise lose the outcome, run
	// the job again and send the event twice); unconfirmed, the task makes the attempt.
	if err := n.Jobs.Confirm(ctx); err != nil {
		return nil
	}
	d.start(n, p, j, enqueued)
	return nil
}

// DirectDelivery makes a webhook's first attempt from the worker that ended the job,
// in a goroutine (never in the swap task's slot), at most Concurrency at once, so a
// job's webhook does not wait for a worker to poll the queue for a second task.
//
// Exactly once per webhook-id: the task for the later attempts is already scheduled
// (Notify) and becomes due only after the schedule's first delay; the direct attempt
// must be over, its result recorded, well before then: it waits for a delivery slot
// and talks to the receiver only until half that delay has passed since the enqueue.
// On success it marks the job's webhook delivered (the task, were it to run anyway,
// sees the mark and sends nothing) and deletes the task; on failure it leaves the
// task to the schedule, except that a receiver the SSRF guard refuses has its task
// run at once (which fails it for good, as any refused attempt does).
type DirectDelivery struct {
	Handler   *WebhookHandler  // renders, signs, delivers; its Jobs, Client, Secret, Log, Metrics
	Inspector *asynq.Inspector // deletes (or runs) the scheduled task
	Schedule  []time.Duration  // the webhook schedule; Schedule[0] is the scheduled task's delay

	slots chan struct{}
	wg    sync.WaitGroup
}

// NewDirectDelivery returns a DirectDelivery making up to concurrency attempts at once.
func NewDirectDelivery(h *WebhookHandler, in *asynq.Inspector, schedule []time.Duration, concurrency int) *DirectDelivery {
	return &DirectDelivery{Handler: h, Inspector: in, Schedule: schedule, slots: make(chan struct{}, max(concurrency, 1))}
}

// Wait waits for the direct attempts in flight (at shutdown; each ends by its deadline).
func (d *DirectDelivery) Wait() { d.wg.Wait() }

func (d *DirectDelivery) start(n *Notifier, p WebhookPayload, j *jobs.Job, enqueued time.Time) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.attempt(n, p, j, enqueued.Add(d.Schedule[0]/2))
	}()
}

// attempt makes the direct attempt for p, rendering its body from j (the record Notify
// read, which ended and whose webhook was not sent); the receiver must have answered
// by deadline.
func (d *DirectDelivery) attempt(n *Notifier, p WebhookPayload, j *jobs.Job, deadline time.Time) {
	h := d.Handler
	log := h.Log.With("job", p.JobID, "webhook_id", p.EventID)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	select {
	case d.slots <- struct{}{}:
		defer func() { <-d.slots }()
	case <-ctx.Done():
		log.Debug("no slot for the direct webhook attempt in time; the scheduled task makes it")
		return
	}
	body, err := n.Render(ctx, j, p.Type)
	if err != nil {
		return // the scheduled task renders it again
	}
	t0 := time.Now()
	status, err := webhook.Deliver(ctx, h.Client, p.URL, p.EventID, body, h.Secret)
	took := time.Since(t0)
	// Recording the outcome must not be cut short by the attempt's deadline.
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if err != nil {
		h.Metrics.WebhookAttempt(metrics.WebhookFailedRetrying, took)
		log.Warn("webhook attempt failed", "attempt", 1, "direct", true, "err", err)
		if errors.Is(err, netguard.ErrBlocked) {
			// Refused at dial time on every attempt: let the task fail it for good now.
			if err := d.Inspector.RunTask(QueueWebhooks, p.EventID); err != nil {
				log.Debug("run the webhook task now", "err", err)
			}
		}
		return
	}
	h.Metrics.WebhookAttempt(metrics.WebhookDelivered, took)
	log.Debug("webhook delivered", "status", status, "direct", true)
	if err := h.markDelivered(rctx, p.JobID); err != nil {
		log.Warn("webhook delivered, but its mark is not confirmed; the scheduled task may send it again", "err", err)
		return
	}
	if err := d.Inspector.DeleteTask(QueueWebhooks, p.EventID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		// It will run, find the mark and send nothing.
		log.Debug("delete the delivered webhook's scheduled task", "err", err)
	}
}

// WebhookRetryDelay is RetryDelay(schedule) for the webhook server, where a task whose
// first attempt was made directly (WebhookPayload.Direct) is one step further along
// the schedule: its n-th retry waits the schedule's (n+1)-th delay.
func WebhookRetryDelay(schedule []time.Duration) asynq.RetryDelayFunc {
	base := RetryDelay(schedule)
	return func(n int, err error, t *asynq.Task) time.Duration {
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
	log := h.Log.With("job", p.JobID, "webhook_id", p.EventID)
	body, delivered, err := h.body(ctx, p)
	if err != nil {
		// swapd's own Redis is failing (a failover), not the receiver: retried without
		// spending the receiver's attempts (IsFailure), so a short schedule cannot run
		// out while the record cannot be read.
		return &OutageError{Since: time.Now(), Err: err}
	}
	if delivered {
		// A re-delivered task (its acknowledgement was lost with a Redis primary, or
		// the reaper enqueued it again): the record says the receiver has it.
		log.Info("webhook already delivered; not sending it again")
		return nil
	}
	t0 := time.Now()
	status, err := webhook.Deliver(ctx, h.Client, p.URL, p.EventID, body, h.Secret)
	took := time.Since(t0)
	if err == nil {
		h.Metrics.WebhookAttempt(metrics.WebhookDelivered, took)
		log.Info("webhook delivered", "status", status)
		if err := h.markDelivered(ctx, p.JobID); err != nil {
			log.Warn("webhook delivered, but its mark is not confirmed; a re-run may send it again", "err", err)
		}
		return nil
	}
	retried, _ := asynq.GetRetryCount(ctx)
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
// at every retry, or reports that the record says the webhook was delivered already. A record that is gone (deleted by its owner, or expired during a
// long retry schedule) leaves the snapshot taken when the event happened.
func (h *WebhookHandler) body(ctx context.Context, p WebhookPayload) (body []byte, delivered bool, err error) {
	if len(p.Body) > 0 {
		return p.Body, false, nil
	}
	j, err := h.Jobs.Get(ctx, p.JobID)
	if e, ok := errcode.As(err); ok && e.Code == errcode.NotFound {
		return p.Snapshot, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load job %s for its webhook: %w", p.JobID, err)
	}
	if j.Webhook != nil && j.Webhook.Status == "delivered" {
		return nil, true, nil
	}
	body, err = h.Notifier.Render(ctx, j, p.Type)
	return body, false, err
}

// markDelivered records that the receiver has job id's webhook, and with
// SWAPD_REDIS_MIN_REPLICAS waits until a replica holds the mark: a task re-delivered
// after a failover then finds it and sends nothing. The delivery is a fact, so while
// the mark cannot be confirmed (the primary is failing over) it is written again,
// on whichever primary the client reaches, for up to markTimeout.
func (h *WebhookHandler) markDelivered(ctx context.Context, id string) error {
	const markTimeout = 10 * time.Second
	deadline := time.Now().Add(markTimeout)
	for {
		err := h.Jobs.SetWebhookStatus(ctx, id, "delivered")
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
