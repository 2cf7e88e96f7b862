package webhook

import "time"

// Schedule is the wait before each retry, after the first attempt fails:
// Svix's schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — svix-server's
// default retry_schedule). With the immediate first attempt that is 8
// attempts spread over about 27.5 hours, long enough to ride out a receiver's
// deploy or an overnight outage without hammering it.
var Schedule = []time.Duration{
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	10 * time.Hour,
}

// MaxAttempts is the total number of delivery attempts: the immediate one
// plus one per Schedule entry (len(Schedule)+1). For asynq that is
// asynq.MaxRetry(MaxAttempts-1).
const MaxAttempts = 8

// Delay returns how long to wait after failed attempt number attempt
// (1-based: Delay(1) is the wait between the first and second attempts)
// before trying again. Out-of-range values are clamped to the ends of
// Schedule. With asynq's RetryDelayFunc, whose n counts retries already made
// (0 after the first failure), use Delay(n+1).
func Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > len(Schedule) {
		attempt = len(Schedule)
	}
	return Schedule[attempt-1]
}
