package workercmd

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
)

// TestProfileQueueServedOnceItExists: no server takes the profile's queue while
// asynq does not know it (nothing was routed there); the first task enqueued there
// is run by the server started for it, and stop shuts that server down.
func TestProfileQueueServedOnceItExists(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	in := asynq.NewInspectorFromRedisClient(rdb)
	const queue = "swap-ptest"
	newServer := func() *asynq.Server {
		return asynq.NewServerFromRedisClient(rdb, asynq.Config{Queues: map[string]int{queue: 1}, Concurrency: 1,
			TaskCheckInterval: 20 * time.Millisecond, Logger: asynqLogger{slog.New(slog.NewTextHandler(io.Discard, nil))}})
	}
	ran := make(chan string, 1)
	h := asynq.HandlerFunc(func(_ context.Context, tk *asynq.Task) error { ran <- tk.Type(); return nil })
	stop := serveProfileQueue(context.Background(), in, queue, newServer, h, 20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))

	time.Sleep(200 * time.Millisecond) // ten checks
	servers := func() int {
		t.Helper()
		ss, err := in.Servers()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range ss {
			if _, ok := s.Queues[queue]; ok {
				n++
			}
		}
		return n
	}
	if n := servers(); n != 0 {
		t.Fatalf("%d servers take %s before any task was routed there", n, queue)
	}
	if _, err := asynq.NewClientFromRedisClient(rdb).Enqueue(asynq.NewTask("routed", nil), asynq.Queue(queue)); err != nil {
		t.Fatal(err)
	}
	select {
	case typ := <-ran:
		if typ != "routed" {
			t.Fatalf("ran %q", typ)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the task routed to the profile's queue did not run")
	}
	if n := servers(); n != 1 {
		t.Fatalf("%d servers take %s, want 1", n, queue)
	}
	stop()
	deadline := time.Now().Add(5 * time.Second)
	for servers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the profile's server still runs after stop")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
