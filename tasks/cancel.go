package tasks

import (
	"context"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

func (h *SwapHandler) isCanceled(ctx context.Context, id string) bool {
	st, err := h.Jobs.Status(ctx, id)
	return err == nil && st == jobs.Canceled
}

// watchCancel returns a context that is canceled when the job's record stops being
// running (a client canceled or deleted it). stop ends the watch and reports whether
// it fired. The watch starts only once the job has run for one poll interval, so a job
// that ends in one step (a probe) costs a timer, neither a goroutine nor a Redis call.
func (h *SwapHandler) watchCancel(ctx context.Context, id string) (context.Context, func() bool) {
	ctx, cancel := context.WithCancel(ctx)
	every := h.CancelPoll
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	fired := make(chan struct{})
	done := make(chan struct{})
	poll := func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if st, err := h.Jobs.Status(ctx, id); err == nil && st != jobs.Running || errcode.Code(err) == errcode.NotFound {
				if ctx.Err() == nil {
					close(fired)
					cancel()
				}
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}
	timer := time.AfterFunc(every, poll)
	return ctx, func() bool {
		cancel()
		if timer.Stop() {
			return false // never started
		}
		<-done
		select {
		case <-fired:
			return true
		default:
			return false
		}
	}
}

// stageTimer accumulates per-stage seconds for the job record and the logs.
