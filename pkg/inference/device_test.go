package inference_test

import (
	"bytes"
	"github.com/swapd/swapd/internal/fixtures"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/swapd/swapd/pkg/inference"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a slog handler.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// captureLog routes slog's default logger into a buffer for the test's duration.
func captureLog(t *testing.T) *syncBuffer {
	t.Helper()
	buf := &syncBuffer{}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return buf
}

func TestParseDevicesWithOptions(t *testing.T) {
	opts := inference.DeviceOptions{MemoryLimit: 4 << 30, CudnnConvAlgoSearch: "heuristic", TensorRTCacheDir: "/tmp/x"}
	devs, err := inference.ParseDevicesWithOptions("cpu, cuda:1, tensorrt:0", 2, opts)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range devs {
		names = append(names, d.Name)
		if d.Options.MemoryLimit != 4<<30 || d.Options.CudnnConvAlgoSearch != "HEURISTIC" || d.Options.RequireGPU {
			t.Errorf("%s options %+v", d.Name, d.Options)
		}
	}
	if got := strings.Join(names, ","); got != "cpu:0,cuda:1,tensorrt:0" {
		t.Errorf("names %s", got)
	}
	if devs[2].Kind != inference.KindTensorRT || devs[2].ID != 0 {
		t.Errorf("tensorrt:0 parsed as %+v", devs[2])
	}
	if d, err := inference.ParseDevicesWithOptions("tensorrt", 1, inference.DeviceOptions{}); err != nil || d[0].Name != "tensorrt:0" {
		t.Errorf("bare tensorrt: %v %v", d, err)
	}
	bad := []struct {
		spec string
		opts inference.DeviceOptions
		want string
	}{
		{"cuda:0,tensorrt:0", inference.DeviceOptions{}, "same GPU"},
		{"tensorrt:1,tensorrt:1", inference.DeviceOptions{}, "twice"},
		{"cuda:0", inference.DeviceOptions{CudnnConvAlgoSearch: "fastest"}, "cudnn_conv_algo_search"},
		{"cuda:0", inference.DeviceOptions{MemoryLimit: -1}, "memory limit"},
		{"rocm:0", inference.DeviceOptions{}, "unknown device kind"},
	}
	for _, c := range bad {
		if _, err := inference.ParseDevicesWithOptions(c.spec, 1, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %+v: error %v, want one mentioning %q", c.spec, c.opts, err, c.want)
		}
	}
	// The old entry point keeps requiring the GPU provider.
	old, err := inference.ParseDevices("cuda:0,tensorrt:1", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range old {
		if !d.Options.RequireGPU {
			t.Errorf("ParseDevices: %s does not require its GPU provider", d.Name)
		}
	}
}

// The test library is ONNX Runtime's CPU-only build, whose CUDA and TensorRT
// providers cannot be appended (their provider libraries are absent). A GPU device
// that does not require its provider must then run on the CPU and say so.
func TestGPUFallbackToCPU(t *testing.T) {
	initORT(t)
	for _, spec := range []string{"cuda:0", "tensorrt:0"} {
		t.Run(spec, func(t *testing.T) {
			logs := captureLog(t)
			cache := t.TempDir()
			devs, err := inference.ParseDevicesWithOptions(spec, 1, inference.DeviceOptions{
				MemoryLimit: 1 << 30, CudnnConvAlgoSearch: "DEFAULT", TensorRTCacheDir: cache,
			})
			if err != nil {
				t.Fatal(err)
			}
			dev := devs[0]
			defer dev.Close()
			s, err := dev.OpenSession(scrfdModel)
			if err != nil {
				t.Fatalf("no CPU fallback: %v", err)
			}
			defer s.Close()
			if s.Provider != inference.KindCPU && s.Provider != dev.Kind {
				t.Errorf("session provider %q", s.Provider)
			}
			if s.Provider == dev.Kind {
				t.Logf("this ONNX Runtime build runs %s here; the fallback path is not exercised", spec)
				return
			}
			if dev.Provider() != inference.KindCPU {
				t.Errorf("device provider %q, want cpu", dev.Provider())
			}
			out, err := s.RunFloat32(inference.Tensor{Shape: []int64{1, 3, 64, 64}, Data: make([]float32, 3*64*64)})
			if err != nil || len(out) != 9 {
				t.Fatalf("run on the fallback session: %d outputs, %v", len(out), err)
			}
			log := logs.String()
			if !strings.Contains(log, "level=WARN") || !strings.Contains(log, dev.Name) || !strings.Contains(log, "fallback") {
				t.Errorf("no fallback warning naming the device: %q", log)
			}
			provider := "CUDA"
			if dev.Kind == inference.KindTensorRT {
				provider = "TensorRT"
				// The engine cache directory is per ORT version.
				entries, _ := os.ReadDir(cache)
				if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "ort-") {
					t.Errorf("TensorRT cache dir %s holds %v, want one ort-<version> directory", cache, entries)
				}
			}
			if !strings.Contains(log, provider) {
				t.Errorf("warning does not name %s: %q", provider, log)
			}
			// A second session on the same device does not warn again.
			before := strings.Count(logs.String(), "level=WARN")
			s2, err := dev.OpenSession(fixtures.Path("models", "arcface_compat_512.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			s2.Close()
			if after := strings.Count(logs.String(), "level=WARN"); after != before {
				t.Errorf("fallback warned %d more times", after-before)
			}
		})
	}
}

func TestRequireGPUFails(t *testing.T) {
	initORT(t)
	for spec, provider := range map[string]string{"cuda:0": "CUDA", "tensorrt:0": "TensorRT"} {
		devs, err := inference.ParseDevicesWithOptions(spec, 1, inference.DeviceOptions{RequireGPU: true})
		if err != nil {
			t.Fatal(err)
		}
		s, err := devs[0].OpenSession(scrfdModel)
		if err == nil {
			s.Close()
			devs[0].Close()
			t.Logf("%s works in this ONNX Runtime build", spec)
			continue
		}
		if !strings.Contains(err.Error(), provider) || !strings.Contains(err.Error(), devs[0].Name) {
			t.Errorf("%s: error %q does not name the provider %s and the device", spec, err, provider)
		}
		if devs[0].Provider() != "" {
			t.Errorf("%s: provider %q after a failed open", spec, devs[0].Provider())
		}
	}
}

func TestRunStatsAndFloat64Input(t *testing.T) {
	initORT(t)
	devs, _ := inference.ParseDevices("cpu", 1)
	dev := devs[0]
	defer dev.Close()
	s, err := dev.OpenSession(scrfdModel)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.BatchDynamic() {
		t.Error("scrfd_500m has a fixed batch of 1")
	}
	r0, b0 := s.RunStats()
	if _, err := s.RunFloat32(inference.Tensor{Shape: []int64{1, 3, 32, 32}, Data: make([]float32, 3*32*32)}); err != nil {
		t.Fatal(err)
	}
	r1, b1 := s.RunStats()
	if r1 != r0+1 || b1 <= b0 {
		t.Errorf("run stats %d/%v -> %d/%v", r0, b0, r1, b1)
	}
	// A float64 tensor where the model wants float32 is rejected by ORT, not
	// silently converted.
	if _, err := s.RunInputs(inference.Float64Tensor{Shape: []int64{1, 3, 32, 32}, Data: make([]float64, 3*32*32)}); err == nil {
		t.Error("float64 input accepted by a float32 model")
	}
	if _, err := s.RunInputs(nil); err == nil {
		t.Error("nil input accepted")
	}
}
