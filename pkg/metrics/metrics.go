// Package metrics holds swapd's Prometheus instrumentation: job, stage,
// device-slot, webhook and HTTP metrics on a dedicated registry (never the
// global default one), the /metrics handler that serves it, an HTTP
// middleware that records requests by route pattern, the asynq queue
// collector, and a request-ID middleware.
//
// Every method is safe on a nil *Metrics and then does nothing, so packages
// can take an optional metrics pointer and call it unconditionally.
//
// Label values are bounded on purpose: kind, status, outcome and HTTP method
// are folded to "other" when they are not one of the known values, and the
// route label is the ServeMux pattern, never the raw path.
package metrics

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every swapd metric name.
const Namespace = "swapd"

// Job kinds (the kind label).
const (
	KindImage   = "image"
	KindVideo   = "video"
	KindProbe   = "probe"
	KindAnalyze = "analyze"
)

// Terminal job statuses (the status label of jobs_finished_total).
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Pipeline stages (the stage label of stage_duration_seconds).
const (
	StageFetch   = "fetch"
	StageDecode  = "decode"
	StageDetect  = "detect"
	StageEmbed   = "embed"
	StageScore   = "score" // the similarity report: re-embedding swapped faces
	StageSwap    = "swap"
	StageEnhance = "enhance"
	StagePaste   = "paste"
	StageEncode  = "encode"
	StageUpload  = "upload"
)

// Webhook attempt outcomes (the outcome label of webhook_attempts_total).
const (
	WebhookDelivered      = "delivered"
	WebhookFailedRetrying = "failed_retrying"
	WebhookFailedFinal    = "failed_final"
)

// Other is the label value that unknown kinds, statuses, outcomes, methods
// and unmatched routes are folded into.
const Other = "other"

// Histogram buckets, in seconds.
var (
	// QueueLatencyBuckets span a job that starts at once to one that waited an hour.
	QueueLatencyBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
	// JobDurationBuckets cover images (0.05 s .. 60 s) and videos (up to 1 h).
	JobDurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600}
	// StageDurationBuckets cover a 1 ms detect on one image to a 10 min video encode.
	StageDurationBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	// WebhookDurationBuckets cover one delivery attempt up to a 30 s client timeout.
	WebhookDurationBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30}
	// HTTPDurationBuckets cover quick reads to long synchronous waits and streams.
	HTTPDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
)

// Metrics is swapd's instrumentation. Create it with New; a nil *Metrics is
// valid and records nothing.
type Metrics struct {
	reg *prometheus.Registry

	jobsSubmitted    *prometheus.CounterVec
	jobsFinished     *prometheus.CounterVec
	queueLatency     *prometheus.HistogramVec
	jobDuration      *prometheus.HistogramVec
	stageDuration    *prometheus.HistogramVec
	frames           prometheus.Counter
	deviceSlots      *prometheus.GaugeVec
	deviceSlotsInUse *prometheus.GaugeVec
	webhookAttempts  *prometheus.CounterVec
	webhookDuration  prometheus.Histogram
	httpRequests     *prometheus.CounterVec
	httpDuration     *prometheus.HistogramVec

	queueMu         sync.Mutex
	queueRegistered bool
}

// New returns a Metrics with every swapd metric, plus the Go runtime and
// process collectors, registered on a fresh registry of its own.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		jobsSubmitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "jobs_submitted_total",
			Help:      "Jobs accepted for processing, by kind (image, video, probe).",
		}, []string{"kind"}),
		jobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "jobs_finished_total",
			Help:      "Jobs that reached a terminal status, by kind, status (succeeded, failed, canceled) and error code (empty on success).",
		}, []string{"kind", "status", "code"}),
		queueLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "queue_latency_seconds",
			Help:      "Time a job waited between being enqueued and being started, by kind.",
			Buckets:   QueueLatencyBuckets,
		}, []string{"kind"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "job_duration_seconds",
			Help:      "Time a job ran between being started and finishing, by kind.",
			Buckets:   JobDurationBuckets,
		}, []string{"kind"}),
		stageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "stage_duration_seconds",
			Help:      "Time spent in one pipeline stage (fetch, decode, detect, embed, swap, enhance, paste, encode, upload).",
			Buckets:   StageDurationBuckets,
		}, []string{"stage"}),
		frames: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "frames_processed_total",
			Help:      "Video frames run through the swap pipeline.",
		}),
		deviceSlots: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "device_slots",
			Help:      "Concurrent job slots configured per inference device.",
		}, []string{"device"}),
		deviceSlotsInUse: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "device_slots_in_use",
			Help:      "Job slots currently held per inference device.",
		}, []string{"device"}),
		webhookAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "webhook_attempts_total",
			Help:      "Webhook delivery attempts, by outcome (delivered, failed_retrying, failed_final).",
		}, []string{"outcome"}),
		webhookDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "webhook_delivery_seconds",
			Help:      "Duration of one webhook delivery attempt.",
			Buckets:   WebhookDurationBuckets,
		}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "http_requests_total",
			Help:      "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "http_request_duration_seconds",
			Help:      "Time to serve an HTTP request, by route pattern and method.",
			Buckets:   HTTPDurationBuckets,
		}, []string{"route", "method"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.jobsSubmitted, m.jobsFinished, m.queueLatency, m.jobDuration,
		m.stageDuration, m.frames, m.deviceSlots, m.deviceSlotsInUse,
		m.webhookAttempts, m.webhookDuration, m.httpRequests, m.httpDuration,
	)
	// Start the bounded series at zero so rate() and absence alerts work
	// before the first event.
	for _, k := range []string{KindImage, KindVideo, KindProbe, KindAnalyze} {
		m.jobsSubmitted.WithLabelValues(k)
	}
	for _, o := range []string{WebhookDelivered, WebhookFailedRetrying, WebhookFailedFinal} {
		m.webhookAttempts.WithLabelValues(o)
	}
	return m
}

// Registry returns the registry the metrics live on, for registering extra
// collectors; nil on a nil *Metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in the Prometheus exposition format; mount it
// at /metrics. A failing collector (e.g. Redis down for the queue collector)
// does not fail the scrape: the other metrics are still served. On a nil
// *Metrics it answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg, // adds promhttp_metric_handler_errors_total
	})
}

// JobSubmitted counts one job accepted for processing.
func (m *Metrics) JobSubmitted(kind string) {
	if m == nil {
		return
	}
	m.jobsSubmitted.WithLabelValues(normKind(kind)).Inc()
}

// JobFinished counts one job that reached a terminal status and records how
// long it waited (queued → started) and ran (started → finished). code is the
// error code, "" for success. A zero started (a job canceled while queued)
// records neither duration; a zero queued skips the queue latency; negative
// spans (clock skew between hosts) are recorded as zero.
func (m *Metrics) JobFinished(kind, status, code string, queued, started, finished time.Time) {
	if m == nil {
		return
	}
	kind = normKind(kind)
	m.jobsFinished.WithLabelValues(kind, normStatus(status), code).Inc()
	if started.IsZero() {
		return
	}
	if !queued.IsZero() {
		m.queueLatency.WithLabelValues(kind).Observe(nonNegative(started.Sub(queued)))
	}
	if !finished.IsZero() {
		m.jobDuration.WithLabelValues(kind).Observe(nonNegative(finished.Sub(started)))
	}
}

// Stage records the time spent in one pipeline stage (see the Stage*
// constants).
func (m *Metrics) Stage(stage string, d time.Duration) {
	if m == nil {
		return
	}
	m.stageDuration.WithLabelValues(stage).Observe(nonNegative(d))
}

// Frames counts n processed video frames; n <= 0 is ignored.
func (m *Metrics) Frames(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.frames.Add(float64(n))
}

// SlotsConfigured sets the slot capacity of a device (e.g. "cuda:0", "cpu")
// and starts its in-use gauge at its current value (zero if new).
func (m *Metrics) SlotsConfigured(device string, n int) {
	if m == nil {
		return
	}
	m.deviceSlots.WithLabelValues(device).Set(float64(n))
	m.deviceSlotsInUse.WithLabelValues(device)
}

// SlotAcquired marks one slot of device as taken.
func (m *Metrics) SlotAcquired(device string) {
	if m == nil {
		return
	}
	m.deviceSlotsInUse.WithLabelValues(device).Inc()
}

// SlotReleased marks one slot of device as free again.
func (m *Metrics) SlotReleased(device string) {
	if m == nil {
		return
	}
	m.deviceSlotsInUse.WithLabelValues(device).Dec()
}

// WebhookAttempt counts one delivery attempt by outcome (see the Webhook*
// constants) and records how long it took.
func (m *Metrics) WebhookAttempt(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.webhookAttempts.WithLabelValues(normOutcome(outcome)).Inc()
	m.webhookDuration.Observe(nonNegative(d))
}

// RegisterQueueCollector exposes asynq's queue gauges (asynq_queue_size,
// asynq_tasks_enqueued_total{queue,state}, asynq_queue_latency_seconds, ...)
// on the same registry, using asynq/x/metrics. Each scrape queries Redis
// through inspector; the caller keeps ownership of inspector (close it after
// the server stops). It may be called once; a second call returns an error.
// On a nil *Metrics it does nothing.
func (m *Metrics) RegisterQueueCollector(inspector *asynq.Inspector) error {
	if m == nil {
		return nil
	}
	if inspector == nil {
		return errors.New("metrics: nil asynq inspector")
	}
	m.queueMu.Lock()
	defer m.queueMu.Unlock()
	if m.queueRegistered {
		return errors.New("metrics: asynq queue collector already registered")
	}
	if err := m.reg.Register(uncheckedCollector{asynqmetrics.NewQueueMetricsCollector(inspector)}); err != nil {
		return err
	}
	m.queueRegistered = true
	return nil
}

// uncheckedCollector hides a collector's descriptors from the registry. The
// asynq collector describes itself by collecting (a Redis round trip per
// queue); unchecked, registering it touches Redis only at scrape time, and
// works whether or not queues exist yet.
type uncheckedCollector struct{ c prometheus.Collector }

func (uncheckedCollector) Describe(chan<- *prometheus.Desc)      {}
func (u uncheckedCollector) Collect(ch chan<- prometheus.Metric) { u.c.Collect(ch) }

func normKind(k string) string {
	switch k {
	case KindImage, KindVideo, KindProbe, KindAnalyze:
		return k
	}
	return Other
}

func normStatus(s string) string {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCanceled:
		return s
	}
	return Other
}

func normOutcome(o string) string {
	switch o {
	case WebhookDelivered, WebhookFailedRetrying, WebhookFailedFinal:
		return o
	}
	return Other
}

func nonNegative(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return d.Seconds()
}
