package tasks

import (
	"time"

	"github.com/hibiken/asynq"
)

// RetryDelay returns an asynq RetryDelayFunc: webhooks follow schedule (the published
// Svix schedule in production, a short one in tests), swaps back off exponentially
// from 2 s to a minute.
func RetryDelay(schedule []time.Duration) asynq.RetryDelayFunc {
	return func(n int, _ error, t *asynq.Task) time.Duration {
		if t.Type() == TypeWebhook && len(schedule) > 0 {
			if n >= len(schedule) {
				n = len(schedule) - 1
			}
			return schedule[n]
		}
		d := 2 * time.Second << min(n, 5)
		return min(d, time.Minute)
	}
}
