package tasks

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/pkg/webhook"
)

func TestRetryDelay(t *testing.T) {
	f := RetryDelay(webhook.Schedule)
	hook := asynq.NewTask(TypeWebhook, nil)
	// asynq passes the number of retries so far: the first retry waits Schedule[0].
	for n, want := range webhook.Schedule {
		if got := f(n, nil, hook); got != want {
			t.Errorf("webhook retry %d: %v, want %v", n, got, want)
		}
	}
	if got := f(50, nil, hook); got != webhook.Schedule[len(webhook.Schedule)-1] {
		t.Errorf("past the schedule: %v", got)
	}
	swap := asynq.NewTask(TypeSwap, nil)
	prev := time.Duration(0)
	for n := 0; n < 10; n++ {
		d := f(n, nil, swap)
		if d < prev || d > time.Minute || d < 2*time.Second {
			t.Fatalf("swap retry %d: %v after %v", n, d, prev)
		}
		prev = d
	}
}

func TestTaskConstructors(t *testing.T) {
	task, err := NewSwapTask("job-1")
	if err != nil {
		t.Fatal(err)
	}
	var p SwapPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil || p.JobID != "job-1" || task.Type() != TypeSwap {
		t.Fatalf("%+v %v", p, err)
	}
	wt, err := NewWebhookTask(WebhookPayload{JobID: "j", EventID: "msg_1", URL: "https://x", Body: json.RawMessage(`{"a":1}`)}, 7)
	if err != nil || wt.Type() != TypeWebhook {
		t.Fatal(err)
	}
}
