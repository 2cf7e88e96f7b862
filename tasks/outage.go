package tasks

import (
	"errors"
	"fmt"
	"time"
)

// DefaultOutageBudget is how long a job keeps retrying through an outage of storage,
// the network or a source server before it fails with UNAVAILABLE
// (SWAPD_STORAGE_OUTAGE_BUDGET). MinIO restarts, S3 blips and rolling upgrades take
// seconds to minutes; a job that waits them out is better than one that fails.
const DefaultOutageBudget = 10 * time.Minute

// OutageError is a transient failure of an attempt during an outage that began at
// Since (the job's first transient failure). asynq is told it is not a failure (see
// IsFailure), so it does not use up the task's retries, which are kept for workers
// that die; the job is failed instead once the outage outlasts the budget.
type OutageError struct {
	Since time.Time
	Err   error
}

func (e *OutageError) Error() string {
	return fmt.Sprintf("transient failure (outage since %s): %v", e.Since.Format(time.RFC3339), e.Err)
}

func (e *OutageError) Unwrap() error { return e.Err }

// IsFailure is asynq's Config.IsFailure: an attempt that ended in an outage is retried
// without counting against the task's MaxRetry.
func IsFailure(err error) bool {
	var o *OutageError
	return !errors.As(err, &o)
}

// outageDelay is the wait before the next attempt in an outage: short at first, so
// a blip costs seconds, then a quarter of the outage so far, at most 30 s.
func outageDelay(o *OutageError) time.Duration {
	d := time.Since(o.Since) / 4
	return min(max(d, 2*time.Second), 30*time.Second)
}
