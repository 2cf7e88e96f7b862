// Command decoderss measures the peak resident memory (VmHWM) of a process in which
// several jobs decode the same large image at once, as a worker's concurrent jobs do
// before any takes an inference slot: each reserves its cost from a media.Budget,
// decodes, makes its result (a copy of the frame) and the RGBA image Encode would,
// then lets go. Run it as a process of its own:
//
//	go run ./internal/decoderss -png big.png -jobs 3 -budget 1073741824 [-heap-limit]
//
// -budget: bytes (0: no budget; default media.DefaultMemoryBudget).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/swapd/swapd/pkg/media"
)

func main() {
	path := flag.String("png", "", "the image to decode (required)")
	jobs := flag.Int("jobs", 3, "jobs decoding at once")
	total := flag.Int64("budget", int64(media.DefaultMemoryBudget), "the decode budget in bytes (0: none)")
	heapLimit := flag.Bool("heap-limit", false, "also set Go's soft memory limit from the budget (media.Budget.LimitHeap)")
	flag.Parse()
	if *path == "" {
		log.Fatal("-png is required")
	}
	data, err := os.ReadFile(*path)
	if err != nil {
		log.Fatal(err)
	}
	b := media.NewBudget(*total)
	if *heapLimit {
		b.LimitHeap()
	}
	fmt.Printf("%d jobs, budget %d MiB, job cost %d MiB; %s at start\n", *jobs, *total>>20, media.JobCost(data)>>20, vmHWM())
	var wg sync.WaitGroup
	for range *jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lease, err := b.Reserve(context.Background(), data)
			if err != nil {
				log.Fatal(err)
			}
			defer lease.Release()
			f, _, err := media.Decode(bytes.NewReader(data), media.DefaultLimits)
			if err != nil {
				log.Fatal(err)
			}
			result := f.Clone()
			img := result.Image()
			runtime.KeepAlive(f)
			runtime.KeepAlive(img)
		}()
	}
	wg.Wait()
	fmt.Printf("budget peak %d MiB; %s at the end\n", b.Peak()>>20, vmHWM())
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
