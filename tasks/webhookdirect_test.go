package tasks

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

// A webhook task whose first attempt went direct is one step further along the
// schedule: its first retry waits the schedule's second delay, and so on; a task
// without the mark keeps the schedule as it is.
func TestWebhookRetryDelayShiftsDirectTasks(t *testing.T) {
	schedule := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}
	delay := WebhookRetryDelay(schedule)
	direct, err := NewWebhookTask(WebhookPayload{JobID: "j", EventID: "msg_1", URL: "http://x", Direct: true}, len(schedule)-1)
	if err != nil {
		t.Fatal(err)
	}
	queued, err := NewWebhookTask(WebhookPayload{JobID: "j", EventID: "msg_2", URL: "http://x"}, len(schedule))
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range []time.Duration{5 * time.Minute, 30 * time.Minute, 30 * time.Minute} {
		if got := delay(n, nil, direct); got != want {
			t.Errorf("direct task, retry %d: %v, want %v", n, got, want)
		}
	}
	for n, want := range schedule {
		if got := delay(n, nil, queued); got != want {
			t.Errorf("queued task, retry %d: %v, want %v", n, got, want)
		}
	}
	if got, want := delay(0, nil, asynq.NewTask(TypeSwap, nil)), RetryDelay(schedule)(0, nil, asynq.NewTask(TypeSwap, nil)); got != want {
		t.Errorf("swap task: %v, want %v", got, want)
	}
}

// The direct attempt's task is scheduled for a whole second at or after its delay:
// asynq makes a task due once the second its time falls in begins, so an unrounded
// time would be due up to a second early.
func TestNotBefore(t *testing.T) {
	base := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	for _, c := range []struct{ in, want time.Time }{
		{base, base},
		{base.Add(time.Nanosecond), base.Add(time.Second)},
		{base.Add(300 * time.Millisecond), base.Add(time.Second)},
		{base.Add(999 * time.Millisecond), base.Add(time.Second)},
	} {
		got := notBefore(c.in)
		if !got.Equal(c.want) || got.Before(c.in) || got.Unix() < c.in.Unix() {
			t.Errorf("notBefore(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
