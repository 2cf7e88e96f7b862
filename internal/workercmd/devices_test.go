package workercmd

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swapd/swapd/internal/jobpipe"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/metrics"
	"github.com/swapd/swapd/tasks"
)

// Two CPU "devices" with one slot each: jobs run two at a time, one per device, never
// more. The semaphores and pipelines do not care what the device is, so CPU devices
// test the same scheduling a two-GPU worker gets.
func TestTwoDevicesOneSlotEach(t *testing.T) {
	devs, err := inference.ParseDevices("cpu,cpu", 1)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := inference.NewPool(devs)
	if err != nil {
		t.Fatal(err)
	}
	pipes := map[*inference.Device]*faceswap.Pipeline{}
	for _, d := range devs {
		pipes[d] = &faceswap.Pipeline{} // never run: only which one is handed out matters
	}
	dp := &devicePool{pool: pool, pipelines: pipes, metrics: metrics.New()}

	var running, peak atomic.Int32
	// jobpipe.Pipeline values made from the same pipeline are equal: the map tells
	// which device's pipeline a job got.
	perDevice := map[tasks.Pipeline]*atomic.Int32{}
	for _, p := range pipes {
		perDevice[jobpipe.New(p)] = new(atomic.Int32)
	}
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, release, err := dp.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			if c := perDevice[p].Add(1); c > 1 {
				t.Errorf("a device ran %d jobs at once", c)
			}
			time.Sleep(20 * time.Millisecond)
			perDevice[p].Add(-1)
			running.Add(-1)
			release()
			release() // a second release must not free a second slot
		}()
	}
	wg.Wait()
	if peak.Load() != 2 {
		t.Fatalf("peak concurrency %d, want exactly 2", peak.Load())
	}
	// Both slots are free again, and no more than two can be taken.
	_, r1, _ := dp.Acquire(context.Background())
	_, r2, _ := dp.Acquire(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := dp.Acquire(ctx); err == nil {
		t.Fatal("a third job got a slot on two one-slot devices")
	}
	r1()
	r2()
}
