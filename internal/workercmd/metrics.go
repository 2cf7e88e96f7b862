package workercmd

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/metrics"
)

// serveMetrics serves /metrics for Prometheus on addr, and the readiness probe
// /readyz (503 while the worker warms up, 200 once it takes jobs; no key needed). With
// keys, a scrape needs "Authorization: Bearer <key>" (Prometheus' authorization
// setting); without, the default loopback address keeps it local.
func serveMetrics(addr string, m *metrics.Metrics, keys []string, ready http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	h := m.Handler()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(keys) > 0 {
			got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			ok := 0
			for _, k := range keys {
				ok |= subtle.ConstantTimeCompare([]byte(k), []byte(got))
			}
			if ok != 1 {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	if ready != nil {
		mux.Handle("GET /readyz", ready)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("worker metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// workerMetrics is the worker's registry: pkg/metrics' metrics and asynq's queue
// collector (registerQueueMetrics), so the worker's /metrics carries its queues' figures
// whether or not an API runs next to it.
func workerMetrics(rdb redis.UniversalClient) *metrics.Metrics {
	m := metrics.New()
	if err := registerQueueMetrics(m, rdb); err != nil {
		panic(err) // only a second registration fails, and this registry is new
	}
	return m
}

// registerQueueMetrics puts asynq's queue collector (pkg/metrics, as on the API) on the
// worker's registry: per queue (swap, webhooks) asynq_queue_size (QueueInfo.Size: every
// task the queue holds), asynq_queue_latency_seconds (QueueInfo.Latency: how long its
// oldest pending task has waited), asynq_tasks_enqueued_total{state} (pending, active,
// scheduled, retry, archived, completed), asynq_queue_paused_total and the processed
// and failed counts. Next to swapd_device_slots_in_use these are what an autoscaler
// needs (deploy/k8s/worker-scaledobject.yaml). The inspector shares rdb, which the
// caller closes.
func registerQueueMetrics(m *metrics.Metrics, rdb redis.UniversalClient) error {
	return m.RegisterQueueCollector(asynq.NewInspectorFromRedisClient(rdb))
}
