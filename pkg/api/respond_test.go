package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/storage"
	"github.com/swapd/swapd/tasks"
)

// TestRedisDownIs503: with Redis stopped (a real redis-server, killed), submitting and
// listing answer 503 UNAVAILABLE with Retry-After, never 500 INTERNAL.
func TestRedisDownIs503(t *testing.T) {
	addr, stop, err := testenv.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	store := jobs.NewStore(rdb, time.Hour)
	queue := asynq.NewClientFromRedisClient(rdb)
	m := testenv.MinIO(t)
	objects, err := storage.New(context.Background(), storage.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "redis-down"})
	if err != nil {
		t.Fatal(err)
	}
	h := NewServer(Deps{Keys: []string{"k"}, Redis: rdb, Jobs: store, Queue: queue, Store: objects,
		Inspector: asynq.NewInspectorFromRedisClient(rdb),
		Notifier:  &tasks.Notifier{Client: queue, Jobs: store}})
	call := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer k")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := call("POST", "/v1/jobs", `{"kind":"probe"}`); w.Code != http.StatusAccepted {
		t.Fatalf("submit with Redis up: %d %s", w.Code, w.Body)
	}
	stop()
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/jobs", `{"kind":"probe"}`},
		{"GET", "/v1/jobs", ""},
		{"GET", "/v1/jobs/0190c0de-0000-7000-8000-000000000000", ""},
	} {
		w := call(c.method, c.path, c.body)
		var e errorBody
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != http.StatusServiceUnavailable || e.Error == nil || e.Error.Code != "UNAVAILABLE" || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s with Redis down: %d %s (Retry-After %q)", c.method, c.path, w.Code, w.Body, w.Header().Get("Retry-After"))
		}
	}
}
