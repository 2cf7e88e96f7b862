// Package grafana_test checks deploy/grafana/swapd.json, the alert rules in
// deploy/prometheus and the KEDA query in deploy/k8s: every PromQL expression names
// only metrics the binaries register, and, against a real Prometheus scraping a running
// swapd (API and worker) after a few jobs, every panel's expression returns data and
// every alert rule evaluates without error.
package grafana_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	swapdstack "github.com/swapd/swapd/internal/stack"
	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/metrics"
	"github.com/swapd/swapd/tasks"
)

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("swapd.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// expressions is every PromQL expression under deploy/: the dashboard's panels, the
// alert rules and the KEDA ScaledObject's query, keyed by where they are.
func expressions(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range loadDashboard(t).Panels {
		for _, tg := range p.Targets {
			out[fmt.Sprintf("panel %q %s", p.Title, tg.RefID)] = tg.Expr
		}
	}
	for name, expr := range alertRules(t) {
		out["alert "+name] = expr
	}
	out["KEDA query"] = kedaQuery(t)
	return out
}

func alertRules(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out[r.Alert] = r.Expr
		}
	}
	if len(out) == 0 {
		t.Fatal("no alert rules")
	}
	return out
}

func kedaQuery(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../k8s/worker-scaledobject.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+query: (.+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("worker-scaledobject.yaml has no prometheus query")
	}
	return string(m[1])
}

var (
	promStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promVariables = regexp.MustCompile(`\$\{?\w+\}?`)
	promIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords  = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true}
)

// metricNames is the metric names a PromQL expression selects: identifiers that are
// not functions, keywords, label names (inside {} and grouping clauses), strings,
// durations or numbers.
func metricNames(expr string) []string {
	e := promStrings.ReplaceAllString(expr, `""`)
	e = promMatchers.ReplaceAllString(e, " ")
	e = promRanges.ReplaceAllString(e, " ")
	e = promGrouping.ReplaceAllString(e, " ")
	e = promVariables.ReplaceAllString(e, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(e, -1) {
		if loc[0] > 0 && strings.ContainsAny(e[loc[0]-1:loc[0]], "0123456789.") {
			continue // the tail of a number or a duration: 1e-9, 5m
		}
		name := e[loc[0]:loc[1]]
		if strings.HasPrefix(strings.TrimLeft(e[loc[1]:], " \t\n"), "(") || promKeywords[strings.ToLower(name)] {
			continue // a function call or a keyword
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func TestMetricNamesExtraction(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (le, kind) (rate(swapd_job_duration_seconds_bucket{kind=~"image|video"}[$__rate_interval]))`:                  {"swapd_job_duration_seconds_bucket"},
		`max(a_total{queue="swap"}) > 0 unless on() sum(b_ready) > 1e-9`:                                                      {"a_total", "b_ready"},
		`histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m] offset 1h))) / ignoring(q) group_left(z) y and bool up == 1`: {"x_bucket", "y", "up"},
		`absent(up{job="swapd-api"} == 1)`: {"up"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%s) = %v, want %v", expr, got, want)
		}
	}
}

// registeredNames are the series names the binaries export: pkg/metrics' registry
// (as metrics.New builds it for both binaries) with every metric recorded once so its
// families appear, and asynq's queue collector on a real Redis with a task in each
// queue; histograms as _bucket, _sum and _count. Plus swapd_worker_ready, which the
// worker registers itself (internal/workercmd; seen live in TestDashboardAgainstPrometheus),
// and up, which Prometheus writes for every target.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New()
	now := time.Now()
	m.JobSubmitted(metrics.KindImage)
	m.JobFinished(metrics.KindImage, metrics.StatusSucceeded, "", now.Add(-2*time.Second), now.Add(-time.Second), now)
	m.Stage(metrics.StageSwap, time.Millisecond)
	m.Frames(1)
	m.SlotsConfigured("cpu", 1)
	m.SlotAcquired("cpu")
	m.WebhookAttempt(metrics.WebhookDelivered, time.Millisecond)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(http.ResponseWriter, *http.Request) {})
	srv := httptest.NewServer(m.Middleware(metrics.MuxRoute(mux), mux))
	resp, err := http.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close()

	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	q := asynq.NewClientFromRedisClient(rdb)
	for _, queue := range []string{"swap", "webhooks"} {
		if _, err := q.Enqueue(asynq.NewTask("t", nil), asynq.Queue(queue)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.RegisterQueueCollector(asynq.NewInspectorFromRedisClient(rdb)); err != nil {
		t.Fatal(err)
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"up": true, "swapd_worker_ready": true}
	for _, f := range fams {
		n := f.GetName()
		names[n] = true
		switch f.GetType().String() {
		case "HISTOGRAM":
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		case "SUMMARY":
			names[n+"_sum"], names[n+"_count"] = true, true
		}
	}
	return names
}

func TestDashboardNamesOnlyRegisteredMetrics(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard without uid or title")
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 || p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: no targets or not on the ${datasource} Prometheus", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.RefID == "" || strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q: a target without refId or expr", p.Title)
			}
			queries++
		}
	}
	// The dashboard covers what the issue asks: jobs by status and code, queue latency,
	// stage durations, slots, webhooks and HTTP.
	all := ""
	for _, e := range expressions(t) {
		all += e + "\n"
	}
	for _, want := range []string{"swapd_jobs_finished_total", "asynq_queue_latency_seconds", "swapd_queue_latency_seconds_bucket",
		"swapd_stage_duration_seconds_bucket", "swapd_device_slots_in_use", "swapd_webhook_attempts_total",
		"swapd_http_requests_total", "swapd_http_request_duration_seconds_bucket", "sum by (code)"} {
		if !strings.Contains(all, want) {
			t.Errorf("no expression uses %s", want)
		}
	}

	registered := registeredNames(t)
	for where, expr := range expressions(t) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", where, expr)
		}
		for _, n := range names {
			if !registered[n] {
				t.Errorf("%s: %s is not a metric the binaries register (expr %q)", where, n, expr)
			}
		}
	}
	t.Logf("%d panels, %d queries", len(d.Panels), queries)
}

// TestDashboardAgainstPrometheus runs a real Prometheus (the Debian package's binary)
// scraping a running swapd, runs a few jobs, and asks Prometheus for every panel's
// expression: each must return data. The alert rules are loaded into the same
// Prometheus and must evaluate without error, and the KEDA query must return the
// swap queue's figure.
func TestDashboardAgainstPrometheus(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("needs the prometheus binary (Debian package prometheus; scripts/deps.sh installs it)")
	}
	s, err := swapdstack.Start(map[string]string{"SWAPD_S3_BUCKET": "swapd-dashboard"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	dir := t.TempDir()
	rules, _ := filepath.Abs("../prometheus/alerts.yml")
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: swapd-api
    authorization: {credentials: %q}
    static_configs: [{targets: [%q]}]
  - job_name: swapd-worker
    authorization: {credentials: %q}
    static_configs: [{targets: [%q]}]
`, rules, s.Admin, strings.TrimPrefix(s.URL, "http://"), s.Admin, s.Env["SWAPD_METRICS_ADDR"])
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort())
	var promLog bytes.Buffer
	cmd := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	cmd.Stdout, cmd.Stderr = &promLog, &promLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	prom := "http://" + promAddr
	waitFor(t, 60*time.Second, "Prometheus ready", func() error {
		resp, err := http.Get(prom + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	}, &promLog)

	// Prometheus scrapes both binaries before the first job: a series that first appears
	// with its first event shows no increase in rate() (Prometheus cannot know it
	// started at zero), so the jobs run in two rounds with a scrape of both binaries
	// (the API's submits, the worker's jobs) between them.
	scraped := func(cond string) func() error {
		return func() error {
			res, err := query(prom, cond)
			if err != nil {
				return err
			}
			if len(res) == 0 {
				return fmt.Errorf("not yet: %s", cond)
			}
			return nil
		}
	}
	waitFor(t, 60*time.Second, "both targets scraped", scraped(`count(up{job=~"swapd-api|swapd-worker"} == 1) == 2`), &promLog)

	// Each round: probes with a webhook, a real image swap (stages, queue latency), and
	// one that fails (a source without a face), so every panel has something to show.
	// The receiver refuses its first delivery: first attempts go straight from the
	// worker, and only a failed one leaves a task in the webhooks queue, whose panels
	// need one.
	rec := testenv.NewReceiver(t, http.StatusServiceUnavailable, http.StatusOK)
	hook := strings.Replace(rec.URL, "127.0.0.1", "localhost", 1)
	face, err := os.ReadFile(filepath.Join(swapdstack.Testdata(), "faces", "grace_hopper.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	for round := 1; round <= 2; round++ {
		var ids []string
		for range 3 {
			ids = append(ids, submit(t, s, map[string]any{"kind": "probe", "webhook": map[string]string{"url": hook}}))
		}
		ids = append(ids, submit(t, s, map[string]any{"source": []any{map[string]string{"base64": b64(face)}}, "target": map[string]string{"base64": b64(face)}}))
		failing := submit(t, s, map[string]any{"source": []any{map[string]string{"base64": b64(grayPNG(t))}}, "target": map[string]string{"base64": b64(face)}})
		for _, id := range ids {
			if st := waitJob(t, s, id); st != "succeeded" {
				t.Fatalf("job %s ended %s", id, st)
			}
		}
		if st := waitJob(t, s, failing); st != "failed" {
			t.Fatalf("job %s without a face in its source ended %s, want failed", failing, st)
		}
		if _, err := rec.Wait(context.Background(), 3*round); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, fmt.Sprintf("round %d's jobs scraped", round),
			scraped(fmt.Sprintf(`sum(swapd_jobs_finished_total) >= %d and on() sum(swapd_webhook_attempts_total{outcome="delivered"}) >= %d`+
				` and on() sum(swapd_http_requests_total{route="POST /v1/jobs"}) >= %d`, 5*round, 3*round, 5*round)), &promLog)
	}

	// Every panel's expression returns data. Polled: a rate needs two scrapes in its
	// window after a series first appears.
	d := loadDashboard(t)
	type q struct{ where, expr string }
	var pending []q
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			pending = append(pending, q{fmt.Sprintf("panel %q %s", p.Title, tg.RefID), grafanaVars(tg.Expr)})
		}
	}
	pending = append(pending, q{"KEDA query", kedaQuery(t)})
	// What the jobs did must show in these panels; a rate's series appear one at a
	// time (each needs two scrapes), so such a panel is polled until it shows.
	type shown struct{ label, value string }
	expect := map[string]shown{
		`panel "Requests by route and status" A`: {"route", "POST /v1/jobs"},
		`panel "Submitted by kind" A`:            {"kind", "image"},
		`panel "Finished by status" A`:           {"status", "failed"},
	}
	shows := func(res []sample, w shown) bool {
		for _, smp := range res {
			if smp.Metric[w.label] == w.value && smp.V > 0 {
				return true
			}
		}
		return false
	}
	answered := map[string][]sample{}
	waitFor(t, 90*time.Second, "every panel's expression returns data", func() error {
		var left []q
		for _, x := range pending {
			res, err := query(prom, x.expr)
			if err != nil {
				t.Fatalf("%s: %q: %v", x.where, x.expr, err) // PromQL Prometheus refuses
			}
			if w, ok := expect[x.where]; len(res) == 0 || !finite(res) || (ok && !shows(res, w)) {
				left = append(left, x)
				continue
			}
			answered[x.where] = res
		}
		pending = left
		if len(left) > 0 {
			var names []string
			for _, x := range left {
				names = append(names, x.where+": "+x.expr)
			}
			return fmt.Errorf("no data (or NaN only) yet for %d:\n  %s", len(left), strings.Join(names, "\n  "))
		}
		return nil
	}, nil)
	keys := make([]string, 0, len(answered))
	for k := range answered {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%s = %v", k, answered[k])
	}
	// And what the jobs did shows where it should.
	has := func(where, label, value string, positive bool) {
		t.Helper()
		for _, smp := range answered[where] {
			if smp.Metric[label] == value && (!positive || smp.V > 0) {
				return
			}
		}
		t.Errorf("%s: no series with %s=%q (positive: %v) in %v", where, label, value, positive, answered[where])
	}
	has(`panel "Finished by status" A`, "status", "succeeded", true)
	has(`panel "Finished by status" A`, "status", "failed", true)
	has(`panel "Failures by code" A`, "code", "NO_FACE_IN_SOURCE", true)
	has(`panel "Submitted by kind" A`, "kind", "probe", true)
	has(`panel "Submitted by kind" A`, "kind", "image", true)
	has(`panel "Webhook attempts by outcome" A`, "outcome", "delivered", true)
	has(`panel "Job duration p50 / p95 by kind" B`, "kind", "image", true)
	has(`panel "Stage duration p95" A`, "stage", "swap", true)
	has(`panel "Stage duration p95" A`, "stage", "detect", true)
	has(`panel "Requests by route and status" A`, "route", "POST /v1/jobs", true)
	has(`panel "Oldest pending task by queue" A`, "queue", tasks.QueueSwap, false) // where a key's first jobs wait
	has(`panel "Oldest pending task by queue" A`, "queue", "webhooks", false)
	if r := answered[`panel "Failure ratio" A`]; len(r) != 1 || r[0].V <= 0 || r[0].V >= 1 {
		t.Errorf("failure ratio %v, want one job in five", r)
	}

	// Idle again, the KEDA figure falls back to zero (the workers may scale to zero):
	// nothing is left counted as pending or active once every job has ended.
	waitFor(t, 60*time.Second, "the KEDA query to return 0 when idle", func() error {
		res, err := query(prom, kedaQuery(t))
		if err != nil || len(res) != 1 || res[0].V != 0 {
			return fmt.Errorf("%v %v", res, err)
		}
		return nil
	}, nil)

	// The alert rules load into Prometheus and evaluate without error.
	want := alertRules(t)
	waitFor(t, 30*time.Second, "every alert rule evaluated", func() error {
		resp, err := http.Get(prom + "/api/v1/rules")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name, Health, LastError string
						LastEvaluation          time.Time
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return err
		}
		seen := 0
		for _, g := range r.Data.Groups {
			for _, rule := range g.Rules {
				if _, ok := want[rule.Name]; !ok {
					continue
				}
				if rule.LastError != "" {
					t.Fatalf("alert %s: %s", rule.Name, rule.LastError)
				}
				if rule.Health != "ok" || rule.LastEvaluation.IsZero() {
					return fmt.Errorf("alert %s: health %q", rule.Name, rule.Health)
				}
				seen++
			}
		}
		if seen != len(want) {
			return fmt.Errorf("%d of %d alert rules loaded", seen, len(want))
		}
		return nil
	}, &promLog)

	// The worker's own /metrics carries the queue figures too (it may run without an API
	// next to it): Prometheus has asynq_queue_size from job swapd-worker.
	if res, err := query(prom, `asynq_queue_size{job="swapd-worker",queue=~"swap(-backlog|-[0-9]+|-p[0-9a-f]+)?"}`); err != nil || len(res) == 0 {
		t.Errorf("no asynq_queue_size from the worker's scrape: %v", err)
	}

	if shot := os.Getenv("SWAPD_SCREENSHOT"); shot != "" { // optional: a look at one chart
		screenshot(t, prom, d, shot)
	}
}

// grafanaVars replaces Grafana's variables with what Grafana would send for a view of
// the last minutes: a rate window that spans all the test's jobs.
func grafanaVars(expr string) string {
	return strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1s").Replace(expr)
}

type sample struct {
	Metric map[string]string
	V      float64
}

func finite(res []sample) bool {
	for _, s := range res {
		if !math.IsNaN(s.V) && !math.IsInf(s.V, 0) {
			return true
		}
	}
	return false
}

// query runs an instant query; a PromQL error is an error, an empty result is none.
func query(prom, expr string) ([]sample, error) {
	resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status    string `json:"status"`
		Error     string `json:"error"`
		ErrorType string `json:"errorType"`
		Data      struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	var out []sample
	for _, raw := range r.Data.Result {
		var s struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"` // [time, "value"]
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("value %v: %w", s.Value[1], err)
		}
		out = append(out, sample{Metric: s.Metric, V: v})
	}
	return out, nil
}

func submit(t *testing.T, s *swapdstack.Stack, body any) string {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/jobs", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+s.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		ID string `json:"id"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &c) != nil {
		t.Fatalf("submit: %d %s", resp.StatusCode, raw)
	}
	return c.ID
}

func waitJob(t *testing.T, s *swapdstack.Stack, id string) string {
	t.Helper()
	var status string
	waitFor(t, 90*time.Second, "job "+id+" to end", func() error {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/jobs/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+s.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var j struct {
			Status string `json:"status"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
			return err
		}
		status = j.Status
		switch status {
		case "succeeded", "failed", "canceled":
			return nil
		}
		return fmt.Errorf("status %s", status)
	}, nil)
	return status
}

// waitFor polls check until it returns nil; at the deadline the test fails with its
// last error (and log, if given).
func waitFor(t *testing.T, limit time.Duration, what string, check func() error, log *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("waiting for %s: %v", what, err)
			if log != nil {
				msg += "\n" + tail(log.String(), 4000)
			}
			t.Fatal(msg)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func grayPNG(t *testing.T) []byte {
	img := image.NewGray(image.Rect(0, 0, 256, 256))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	img.Set(10, 10, color.Gray{Y: 1})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// screenshot opens Prometheus' own graph page for the swap queue panel's expression in
// headless Chromium and writes a PNG to path (not part of the assertions).
func screenshot(t *testing.T, prom string, d dashboard, path string) {
	expr := ""
	for _, p := range d.Panels {
		if p.Title == "Finished by status" {
			expr = p.Targets[0].Expr
		}
	}
	u := prom + "/graph?g0.expr=" + url.QueryEscape(grafanaVars(expr)) + "&g0.tab=0&g0.range_input=5m"
	out, err := exec.Command("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--window-size=1400,900", "--virtual-time-budget=8000", "--screenshot="+path, u).CombinedOutput()
	if err != nil {
		t.Logf("screenshot: %v\n%s", err, out)
		return
	}
	t.Logf("screenshot of %s in %s", u, path)
}
