package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/swapd/swapd/internal/loadgen"
	"github.com/swapd/swapd/pkg/client"
)

// cmdBench measures a running stack from the outside, as a client sees it:
//   - end to end: submit an image job and wait for its webhook, -jobs times in a row;
//     the worker's own per-stage seconds come from the job records;
//   - submit latency: -submits small JSON submissions (upload keys, no image bytes in
//     the body) from -parallel clients, reporting p50/p99;
//   - the queue alone (-probes N): probe jobs through internal/loadgen, open loop at
//     -rate jobs/s or max rate from -parallel clients, against swapd and, with -peer,
//     against the FastAPI + Celery peer with the same code (benchProbes); -repeat N
//     runs N swapd/peer pairs and prints the median of each ratio.
//
// The webhook receiver listens on localhost, so the stack must allow "localhost" in
// SWAPD_ALLOW_PRIVATE (scripts/bench.sh does).
func cmdBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url, key := apiFlags(fs, getenv)
	source := fs.String("source", "", "source image")
	target := fs.String("target", "", "target image")
	jobsN := fs.Int("jobs", 10, "image jobs to time end to end (sequentially)")
	probes := fs.Int("probes", 0, "if > 0: measure the queue with this many probe jobs instead (no inference)")
	submits := fs.Int("submits", 500, "JSON submissions to time")
	parallel := fs.Int("parallel", 8, "concurrent submitters (with -probes and no -rate: clients submitting back to back)")
	rate := fs.Float64("rate", 0, "with -probes: submit at this many jobs/s, open loop (0: max rate from -parallel clients)")
	peer := fs.String("peer", "", "with -probes: also run the same load against the FastAPI + Celery peer at this URL (bench/peer) and print the ratios")
	pauseSwapd := fs.String("pause-swapd", "", "with -peer: process ids (comma-separated) of swapd's stack to stop while the peer is measured, so its idle cost is not charged to the peer")
	pausePeer := fs.String("pause-peer", "", "with -peer: process ids of the peer's stack to stop while swapd is measured")
	repeat := fs.Int("repeat", 1, "with -probes: run the load this many times (with -peer: swapd then the peer each time) and print the median ratios")
	if err := fs.Parse(args); err != nil || (*probes == 0 && (*source == "" || *target == "")) {
		return exitUsage, errors.New("bench needs -source and -target, or -probes N")
	}
	c := client.New(*url, *key)
	if *probes > 0 {
		var pause [2]pausing
		for i, f := range []string{*pauseSwapd, *pausePeer} {
			var err error
			if pause[i], err = parsePIDs(f); err != nil {
				return exitUsage, fmt.Errorf("-pause-swapd/-pause-peer: %w", err)
			}
		}
		return benchProbes(ctx, c, *peer, pause, *probes, *parallel, *repeat, *rate, stdout)
	}
	hooks, hookURL, err := startReceiver()
	if err != nil {
		return exitFailed, err
	}
	srcB64, err := fileBase64(*source)
	if err != nil {
		return exitUsage, err
	}
	tgtB64, err := fileBase64(*target)
	if err != nil {
		return exitUsage, err
	}

	// End to end.
	var e2e []time.Duration
	stages := map[string]float64{}
	for i := 0; i < *jobsN; i++ {
		t0 := time.Now()
		id, err := submitJSON(ctx, c, map[string]any{
			"source": map[string]string{"base64": srcB64}, "target": map[string]string{"base64": tgtB64},
			"webhook": map[string]string{"url": hookURL},
		})
		if err != nil {
			return exitAPI, err
		}
		if err := hooks.wait(ctx, id, 2*time.Minute); err != nil {
			return exitFailed, err
		}
		e2e = append(e2e, time.Since(t0))
		j, err := c.Get(ctx, id)
		if err != nil {
			return exitAPI, err
		}
		for k, v := range j.Stages {
			stages[k] += v / float64(*jobsN)
		}
	}
	fmt.Fprintf(stdout, "end to end (submit → signed webhook), %s: p50 %.3fs  p99 %.3fs  mean %.3fs\n",
		plural(*jobsN, "image job", "image jobs"), pct(e2e, 50).Seconds(), pct(e2e, 99).Seconds(), mean(e2e).Seconds())
	fmt.Fprintf(stdout, "worker stages (mean seconds per job):")
	for _, k := range []string{"fetch", "decode", "wait_slot", "detect", "embed", "swap", "paste", "encode", "upload"} {
		fmt.Fprintf(stdout, " %s=%.4f", k, stages[k])
	}
	fmt.Fprintln(stdout)

	// Submit latency with upload keys: the API stats and sniffs the objects, stores the
	// record, enqueues.
	srcKey, err := uploadFile(ctx, c, *source)
	if err != nil {
		return exitAPI, err
	}
	tgtKey, err := uploadFile(ctx, c, *target)
	if err != nil {
		return exitAPI, err
	}
	body := map[string]any{"source": map[string]string{"key": srcKey}, "target": map[string]string{"key": tgtKey}}
	lat := make([]time.Duration, *submits)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	t0 := time.Now()
	for w := 0; w < *parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s := time.Now()
				id, err := submitJSON(ctx, c, body)
				lat[i] = time.Since(s)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					continue
				}
				_, _ = c.Cancel(ctx, id) // keep the worker free for the next measurement
			}
		}()
	}
	for i := 0; i < *submits; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return exitAPI, firstErr
	}
	wall := time.Since(t0)
	fmt.Fprintf(stdout, "submit latency, %s, %d concurrent: p50 %.2fms  p99 %.2fms  (%.0f submits/s)\n",
		plural(*submits, "JSON submission", "JSON submissions"), *parallel, ms(pct(lat, 50)), ms(pct(lat, 99)), float64(*submits)/wall.Seconds())
	return exitOK, nil
}

func fileBase64(path string) (string, error) {
	b, err := os.ReadFile(path)
	return base64.StdEncoding.EncodeToString(b), err
}

func submitJSON(ctx context.Context, c *client.Client, body any) (string, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/v1/jobs", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ ID string }
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(data, &out) != nil {
		return "", fmt.Errorf("submit: %s %s", resp.Status, data)
	}
	return out.ID, nil
}

func uploadFile(ctx context.Context, c *client.Client, path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/v1/uploads", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+c.Key)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return "", err
	}
	var up struct{ Key, URL string }
	err = json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	put, _ := http.NewRequestWithContext(ctx, http.MethodPut, up.URL, bytes.NewReader(data))
	resp, err = c.HTTP.Do(put)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("presigned PUT: %s", resp.Status)
	}
	return up.Key, nil
}

// hookSink records which job ids have had a webhook delivered, when, and how often.
type hookSink struct {
	mu    sync.Mutex
	seen  map[string]chan struct{}
	first map[string]time.Time
	count map[string]int
}

func (h *hookSink) at(id string) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.first[id]
}

func (h *hookSink) duplicates() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := 0
	for _, n := range h.count {
		if n > 1 {
			d += n - 1
		}
	}
	return d
}

func (h *hookSink) ch(id string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.seen[id]
	if !ok {
		c = make(chan struct{})
		h.seen[id] = c
	}
	return c
}

func (h *hookSink) wait(ctx context.Context, id string, d time.Duration) error {
	select {
	case <-h.ch(id):
		return nil
	case <-time.After(d):
		return fmt.Errorf("no webhook for job %s after %v", id, d)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func startReceiver() (*hookSink, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	h := &hookSink{seen: map[string]chan struct{}{}, first: map[string]time.Time{}, count: map[string]int{}}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var ev struct{ Data struct{ ID string } }
		_ = json.NewDecoder(r.Body).Decode(&ev)
		c := h.ch(ev.Data.ID)
		h.mu.Lock()
		h.count[ev.Data.ID]++
		if _, ok := h.first[ev.Data.ID]; !ok {
			h.first[ev.Data.ID] = now
		}
		select {
		case <-c:
		default:
			close(c)
		}
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	port := ln.Addr().(*net.TCPAddr).Port
	return h, fmt.Sprintf("http://localhost:%d/hook", port), nil
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

func mean(d []time.Duration) time.Duration {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchProbes measures the queue itself with internal/loadgen: probe jobs travel API,
// Redis, a worker's device slot, the job record and a signed webhook, without
// inference. rate > 0 submits at that rate whatever the completions (open loop); rate
// 0 runs parallel clients submitting back to back (max rate). With peerURL, the same
// load then goes to the FastAPI + Celery peer (bench/peer), and the ratios are printed;
// pause[0] (swapd's processes) is stopped while the peer is measured, pause[1] (the
// peer's) while swapd is. repeat > 1 runs it all that many times and prints the
// median of each ratio.
func benchProbes(ctx context.Context, c *client.Client, peerURL string, pause [2]pausing, n, parallel, repeat int, rate float64, stdout io.Writer) (int, error) {
	recv, err := loadgen.NewReceiver()
	if err != nil {
		return exitFailed, err
	}
	defer recv.Close()
	run := func(name string, t loadgen.Target, other pausing) (loadgen.Result, error) {
		var r loadgen.Result
		resume, err := other.stop()
		if err != nil {
			return r, err
		}
		defer resume()
		mode := fmt.Sprintf("max rate, %d clients", parallel)
		if rate > 0 {
			mode = fmt.Sprintf("open loop at %.0f jobs/s", rate)
			r = loadgen.Open(ctx, t, recv, n, rate, loadgen.Options{})
		} else {
			r = loadgen.Closed(ctx, t, recv, n, parallel, loadgen.Options{})
		}
		fmt.Fprintf(stdout, "%-5s %s: %s\n", name, mode, r)
		return r, nil
	}
	// Each repetition runs swapd then the peer, so a pair shares the machine's state
	// of the moment; the medians over the pairs are what a noisy machine can tell.
	var ratios [4][]float64 // p50, p99, submits, finished
	var failures []string
	for i := range max(repeat, 1) {
		if repeat > 1 {
			fmt.Fprintf(stdout, "-- pair %d of %d\n", i+1, repeat)
		}
		sw, err := run("swapd", &loadgen.Swapd{URL: c.BaseURL, Key: c.Key}, pause[1])
		if err != nil {
			return exitFailed, err
		}
		if sw.SubmitErrors > 0 || sw.Lost > 0 || sw.Duplicates > 0 {
			failures = append(failures, fmt.Sprintf("%d submit errors (first: %v), %s lost, %d duplicated", sw.SubmitErrors, sw.FirstError, plural(sw.Lost, "webhook", "webhooks"), sw.Duplicates))
		}
		if peerURL == "" {
			continue
		}
		pr, err := run("peer", &loadgen.Peer{URL: peerURL}, pause[0])
		if err != nil {
			return exitFailed, err
		}
		r := [4]float64{ratio(sw.P50, pr.P50), ratio(sw.P99, pr.P99), sw.SubmitRate() / pr.SubmitRate(), sw.FinishRate() / pr.FinishRate()}
		for k := range r {
			ratios[k] = append(ratios[k], r[k])
		}
		fmt.Fprintf(stdout, "ratios swapd/peer: submit→webhook p50 %.2f×  p99 %.2f×;  submits/s %.2f×;  finished jobs/s %.2f×\n", r[0], r[1], r[2], r[3])
	}
	if peerURL != "" && repeat > 1 {
		fmt.Fprintf(stdout, "median of %d pairs swapd/peer: submit→webhook p50 %.2f×  p99 %.2f×;  submits/s %.2f×;  finished jobs/s %.2f×\n",
			repeat, median(ratios[0]), median(ratios[1]), median(ratios[2]), median(ratios[3]))
	}
	if len(failures) > 0 {
		return exitFailed, fmt.Errorf("swapd: %s", strings.Join(failures, "; "))
	}
	return exitOK, nil
}

// median is the middle value of v (the mean of the two middle ones for an even count).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
