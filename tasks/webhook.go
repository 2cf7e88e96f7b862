package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	t, err := NewWebhookTask(p, n.MaxRetry)
	if err != nil {
		return err
	}
	if _, err := n.Client.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue webhook for job %s: %w", id, err)
	}
	return n.Jobs.Notified(ctx, id)
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
		return err
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
		_ = h.Jobs.SetWebhookStatus(ctx, p.JobID, "delivered")
		// With SWAPD_REDIS_MIN_REPLICAS, the mark survives a failover too, so a task
		// re-delivered by a new primary is skipped above instead of sent twice.
		if err := h.Jobs.Confirm(ctx); err != nil {
			log.Warn("webhook delivered, but its mark is not yet on a replica", "err", err)
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
