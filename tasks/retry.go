package tasks

import (
	"errors"
	"time"

	"github.com/hibiken/asynq"
)

// RetryDelay returns an asynq RetryDelayFunc: webhooks follow schedule (the published
// Svix schedule in production, a short one in tests); swaps in an outage wait by how
// long it has lasted (outageDelay); other swap retries (a worker that died) back off
// exponentially from 2 s to a minute.
func RetryDelay(schedule []time.Duration) asynq.RetryDelayFunc {
	return func(n int, err error, t *asynq.Task) time.Duration {
		var o *OutageError
		if errors.As(err, &o) {
			return outageDelay(o)
		}
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
