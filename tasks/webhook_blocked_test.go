package tasks

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/metrics"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/pkg/webhook"
)

// webhookAttempts reads swapd_webhook_attempts_total{outcome} from m.
func webhookAttempts(t *testing.T, m *metrics.Metrics, outcome string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "swapd_webhook_attempts_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no swapd_webhook_attempts_total{outcome=%q}", outcome)
	return 0
}

// A webhook whose receiver the SSRF guard refuses at dial time fails for good on its
// first attempt: archived without a retry, recorded "failed", counted failed_final.
// A receiver that answers 500 is still retried on the schedule.
func TestWebhookBlockedAtDialFailsAtOnce(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	store := jobs.NewStore(rdb, time.Hour)
	queue := asynq.NewClientFromRedisClient(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	m := metrics.New()
	h := &WebhookHandler{
		Jobs: store,
		// As in production, 127.0.0.1 is refused at dial time; the name localhost is
		// allowed, as SWAPD_ALLOW_PRIVATE=localhost allows it in the test stack.
		Client:  netguard.NewClient(netguard.Policy{Allow: []string{"localhost"}}, 5*time.Second),
		Secret:  webhook.Secret("0123456789abcdef0123456789abcdef"),
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: m,
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Queues: map[string]int{QueueWebhooks: 1}, Concurrency: 2,
		RetryDelayFunc:           RetryDelay([]time.Duration{50 * time.Millisecond}),
		TaskCheckInterval:        20 * time.Millisecond,
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		LogLevel:                 asynq.FatalLevel,
	})
	mux := asynq.NewServeMux()
	mux.Handle(TypeWebhook, h)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	send := func(id, url string, maxRetry int) *asynq.TaskInfo {
		t.Helper()
		if err := store.Create(ctx, &jobs.Job{ID: id, Owner: "o", CreatedAt: time.Now(), Webhook: &jobs.Webhook{URL: url}}); err != nil {
			t.Fatal(err)
		}
		p := WebhookPayload{JobID: id, EventID: webhook.MessageID(id, webhook.EventJobFailed), Type: webhook.EventJobFailed,
			URL: url, Body: json.RawMessage(`{"type":"job.failed"}`)}
		task, err := NewWebhookTask(p, maxRetry)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := queue.EnqueueContext(ctx, task); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if info, err := insp.GetTaskInfo(QueueWebhooks, p.EventID); err == nil && info.State == asynq.TaskStateArchived {
				return info
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("webhook task of %s was not archived within 30 s", id)
		return nil
	}

	blocked := testenv.NewReceiver(t) // on 127.0.0.1: refused by the guard
	info := send("blocked", blocked.URL+"/hook", 3)
	if info.Retried != 0 || !strings.Contains(info.LastErr, "blocked") {
		t.Fatalf("blocked receiver: archived after %d retries (last error %q), want 0", info.Retried, info.LastErr)
	}
	if n := len(blocked.Requests()); n != 0 {
		t.Fatalf("the guarded client reached 127.0.0.1 %d times", n)
	}
	if j, err := store.Get(ctx, "blocked"); err != nil || j.Webhook == nil || j.Webhook.Status != "failed" {
		t.Fatalf("blocked receiver: job webhook %+v %v, want status failed", j.Webhook, err)
	}
	if f, r := webhookAttempts(t, m, metrics.WebhookFailedFinal), webhookAttempts(t, m, metrics.WebhookFailedRetrying); f != 1 || r != 0 {
		t.Fatalf("blocked receiver: failed_final %v, failed_retrying %v; want 1, 0", f, r)
	}

	// The same client, a receiver it may reach, answering 500: retried, then final.
	failing := testenv.NewReceiver(t, 500)
	info = send("failing", strings.Replace(failing.URL, "127.0.0.1", "localhost", 1)+"/hook", 1)
	if info.Retried != 1 || len(failing.Requests()) != 2 {
		t.Fatalf("500 receiver: %d retries, %d requests; want 1, 2", info.Retried, len(failing.Requests()))
	}
	if f, r := webhookAttempts(t, m, metrics.WebhookFailedFinal), webhookAttempts(t, m, metrics.WebhookFailedRetrying); f != 2 || r != 1 {
		t.Fatalf("after the 500 receiver: failed_final %v, failed_retrying %v; want 2, 1", f, r)
	}
}
