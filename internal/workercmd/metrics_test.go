package workercmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/tasks"
)

// The worker's /metrics carries, per queue, the figures an autoscaler scales on: depth
// and state counts, and the age of the oldest pending task, read from a real Redis.
func TestWorkerMetricsCarryQueueFigures(t *testing.T) {
	addr, stop, err := testenv.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	q := asynq.NewClientFromRedisClient(rdb)
	for _, id := range []string{"a", "b", "c"} {
		task, err := tasks.NewSwapTask(id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.EnqueueContext(context.Background(), task); err != nil {
			t.Fatal(err)
		}
	}
	m := workerMetrics(rdb)
	m.SlotsConfigured("cuda:0", 2)
	m.SlotAcquired("cuda:0")
	ready, err := newReadiness(m)
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort())
	stopMetrics, err := serveMetrics(metricsAddr, m, []string{"sk_admin"}, ready, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stopMetrics()

	get := func(path, key string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+metricsAddr+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before warm-up: %d, want 503", code)
	}
	if code, _ := get("/metrics", "sk_tenant"); code != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong key: %d, want 401", code)
	}
	code, body := get("/metrics", "sk_admin")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, want := range []string{
		`asynq_queue_size{queue="swap"} 3`,
		`asynq_tasks_enqueued_total{queue="swap",state="pending"} 3`,
		`asynq_tasks_enqueued_total{queue="swap",state="active"} 0`,
		`asynq_queue_latency_seconds{queue="swap"} `,
		`swapd_device_slots{device="cuda:0"} 2`,
		`swapd_device_slots_in_use{device="cuda:0"} 1`,
		`swapd_worker_ready 0`,
	} {
		if !strings.Contains(body, "\n"+want) {
			t.Errorf("worker /metrics lacks %q", want)
		}
	}
	ready.set(true)
	if code, _ := get("/readyz", ""); code != http.StatusOK {
		t.Errorf("/readyz once warm: %d, want 200", code)
	}
}
