// Package loadgen drives a job service with webhooks from outside, the same way for
// swapd and for any peer: each job is submitted with its own webhook URL on a
// receiver the generator runs, and a job counts as finished when its webhook arrives.
// It measures submit→webhook latency (p50/p99), submit and finish throughput, and lost
// and duplicate webhooks (by webhook-id).
//
// Two modes: Open submits N jobs at a fixed rate whatever the completions (open loop,
// so a slow service shows as latency, not as a slower offered load); Closed runs C
// clients that each submit as fast as their previous submit returns (max rate).
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Target is a service under load: Submit submits one job whose terminal webhook goes
// to webhookURL, and returns once the service has accepted it.
type Target interface {
	Submit(ctx context.Context, webhookURL string) error
}

// Swapd submits probe jobs to a swapd API.
type Swapd struct {
	URL, Key string
	HTTP     *http.Client // nil: Client()
}

// Submit implements Target.
func (s *Swapd) Submit(ctx context.Context, webhookURL string) error {
	body, _ := json.Marshal(map[string]any{"kind": "probe", "webhook": map[string]string{"url": webhookURL}})
	return post(ctx, s.HTTP, s.URL+"/v1/jobs", s.Key, body)
}

// Peer submits no-op jobs to the FastAPI + Celery peer (bench/peer): POST /jobs
// {"webhook_url": …} answers 202.
type Peer struct {
	URL  string
	HTTP *http.Client // nil: Client()
}

// Submit implements Target.
func (p *Peer) Submit(ctx context.Context, webhookURL string) error {
	body, _ := json.Marshal(map[string]string{"webhook_url": webhookURL})
	return post(ctx, p.HTTP, p.URL+"/jobs", "", body)
}

var defaultClient = Client()

// Client is an HTTP client that keeps enough idle connections for a load test.
func Client() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 1024
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

func post(ctx context.Context, c *http.Client, url, key string, body []byte) error {
	if c == nil {
		c = defaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("submit: %s %s", resp.Status, bytes.TrimSpace(data))
	}
	return nil
}

// Receiver is the webhook receiver: job i's webhook URL is URL(i). It answers 204 and
// records, per job, when its first webhook came and, per webhook-id, how many came.
type Receiver struct {
	base string
	srv  *http.Server

	mu      sync.Mutex
	first   map[int]time.Time
	byID    map[string]int
	noID    int
	arrived chan struct{}
}

// NewReceiver listens on a free loopback port. Its URLs name "localhost" (swapd's SSRF
// guard must allow it: SWAPD_ALLOW_PRIVATE=localhost).
func NewReceiver() (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Receiver{
		base:  fmt.Sprintf("http://localhost:%d/hook/", ln.Addr().(*net.TCPAddr).Port),
		first: map[int]time.Time{}, byID: map[string]int{}, arrived: make(chan struct{}, 1),
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	go r.srv.Serve(ln)
	return r, nil
}

// Close stops the receiver.
func (r *Receiver) Close() error { return r.srv.Close() }

// URL is job i's webhook URL.
func (r *Receiver) URL(i int) string { return r.base + strconv.Itoa(i) }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	_, _ = io.Copy(io.Discard, req.Body)
	i, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/hook/"))
	if err != nil {
		http.Error(w, "no such hook", http.StatusNotFound)
		return
	}
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	if _, ok := r.first[i]; !ok {
		r.first[i] = now
	}
	if id == "" {
		r.noID++
	} else {
		r.byID[id]++
	}
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

// reset forgets what came before a run.
func (r *Receiver) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.first, r.byID, r.noID = map[int]time.Time{}, map[string]int{}, 0
}

func (r *Receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.first)
}

// Result is one run's figures.
type Result struct {
	Jobs, Submitted, SubmitErrors int
	FirstError                    error
	SubmitWall, FinishWall        time.Duration // from the first submit to the last accepted submit / the last webhook
	SubmitP50, SubmitP99          time.Duration // a submit's own latency
	P50, P99, Max                 time.Duration // submit → webhook
	Lost, Duplicates, NoID        int           // accepted jobs without a webhook; extra deliveries of a webhook-id; webhooks without one
}

// SubmitRate is accepted submits per second.
func (r Result) SubmitRate() float64 { return float64(r.Submitted) / r.SubmitWall.Seconds() }

// FinishRate is jobs whose webhook came, per second from the first submit to the last webhook.
func (r Result) FinishRate() float64 {
	return float64(r.Submitted-r.Lost) / r.FinishWall.Seconds()
}

func (r Result) String() string {
	return fmt.Sprintf("%d jobs: %d accepted (%d errors) in %.2fs = %.0f submits/s (submit p50 %.2fms p99 %.2fms); finished in %.2fs = %.0f jobs/s; submit→webhook p50 %.2fms p99 %.2fms max %.2fms; lost %d, duplicates %d",
		r.Jobs, r.Submitted, r.SubmitErrors, r.SubmitWall.Seconds(), r.SubmitRate(), ms(r.SubmitP50), ms(r.SubmitP99),
		r.FinishWall.Seconds(), r.FinishRate(), ms(r.P50), ms(r.P99), ms(r.Max), r.Lost, r.Duplicates)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Options bound a run's wait for webhooks.
type Options struct {
	Wait  time.Duration // after the last submit, how long to wait for missing webhooks (default 60 s)
	Grace time.Duration // after the last webhook, how long to wait for duplicates (default 1 s)
}

type submission struct {
	at, done time.Time
	err      error
}

// Open submits n jobs to t at rate jobs per second, each in its own goroutine at its
// appointed time, whether or not earlier ones have finished.
func Open(ctx context.Context, t Target, r *Receiver, n int, rate float64, o Options) Result {
	r.reset()
	subs := make([]submission, n)
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				n = i
			}
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := time.Now()
			err := t.Submit(ctx, r.URL(i))
			subs[i] = submission{s, time.Now(), err}
		}(i)
	}
	wg.Wait()
	return collect(ctx, r, subs[:n], o)
}

// Closed submits n jobs to t from clients goroutines, each submitting its next job as
// soon as its previous submit returned.
func Closed(ctx context.Context, t Target, r *Receiver, n, clients int, o Options) Result {
	r.reset()
	subs := make([]submission, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for c := 0; c < max(clients, 1); c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s := time.Now()
				err := t.Submit(ctx, r.URL(i))
				subs[i] = submission{s, time.Now(), err}
			}
		}()
	}
	sent := n
	for i := 0; i < n; i++ {
		select {
		case next <- i:
			continue
		case <-ctx.Done():
			sent = i
		}
		break
	}
	close(next)
	wg.Wait()
	return collect(ctx, r, subs[:sent], o)
}

func collect(ctx context.Context, r *Receiver, subs []submission, o Options) Result {
	if o.Wait <= 0 {
		o.Wait = time.Minute
	}
	if o.Grace <= 0 {
		o.Grace = time.Second
	}
	res := Result{Jobs: len(subs)}
	var t0, lastSubmit time.Time
	var subLat []time.Duration
	for _, s := range subs {
		if t0.IsZero() || s.at.Before(t0) {
			t0 = s.at
		}
		if s.err != nil {
			res.SubmitErrors++
			if res.FirstError == nil {
				res.FirstError = s.err
			}
			continue
		}
		res.Submitted++
		subLat = append(subLat, s.done.Sub(s.at))
		if s.done.After(lastSubmit) {
			lastSubmit = s.done
		}
	}
	res.SubmitWall = lastSubmit.Sub(t0)
	// Wait for every accepted job's webhook, or until o.Wait passes without all.
	deadline := time.After(o.Wait)
wait:
	for r.count() < res.Submitted {
		select {
		case <-r.arrived:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	time.Sleep(o.Grace)
	r.mu.Lock()
	var lat []time.Duration
	var last time.Time
	for i, s := range subs {
		if s.err != nil {
			continue
		}
		at, ok := r.first[i]
		if !ok {
			res.Lost++
			continue
		}
		lat = append(lat, at.Sub(s.at))
		if at.After(last) {
			last = at
		}
	}
	for _, c := range r.byID {
		res.Duplicates += c - 1
	}
	res.NoID = r.noID
	r.mu.Unlock()
	if !last.IsZero() {
		res.FinishWall = last.Sub(t0)
	}
	res.SubmitP50, res.SubmitP99 = Percentile(subLat, 50), Percentile(subLat, 99)
	res.P50, res.P99, res.Max = Percentile(lat, 50), Percentile(lat, 99), Percentile(lat, 100)
	return res
}

// Percentile is the p-th percentile of d (nearest rank); 0 for none.
func Percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[min(i, len(s)-1)]
}
