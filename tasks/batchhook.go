package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/webhook"
)

// BatchEvent is the data of a batch.completed webhook: the batch and its items'
// counts by status when the last one ended.
type BatchEvent struct {
	ID          string           `json:"id"`
	Status      string           `json:"status"` // "completed"
	Total       int              `json:"total"`
	Counts      jobs.BatchCounts `json:"counts"`
	CreatedAt   time.Time        `json:"created_at"`
	CompletedAt *time.Time       `json:"completed_at,omitempty"`
}

// NotifyBatch enqueues batch batchID's batch.completed webhook if every item has ended
// and no one has claimed the event yet. Every item that ends calls it (from
// Notifier.NotifyEnded). The ended items are counted by the job transition script
// itself (jobs.Store.BatchEnded), and exactly one caller is granted the claim, however
// many workers end items at once; the task id (the event's webhook-id, from the batch
// id) makes a repeated enqueue a no-op too. A claim whose enqueue fails is given back
// and the error returned, so the item is still owed its own webhook and the reaper's
// later Notify claims it again. The API calls it too when it shows a batch whose items
// all ended but that was never marked completed (a worker died between an item's end
// and its Notify, with no webhook for the reaper to retry).
func (n *Notifier) NotifyBatch(ctx context.Context, batchID string) error {
	claimed, err := n.Jobs.BatchEnded(ctx, batchID)
	if err != nil || !claimed {
		return err
	}
	err = n.enqueueBatchEvent(ctx, batchID)
	if err != nil {
		if rerr := n.Jobs.ReleaseBatch(context.WithoutCancel(ctx), batchID); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

func (n *Notifier) enqueueBatchEvent(ctx context.Context, batchID string) error {
	b, err := n.Jobs.GetBatch(ctx, batchID)
	if err != nil {
		return err
	}
	if b.Webhook == nil || b.Webhook.URL == "" {
		return nil
	}
	counts, _, err := n.Jobs.BatchCounts(ctx, batchID)
	if err != nil {
		return err
	}
	data, err := json.Marshal(BatchEvent{ID: b.ID, Status: "completed", Total: b.Total, Counts: counts,
		CreatedAt: b.CreatedAt, CompletedAt: b.CompletedAt})
	if err != nil {
		return err
	}
	body, err := json.Marshal(webhook.Event{Type: jobs.EventBatchCompleted, Timestamp: time.Now().UTC(), Data: data})
	if err != nil {
		return err
	}
	// The payload's job id is the batch's: no job record has it, so every attempt
	// sends this snapshot (it holds ids and counts only, no URL).
	p := WebhookPayload{JobID: batchID, EventID: webhook.MessageID(batchID, jobs.EventBatchCompleted),
		Type: jobs.EventBatchCompleted, URL: b.Webhook.URL, Snapshot: body}
	t, err := NewWebhookTask(p, n.MaxRetry)
	if err != nil {
		return err
	}
	if _, err := n.Client.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue batch.completed of %s: %w", batchID, err)
	}
	n.wake(ctx)
	return nil
}
