package workercmd

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/hibiken/asynq"
)

// profileQueueCheck is how often a worker looks for its profile's queue until it
// exists: the longest the first job routed to a profile waits beyond the poll.
const profileQueueCheck = 5 * time.Second

// serveProfileQueue serves queue, the queue of this worker's profile
// (tasks.ProfileQueue), with a server of its own (newServer), started only once
// asynq knows the queue, that is once the API has routed a first job there. Why
// not serve it from the start with the shared queues: asynq tries a server's queues
// one round trip each, on every idle poll and, under load, on every task, so a queue
// that stays empty (in a fleet whose workers are all configured alike the API never
// routes a job to a profile) would cost an idle worker a third of its Redis traffic
// and slow every dequeue. Until the queue exists the check costs one SMEMBERS every
// `every` (profileQueueCheck). It returns a function that stops the check and shuts the
// server down, if it was started.
func serveProfileQueue(ctx context.Context, in *asynq.Inspector, queue string, newServer func() *asynq.Server, h asynq.Handler, every time.Duration, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var srv *asynq.Server // set by the check before it returns; read by stop after it has
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if queues, err := in.Queues(); err == nil && slices.Contains(queues, queue) {
				s := newServer()
				if err := s.Start(h); err != nil {
					log.Error("serve the profile's queue", "queue", queue, "err", err)
					return
				}
				srv = s
				log.Info("serving the profile's queue", "queue", queue)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		if srv != nil {
			srv.Shutdown()
		}
	}
}
