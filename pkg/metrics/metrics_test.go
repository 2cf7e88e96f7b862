package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/swapd/swapd/internal/testenv"
)

// scrape GETs m.Handler() through a real HTTP server and returns the body.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s\n%s", resp.Status, body)
	}
	return string(body)
}

// wantLines fails unless every line appears verbatim in the scrape.
func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		have[l] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("scrape lacks line %q", l)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
}

func TestFamiliesAndLabels(t *testing.T) {
	m := New()
	queued := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	started := queued.Add(1500 * time.Millisecond)
	finished := started.Add(3 * time.Second)

	m.JobSubmitted(KindImage)
	m.JobSubmitted(KindImage)
	m.JobSubmitted(KindVideo)
	m.JobSubmitted("bogus")
	m.JobFinished(KindImage, StatusSucceeded, "", queued, started, finished)
	m.JobFinished(KindVideo, StatusFailed, "NO_FACE_IN_TARGET", queued, started, finished)
	m.JobFinished(KindProbe, StatusCanceled, "", queued, time.Time{}, finished) // canceled while queued
	m.Stage(StageDetect, 20*time.Millisecond)
	m.Stage(StageEncode, 2*time.Second)
	m.Frames(240)
	m.Frames(0)
	m.Frames(-3)
	m.SlotsConfigured("cuda:0", 2)
	m.SlotAcquired("cuda:0")
	m.SlotAcquired("cuda:0")
	m.SlotReleased("cuda:0")
	m.SlotsConfigured("cpu", 1)
	m.WebhookAttempt(WebhookFailedRetrying, 200*time.Millisecond)
	m.WebhookAttempt(WebhookDelivered, 50*time.Millisecond)

	body := scrape(t, m)
	wantLines(t, body,
		"# TYPE swapd_jobs_submitted_total counter",
		`swapd_jobs_submitted_total{kind="image"} 2`,
		`swapd_jobs_submitted_total{kind="video"} 1`,
		`swapd_jobs_submitted_total{kind="probe"} 0`,
		`swapd_jobs_submitted_total{kind="analyze"} 0`,
		`swapd_jobs_submitted_total{kind="other"} 1`,

		"# TYPE swapd_jobs_finished_total counter",
		`swapd_jobs_finished_total{code="",kind="image",status="succeeded"} 1`,
		`swapd_jobs_finished_total{code="NO_FACE_IN_TARGET",kind="video",status="failed"} 1`,
		`swapd_jobs_finished_total{code="",kind="probe",status="canceled"} 1`,

		"# TYPE swapd_queue_latency_seconds histogram",
		`swapd_queue_latency_seconds_bucket{kind="image",le="1"} 0`,
		`swapd_queue_latency_seconds_bucket{kind="image",le="2.5"} 1`,
		`swapd_queue_latency_seconds_sum{kind="image"} 1.5`,
		`swapd_queue_latency_seconds_count{kind="video"} 1`,

		"# TYPE swapd_job_duration_seconds histogram",
		`swapd_job_duration_seconds_sum{kind="image"} 3`,
		`swapd_job_duration_seconds_bucket{kind="video",le="0.05"} 0`,
		`swapd_job_duration_seconds_bucket{kind="video",le="3600"} 1`,

		"# TYPE swapd_stage_duration_seconds histogram",
		`swapd_stage_duration_seconds_count{stage="detect"} 1`,
		`swapd_stage_duration_seconds_sum{stage="encode"} 2`,

		"# TYPE swapd_frames_processed_total counter",
		"swapd_frames_processed_total 240",

		"# TYPE swapd_device_slots gauge",
		`swapd_device_slots{device="cuda:0"} 2`,
		`swapd_device_slots{device="cpu"} 1`,
		"# TYPE swapd_device_slots_in_use gauge",
		`swapd_device_slots_in_use{device="cuda:0"} 1`,
		`swapd_device_slots_in_use{device="cpu"} 0`,

		"# TYPE swapd_webhook_attempts_total counter",
		`swapd_webhook_attempts_total{outcome="delivered"} 1`,
		`swapd_webhook_attempts_total{outcome="failed_retrying"} 1`,
		`swapd_webhook_attempts_total{outcome="failed_final"} 0`,
		"# TYPE swapd_webhook_delivery_seconds histogram",
		"swapd_webhook_delivery_seconds_count 2",
		`swapd_webhook_delivery_seconds_bucket{le="0.05"} 1`,
	)
	// The job canceled while queued has no start: no latency or duration.
	for _, bad := range []string{
		`swapd_queue_latency_seconds_count{kind="probe"}`,
		`swapd_job_duration_seconds_count{kind="probe"}`,
	} {
		if strings.Contains(body, bad) {
			t.Errorf("scrape has %s for a job that never started", bad)
		}
	}
	// Go and process collectors.
	for _, fam := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if !strings.Contains(body, "\n"+fam+" ") {
			t.Errorf("scrape lacks %s", fam)
		}
	}
	// Help texts are set.
	if !strings.Contains(body, "# HELP swapd_job_duration_seconds Time a job ran") {
		t.Error("missing help text for swapd_job_duration_seconds")
	}
}

func TestNotOnDefaultRegistry(t *testing.T) {
	a, b := New(), New() // a second New must not collide with the first
	a.JobSubmitted(KindVideo)
	b.JobSubmitted(KindVideo)
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), Namespace+"_") {
			t.Errorf("%s is on the default registry", mf.GetName())
		}
	}
	wantLines(t, scrape(t, a), `swapd_jobs_submitted_total{kind="video"} 1`)
}

func TestLint(t *testing.T) {
	m := New()
	m.JobFinished(KindImage, StatusSucceeded, "", time.Now(), time.Now(), time.Now())
	m.Stage(StageSwap, time.Millisecond)
	m.SlotsConfigured("cuda:0", 1)
	m.WebhookAttempt(WebhookDelivered, time.Millisecond)
	h := m.Middleware(nil, http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))

	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, Namespace+"_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

func TestNilReceiver(t *testing.T) {
	var m *Metrics
	now := time.Now()
	m.JobSubmitted(KindImage)
	m.JobFinished(KindImage, StatusFailed, "INTERNAL", now, now, now)
	m.Stage(StageFetch, time.Second)
	m.Frames(10)
	m.SlotsConfigured("cuda:0", 4)
	m.SlotAcquired("cuda:0")
	m.SlotReleased("cuda:0")
	m.WebhookAttempt(WebhookFailedFinal, time.Second)
	if err := m.RegisterQueueCollector(nil); err != nil {
		t.Errorf("RegisterQueueCollector on nil: %v", err)
	}
	if m.Registry() != nil {
		t.Error("Registry on nil is not nil")
	}

	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	rec := httptest.NewRecorder()
	m.Middleware(nil, next).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("nil Middleware: status %d, want 418", rec.Code)
	}

	rec = httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Handler: status %d, want 404", rec.Code)
	}
}

func TestQueueCollector(t *testing.T) {
	addr := testenv.Redis(t)
	opt := asynq.RedisClientOpt{Addr: addr}

	client := asynq.NewClient(opt)
	defer client.Close()
	for i := 0; i < 3; i++ {
		if _, err := client.Enqueue(asynq.NewTask("swap:image", []byte(`{}`)), asynq.Queue("gpu")); err != nil {
			t.Fatal(err)
		}
	}

	inspector := asynq.NewInspector(opt)
	defer inspector.Close()
	m := New()
	if err := m.RegisterQueueCollector(inspector); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterQueueCollector(inspector); err == nil {
		t.Error("second RegisterQueueCollector did not fail")
	}
	if err := m.RegisterQueueCollector(nil); err == nil {
		t.Error("RegisterQueueCollector(nil) did not fail")
	}
	m.JobSubmitted(KindImage)

	body := scrape(t, m)
	wantLines(t, body,
		`asynq_queue_size{queue="gpu"} 3`,
		`asynq_tasks_enqueued_total{queue="gpu",state="pending"} 3`,
		`asynq_queue_paused_total{queue="gpu"} 0`,
		`swapd_jobs_submitted_total{kind="image"} 1`,
	)
}

// A queue collector whose Redis is gone must not take the swapd metrics
// down with it.
func TestQueueCollectorRedisDown(t *testing.T) {
	inspector := asynq.NewInspector(asynq.RedisClientOpt{
		Addr:        "127.0.0.1:1", // nothing listens
		DialTimeout: 200 * time.Millisecond,
	})
	defer inspector.Close()
	m := New()
	if err := m.RegisterQueueCollector(inspector); err != nil {
		t.Fatal(err)
	}
	m.Frames(7)
	wantLines(t, scrape(t, m), "swapd_frames_processed_total 7")
}
