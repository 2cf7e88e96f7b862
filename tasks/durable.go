package tasks

import (
	"context"
	"log/slog"
	"time"
)

// confirmOutcome makes a job's end durable before the swap task is acknowledged: the
// terminal record (and with it the job's place among those owed a webhook, written
// in the same step) must be on SWAPD_REDIS_MIN_REPLICAS replicas
// (jobs.Store.Confirm; nothing to do when that is 0). Otherwise a Redis failover could
// keep asynq's acknowledgement and drop the outcome, or keep a webhook delivered
// from the old primary and run the job, and send its event, once more.
//
// When the replicas do not confirm (the primary lost its replica, or Sentinel has
// already promoted another node and this one's recent writes will be thrown away), it
// waits a little and tries again on whatever primary the client now reaches, for as
// long as ctx allows: if that primary holds the ended record, the webhook is sent
// again from there (once: every attempt claims the event, see Notifier.NotifyEnded)
// and the record confirmed there. If the record there is not ended (the outcome was lost with the old
// primary), the job is left to asynq's recovery and the Reaper, which run it again.
func (h *SwapHandler) confirmOutcome(ctx context.Context, log *slog.Logger, id string) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := h.Jobs.Confirm(ctx)
		if err == nil {
			if attempt > 1 {
				log.Info("job outcome confirmed on replicas", "attempts", attempt)
			}
			return
		}
		log.Warn("job outcome not confirmed on replicas yet", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			log.Error("job outcome not confirmed on replicas; a failover may lose it, the reaper will repair that", "err", err)
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
		st, err := h.Jobs.Status(ctx, id)
		switch {
		case err != nil:
			continue // Redis unreachable for now
		case !st.Terminal():
			log.Error("job outcome lost in a Redis failover; it will run again", "status", st)
			return
		}
		if err := h.Notifier.Notify(ctx, id); err != nil {
			log.Warn("enqueue webhook again", "err", err)
		}
	}
}
