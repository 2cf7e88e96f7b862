package e2e

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// stateReceiver is a webhook receiver that, while it holds each request, asks asynq
// what state the event's webhook task is in: "absent" means the delivery came from the
// worker directly (no task exists until that attempt fails), "active" means the task
// itself is making it.
type stateReceiver struct {
	mu       sync.Mutex
	statuses []int // answers, in order; the last one repeats
	got      []delivery
	arrived  chan struct{}
}

type delivery struct {
	id    string
	state string
}

func newStateReceiver(t *testing.T, in *asynq.Inspector, statuses ...int) (*stateReceiver, string) {
	t.Helper()
	r := &stateReceiver{statuses: statuses, arrived: make(chan struct{}, 16)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id := req.Header.Get("webhook-id")
		state := "absent"
		if info, err := in.GetTaskInfo(tasks.QueueWebhooks, id); err == nil {
			state = info.State.String()
		} else if !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) { // no task ever enqueued: no queue
			state = "error: " + err.Error()
		}
		r.mu.Lock()
		n := len(r.got)
		r.got = append(r.got, delivery{id, state})
		status := r.statuses[min(n, len(r.statuses)-1)]
		r.mu.Unlock()
		w.WriteHeader(status)
		r.arrived <- struct{}{}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r, "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + "/hook"
}

func (r *stateReceiver) wait(t *testing.T, n int) []delivery {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		r.mu.Lock()
		got := append([]delivery(nil), r.got...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("%d webhook deliveries, want %d", len(got), n)
		}
	}
}

func inspector(t *testing.T) *asynq.Inspector {
	t.Helper()
	opt, err := asynq.ParseRedisURI(st.env["SWAPD_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	in := asynq.NewInspector(opt)
	t.Cleanup(func() { in.Close() })
	return in
}

// TestWebhookFirstAttemptDirect: the worker that ends a job makes the webhook's first
// attempt itself, before any webhook task exists; once delivered, the job says so, no
// task is ever enqueued, and the job is no longer owed a webhook.
func TestWebhookFirstAttemptDirect(t *testing.T) {
	in := inspector(t)
	rec, hook := newStateReceiver(t, in, 200)
	var c created
	st.postJSON(t, "/v1/jobs", map[string]any{"kind": "probe", "webhook": map[string]string{"url": hook}}, &c)
	got := rec.wait(t, 1)
	if got[0].state != "absent" {
		t.Fatalf("the first delivery came while the webhook task was %q; want no task (a direct attempt)", got[0].state)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		j := st.get(t, c.ID)
		_, err := in.GetTaskInfo(tasks.QueueWebhooks, got[0].id)
		if j.Status == jobs.Succeeded && j.Webhook != nil && j.Webhook.Status == "delivered" && (errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a direct delivery: job %s webhook %+v, task lookup %v; want delivered and no task", j.Status, j.Webhook, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // the schedule's first retry (300 ms) would have come by now
	if got := rec.wait(t, 1); len(got) != 1 {
		t.Fatalf("%d deliveries after a successful direct attempt, want 1: %+v", len(got), got)
	}
	if _, err := in.GetTaskInfo(tasks.QueueWebhooks, got[0].id); !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatalf("a webhook task appeared after the direct delivery: %v", err)
	}
	opt, err := redis.ParseURL(st.env["SWAPD_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	owed, err := jobs.NewStore(rdb, 0).UnnotifiedSince(context.Background(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(owed, c.ID) {
		t.Fatalf("job %s is still owed a webhook after its direct delivery (the reaper would send it again)", c.ID)
	}
}

// TestWebhookDirectAttemptFailsThenTask: a failed direct attempt enqueues the webhook
// task, which retries on the schedule under the same webhook-id, once.
func TestWebhookDirectAttemptFailsThenTask(t *testing.T) {
	in := inspector(t)
	rec, hook := newStateReceiver(t, in, 503, 200)
	var c created
	st.postJSON(t, "/v1/jobs", map[string]any{"kind": "probe", "webhook": map[string]string{"url": hook}}, &c)
	got := rec.wait(t, 2)
	if got[0].state != "absent" {
		t.Errorf("first (failed) delivery while the task was %q; want no task yet (direct)", got[0].state)
	}
	if got[1].state != "active" {
		t.Errorf("second delivery while the task was %q; want active (the task's own attempt)", got[1].state)
	}
	if got[0].id == "" || got[1].id != got[0].id {
		t.Errorf("webhook-id changed between the direct attempt and the retry: %q, %q", got[0].id, got[1].id)
	}
	time.Sleep(time.Second)
	if got := rec.wait(t, 2); len(got) != 2 {
		t.Fatalf("%d deliveries, want 2 (one failed direct, one retry): %+v", len(got), got)
	}
	if j := st.waitStatus(t, c.ID, jobs.Succeeded); j.Webhook == nil || j.Webhook.Status != "delivered" {
		deadline := time.Now().Add(5 * time.Second)
		for j.Webhook == nil || j.Webhook.Status != "delivered" {
			if time.Now().After(deadline) {
				t.Fatalf("webhook %+v, want delivered", j.Webhook)
			}
			time.Sleep(50 * time.Millisecond)
			j = st.get(t, c.ID)
		}
	}
}
