package workercmd

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/jobs"
)

func TestParseSwappers(t *testing.T) {
	sw, conv, err := parseSwappers("hyperswap_1a_256=hyperswap_1a_256.onnx, ghost_1_256=/abs/ghost.onnx,crossface_ghost=crossface_ghost.onnx", "/models")
	if err != nil {
		t.Fatal(err)
	}
	if len(sw) != 2 || sw["hyperswap_1a_256"] != filepath.Join("/models", "hyperswap_1a_256.onnx") || sw["ghost_1_256"] != "/abs/ghost.onnx" {
		t.Errorf("swappers %v", sw)
	}
	if len(conv) != 1 || conv["crossface_ghost"] != filepath.Join("/models", "crossface_ghost.onnx") {
		t.Errorf("converters %v", conv)
	}
	for _, bad := range []string{"hyperswap_1a_256", "=x.onnx", "ghost_1_256="} {
		if _, _, err := parseSwappers(bad, "/models"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The worker's publisher makes its swappers Offered at once, and stops with ctx.
func TestPublishOffers(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		publishOffers(ctx, rdb, map[string][]string{jobs.OfferSwapper: {"inswapper_128", "simswap_256"}, jobs.OfferMask: {"occlusion"}}, "test-profile",
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := jobs.Offered(context.Background(), rdb, jobs.OfferSwapper, "simswap_256", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("simswap_256 never offered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ok, _ := jobs.Offered(context.Background(), rdb, jobs.OfferSwapper, "ghost_3_256", time.Now()); ok {
		t.Error("ghost_3_256 offered though the worker does not have it")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ok, _ := jobs.Offered(context.Background(), rdb, jobs.OfferMask, "occlusion", time.Now()); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the occlusion mask never offered")
		}
	}
	if ok, _ := jobs.Offered(context.Background(), rdb, jobs.OfferMask, "region", time.Now()); ok {
		t.Error("region masks offered though the worker has no parser")
	}
	cancel()
	<-done
}
