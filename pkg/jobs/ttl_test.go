package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/webhook"
)

// ended creates a job with the given per-job TTL (0: the store's) and webhook (or
// none), runs it and fails it, and returns the record's remaining lifetime.
func ended(t *testing.T, s *jobs.Store, id string, ttl time.Duration, hook bool) time.Duration {
	t.Helper()
	ctx := context.Background()
	j := newJob(id)
	j.TTL = ttl
	if !hook {
		j.Webhook = nil
	}
	if err := s.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fail(ctx, id, errcode.New(errcode.NoFaceInTarget, "no face")); err != nil {
		t.Fatal(err)
	}
	left, err := s.TTL(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// Issue 8: a RunPod job's record (policy ttl a minute) expired long before its
// webhook's later attempts, which render their body from the record.
func TestRecordOutlivesPendingWebhook(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t) // store TTL: 1 h
	s.WebhookHorizon = jobs.WebhookHorizonFor(webhook.Schedule)
	if s.WebhookHorizon < 27*time.Hour+35*time.Minute {
		t.Fatalf("horizon %v is shorter than Svix's schedule", s.WebhookHorizon)
	}
	horizon := s.WebhookHorizon

	// Per-job TTL a minute, webhook pending: kept for the whole schedule.
	if left := ended(t, s, "runpod", time.Minute, true); left < horizon-time.Minute {
		t.Fatalf("record with a pending webhook expires in %v, want about %v", left, horizon)
	}
	// Delivered: back to its own minute counted from its end.
	if err := s.SetWebhookStatus(ctx, "runpod", "delivered"); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.TTL(ctx, "runpod"); left <= 0 || left > time.Minute {
		t.Fatalf("after delivery the record expires in %v, want its own TTL of at most 1m", left)
	}
	if j, err := s.Get(ctx, "runpod"); err != nil || j.Webhook.Status != "delivered" {
		t.Fatalf("record after delivery: %+v, %v", j, err)
	}

	// No webhook: its own TTL only.
	if left := ended(t, s, "nohook", time.Minute, false); left <= 0 || left > time.Minute {
		t.Fatalf("record without a webhook expires in %v, want at most 1m", left)
	}
	// The store's TTL (1 h) is extended too; a webhook given up ends the extension.
	if left := ended(t, s, "default", 0, true); left < horizon-time.Minute {
		t.Fatalf("record with the store's TTL and a pending webhook expires in %v", left)
	}
	if err := s.SetWebhookStatus(ctx, "default", "failed"); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.TTL(ctx, "default"); left <= 59*time.Minute || left > time.Hour {
		t.Fatalf("after the webhook failed the record expires in %v, want about 1h", left)
	}
	// A TTL longer than the horizon is kept, before and after delivery.
	if left := ended(t, s, "long", 48*time.Hour, true); left <= 47*time.Hour {
		t.Fatalf("record with a 48h TTL expires in %v", left)
	}
	_ = s.SetWebhookStatus(ctx, "long", "delivered")
	if left, _ := s.TTL(ctx, "long"); left <= 47*time.Hour || left > 48*time.Hour {
		t.Fatalf("after delivery a 48h record expires in %v", left)
	}
	// A retried job is live again: an old delivery must not give it an expiry.
	ended(t, s, "retried", time.Minute, true)
	if err := s.Retry(ctx, "retried"); err != nil {
		t.Fatal(err)
	}
	_ = s.SetWebhookStatus(ctx, "retried", "delivered")
	if left, _ := s.TTL(ctx, "retried"); left != -1 {
		t.Fatalf("a retried (queued) job got an expiry of %v from an old delivery", left)
	}
}

// A webhook that ends after the record's own TTL has run out lets the record go at
// once (within a second), not a full TTL later.
func TestRecordExpiresWhenLateWebhookEnds(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	s.WebhookHorizon = time.Hour
	if left := ended(t, s, "short", time.Second, true); left < 59*time.Minute {
		t.Fatalf("record with a pending webhook expires in %v", left)
	}
	// Wait out the record's own second (by Redis's clock, which expire_at uses).
	time.Sleep(2100 * time.Millisecond)
	if _, err := s.Get(ctx, "short"); err != nil {
		t.Fatalf("record gone while its webhook is pending: %v", err)
	}
	if err := s.SetWebhookStatus(ctx, "short", "delivered"); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.TTL(ctx, "short"); left > time.Second {
		t.Fatalf("record whose own TTL has passed still expires in %v after its webhook ended", left)
	}
}
