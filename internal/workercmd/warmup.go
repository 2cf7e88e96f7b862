package workercmd

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/metrics"
)

// warmShapes gives the warm-up the shapes a default job runs with: the detector at
// the default canvas (faceswap.DefaultDetectorSize) where its input size is dynamic,
// every other model (recognizer, swapper, enhancers) and every static detector at
// its declared shape with a batch of one.
func warmShapes(detector string) inference.WarmShapes {
	return func(s *inference.Session) map[string][]int64 {
		if s.Path != detector || len(s.Inputs) != 1 {
			return nil
		}
		in := s.Inputs[0]
		d := in.Dimensions
		if len(d) != 4 || (d[2] >= 0 && d[3] >= 0) {
			return nil
		}
		size := int64(faceswap.DefaultDetectorSize)
		sh := []int64{1, 3, size, size}
		for i, v := range d {
			if v > 0 {
				sh[i] = v
			}
		}
		return map[string][]int64{in.Name: sh}
	}
}

// warmUp runs every session on every device once, the devices in parallel, and logs
// how long each device took. A worker calls it after loading its models and before
// it takes jobs, so the first job does not pay ONNX Runtime's first-run costs
// (1.03 s of detection instead of 0.03 s on the CPU; on a GPU also cuDNN algorithm
// search and TensorRT engine builds).
func warmUp(devs []*inference.Device, shapes inference.WarmShapes, log *slog.Logger) error {
	errs := make([]error, len(devs))
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			took, err := d.WarmUp(shapes)
			if err != nil {
				errs[i] = err
				return
			}
			log.Info("warm-up", "device", d.Name, "provider", d.Provider(), "sessions", len(d.Sessions()), "seconds", fmt.Sprintf("%.3f", took.Seconds()))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readiness is whether the worker takes jobs: false until every session is warm
// and the job server has started. It is served as /readyz (503, then 200) next to
// /metrics, and as the gauge swapd_worker_ready (0, then 1).
type readiness struct {
	ready atomic.Bool
	gauge prometheus.Gauge
}

func newReadiness(m *metrics.Metrics) (*readiness, error) {
	r := &readiness{gauge: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "swapd_worker_ready",
		Help: "1 once the worker's models are warm and it takes jobs, 0 before.",
	})}
	if reg := m.Registry(); reg != nil {
		if err := reg.Register(r.gauge); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *readiness) set(ready bool) {
	r.ready.Store(ready)
	if ready {
		r.gauge.Set(1)
	} else {
		r.gauge.Set(0)
	}
}

func (r *readiness) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !r.ready.Load() {
		http.Error(w, "warming up", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// startWhenWarm warms every device, then starts the job server, and only then
// reports the worker ready.
func startWhenWarm(devs []*inference.Device, shapes inference.WarmShapes, log *slog.Logger, start func() error, r *readiness) error {
	if err := warmUp(devs, shapes, log); err != nil {
		return err
	}
	if err := start(); err != nil {
		return err
	}
	r.set(true)
	return nil
}
