package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/pkg/webhook"
)

// claimHandler returns a WebhookHandler and its store on a fresh Redis.
func claimHandler(t *testing.T, durability jobs.Durability) (*WebhookHandler, *jobs.Store, *redis.Client) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	store := jobs.NewStore(rdb, time.Hour)
	store.Durability = durability
	return &WebhookHandler{
		Jobs:   store,
		Client: netguard.NewClient(netguard.Policy{Allow: []string{"localhost"}}, 5*time.Second),
		Secret: webhook.Secret("0123456789abcdef0123456789abcdef"),
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, store, rdb
}

func claimPayload(url string) WebhookPayload {
	return WebhookPayload{JobID: "j1", EventID: webhook.MessageID("j1", webhook.EventJobSucceeded), Type: webhook.EventJobSucceeded,
		URL: url, Body: json.RawMessage(`{"type":"job.succeeded"}`)}
}

func runWebhook(h *WebhookHandler, p WebhookPayload) error {
	b, _ := json.Marshal(p)
	return h.ProcessTask(context.Background(), asynq.NewTask(TypeWebhook, b))
}

// Attempts at one event that overlap (a direct attempt and its task made due early,
// or a task asynq hands out again after a failover lost its acknowledgement) send it
// once: the others find it claimed, are told to look again without spending an
// attempt, and then find it delivered.
func TestWebhookClaimSendsOnce(t *testing.T) {
	h, _, _ := claimHandler(t, jobs.Durability{})
	var posts atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		<-release // every attempt starts while the first is still sending
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	p := claimPayload(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))

	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = runWebhook(h, p) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for posts.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the others meet the claim meanwhile
	close(release)
	wg.Wait()
	sent, busy := 0, 0
	for _, err := range errs {
		var b *DeliveryBusyError
		switch {
		case err == nil:
			sent++
		case errors.As(err, &b) && !IsFailure(err):
			busy++
			if d := WebhookRetryDelay(nil)(0, err, asynq.NewTask(TypeWebhook, nil)); d <= 0 || d > 2*time.Second {
				t.Errorf("busy attempt retried after %v", d)
			}
		default:
			t.Errorf("attempt: %v", err)
		}
	}
	if posts.Load() != 1 || sent != 1 || busy != n-1 {
		t.Fatalf("%d POSTs, %d attempts sent, %d busy; want 1, 1, %d", posts.Load(), sent, busy, n-1)
	}
	// The busy ones, retried, find it delivered and send nothing.
	if err := runWebhook(h, p); err != nil || posts.Load() != 1 {
		t.Fatalf("retry after delivery: %v, %d POSTs", err, posts.Load())
	}
}

// A failed POST gives the claim back: the next attempt sends at once instead of
// waiting for the claim to expire. A claim whose holder died holds the event off
// until it expires, then the task sends it.
func TestWebhookClaimReleasedAndExpired(t *testing.T) {
	h, store, rdb := claimHandler(t, jobs.Durability{})
	rec := testenv.NewReceiver(t, http.StatusInternalServerError, http.StatusOK)
	p := claimPayload(strings.Replace(rec.URL, "127.0.0.1", "localhost", 1))
	ctx := context.Background()
	if err := runWebhook(h, p); err == nil {
		t.Fatal("first attempt (500) succeeded")
	}
	if err := runWebhook(h, p); err != nil {
		t.Fatalf("second attempt after a failed one: %v", err)
	}
	if n := len(rec.Requests()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}

	// Another event, claimed by an attempt that then died.
	p2 := p
	p2.EventID = webhook.MessageID("j1", webhook.EventJobFailed)
	if c, _, err := store.ClaimDelivery(ctx, p2.JobID, p2.EventID, "dead-worker"); err != nil || c != jobs.Claimed {
		t.Fatalf("claim: %v %v", c, err)
	}
	var busy *DeliveryBusyError
	if err := runWebhook(h, p2); !errors.As(err, &busy) || busy.Left <= 0 {
		t.Fatalf("attempt while another holds the claim: %v", err)
	}
	if n := len(rec.Requests()); n != 2 {
		t.Fatalf("sent while another held the claim (%d requests)", n)
	}
	if err := rdb.PExpire(ctx, "swapd:hook:"+p2.EventID, time.Millisecond).Err(); err != nil { // it expires
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if err := runWebhook(h, p2); err != nil {
		t.Fatalf("attempt after the claim expired: %v", err)
	}
	if n := len(rec.Requests()); n != 3 {
		t.Fatalf("%d requests after the claim expired, want 3", n)
	}
}

// With SWAPD_REDIS_MIN_REPLICAS, an attempt whose claim no replica confirms (here:
// there is no replica) sends nothing, gives the claim back, and is retried as an
// outage, without spending the receiver's attempts.
func TestWebhookClaimUnconfirmedSendsNothing(t *testing.T) {
	h, store, _ := claimHandler(t, jobs.Durability{MinReplicas: 1, Timeout: 50 * time.Millisecond})
	rec := testenv.NewReceiver(t)
	p := claimPayload(strings.Replace(rec.URL, "127.0.0.1", "localhost", 1))
	err := runWebhook(h, p)
	if err == nil || IsFailure(err) {
		t.Fatalf("unconfirmed claim: %v, want an outage error", err)
	}
	if n := len(rec.Requests()); n != 0 {
		t.Fatalf("sent %d requests without a confirmed claim", n)
	}
	if c, _, err := store.ClaimDelivery(context.Background(), p.JobID, p.EventID, "next"); err != nil || c != jobs.Claimed {
		t.Fatalf("the unconfirmed claim was not given back: %v %v", c, err)
	}
}

// heldClaimJob creates job id with a webhook to url, starts it and succeeds it through
// SucceedClaiming, as a worker with direct first attempts does (SwapHandler.succeed).
func heldClaimJob(t *testing.T, store *jobs.Store, id, url string) (*jobs.Job, *heldClaim) {
	t.Helper()
	ctx := context.Background()
	if err := store.Create(ctx, &jobs.Job{ID: id, Kind: jobs.KindProbe, CreatedAt: time.Now().UTC(), Webhook: &jobs.Webhook{URL: url}}); err != nil {
		t.Fatal(err)
	}
	started, err := store.Start(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c := jobs.EventClaim{EventID: EventID(started, webhook.EventJobSucceeded), Token: jobs.NewClaimToken()}
	ended, found, err := store.SucceedClaiming(ctx, id, nil, nil, c)
	if err != nil || found != jobs.Claimed {
		t.Fatalf("SucceedClaiming: %v, %v; want claimed", found, err)
	}
	return ended, &heldClaim{EventClaim: c, Found: found}
}

// The claim taken as a job succeeded is the direct attempt's: it sends under it, once,
// and marks the event delivered; and when no delivery slot comes in time, it gives
// the claim back before handing the event to its task, which may then send at once.
func TestDirectAttemptWithHeldClaim(t *testing.T) {
	h, store, rdb := claimHandler(t, jobs.Durability{})
	rec := testenv.NewReceiver(t, http.StatusOK)
	url := strings.Replace(rec.URL, "127.0.0.1", "localhost", 1)
	queue := asynq.NewClientFromRedisClient(rdb)
	schedule := []time.Duration{200 * time.Millisecond}
	d := NewDirectDelivery(h, schedule, 1)
	n := &Notifier{Client: queue, Jobs: store, MaxRetry: len(schedule), Direct: d}
	h.Notifier = n
	ctx := context.Background()

	ended, held := heldClaimJob(t, store, "held1", url)
	if err := n.notifyEnded(ctx, ended, held); err != nil {
		t.Fatal(err)
	}
	d.Wait()
	got := rec.Requests()
	if len(got) != 1 || got[0].Header.Get("webhook-id") != held.EventID {
		t.Fatalf("%d deliveries (%+v); want one with webhook-id %s", len(got), got, held.EventID)
	}
	if v, _ := rdb.Get(ctx, "swapd:hook:"+held.EventID).Result(); v != "delivered" {
		t.Fatalf("event key %q after the delivery; want delivered", v)
	}

	// No slot in time: the only one is taken, and the attempt's wait (half the first delay) runs out.
	d.slots <- struct{}{}
	ended, held = heldClaimJob(t, store, "held2", url)
	if err := n.notifyEnded(ctx, ended, held); err != nil {
		t.Fatal(err)
	}
	d.Wait()
	<-d.slots
	if v, err := rdb.Get(ctx, "swapd:hook:"+held.EventID).Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("event key %q (%v) after a hand-off; want the claim given back", v, err)
	}
	in := asynq.NewInspectorFromRedisClient(rdb)
	if _, err := in.GetTaskInfo(QueueWebhooks, held.EventID); err != nil {
		t.Fatalf("the event's task after the hand-off: %v", err)
	}
	if len(rec.Requests()) != 1 {
		t.Fatalf("%d deliveries; the handed-off event was sent directly too", len(rec.Requests()))
	}
}
