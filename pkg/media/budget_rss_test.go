package media

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestDecodeRSS measures the peak resident memory (VmHWM) of this process while
// several jobs decode the same large image at once, as a worker's concurrent jobs do
// before any takes an inference slot: each reserves its cost from a budget, decodes,
// makes its result (a copy of the frame) and the RGBA image Encode would, then lets
// go. It runs only when asked, in a process of its own:
//
//	SWAPD_RSS_PNG=big.png SWAPD_RSS_JOBS=3 SWAPD_RSS_BUDGET=1073741824 \
//	  go test ./pkg/media -run TestDecodeRSS -count=1 -v
//
// SWAPD_RSS_BUDGET: bytes (0: no budget; unset: DefaultMemoryBudget).
func TestDecodeRSS(t *testing.T) {
	path := os.Getenv("SWAPD_RSS_PNG")
	if path == "" {
		t.Skip("set SWAPD_RSS_PNG to an image to measure")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	jobs, total := 3, int64(DefaultMemoryBudget)
	if v := os.Getenv("SWAPD_RSS_JOBS"); v != "" {
		jobs, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("SWAPD_RSS_BUDGET"); v != "" {
		total, _ = strconv.ParseInt(v, 10, 64)
	}
	b := NewBudget(total)
	if os.Getenv("SWAPD_RSS_HEAP_LIMIT") != "" {
		b.LimitHeap()
	}
	t.Logf("%d jobs, budget %d MiB, job cost %d MiB; %s at start", jobs, total>>20, JobCost(data)>>20, vmHWM())
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lease, err := b.Reserve(context.Background(), data)
			if err != nil {
				t.Error(err)
				return
			}
			defer lease.Release()
			f, _, err := Decode(bytes.NewReader(data), DefaultLimits)
			if err != nil {
				t.Error(err)
				return
			}
			result := f.Clone()
			img := result.Image()
			runtime.KeepAlive(f)
			runtime.KeepAlive(img)
		}()
	}
	wg.Wait()
	t.Logf("budget peak %d MiB; %s at the end", b.Peak()>>20, vmHWM())
}

func vmHWM() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.Join(strings.Fields(l), " ")
		}
	}
	return "VmHWM unknown"
}
