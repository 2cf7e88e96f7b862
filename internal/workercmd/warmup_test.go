package workercmd

import (
	"context"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swapd/swapd/internal/fixtures"
	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/metrics"
)

// workerDevices opens what a worker with SWAPD_DEVICES=cpu,cpu opens: every model on
// every device, with the real detector and recognizer and the generated swapper and
// enhancers (official signatures).
func workerDevices(t *testing.T) ([]*inference.Device, map[*inference.Device]*faceswap.Pipeline, faceswap.ModelPaths) {
	t.Helper()
	lib := inference.LibraryPath()
	if err := inference.Init(lib); err != nil {
		t.Fatalf("ONNX Runtime (%s=%s): %v", inference.LibraryEnv, lib, err)
	}
	dir := t.TempDir()
	paths := faceswap.ModelPaths{
		Detector:   fixtures.Path("models", "scrfd_500m.onnx"),
		Recognizer: fixtures.Path("models", "arcface_compat_512.onnx"),
		Swapper:    filepath.Join(dir, onnxgen.SwapperFile),
		Enhancers:  map[string]string{},
	}
	if err := onnxgen.WriteSwapper(paths.Swapper, 1); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{faceswap.EnhancerGFPGAN14, faceswap.EnhancerCodeFormer} {
		paths.Enhancers[name] = filepath.Join(dir, name+".onnx")
		if err := onnxgen.WriteEnhancer(paths.Enhancers[name], name); err != nil {
			t.Fatal(err)
		}
	}
	devs, err := inference.ParseDevices("cpu,cpu", 1)
	if err != nil {
		t.Fatal(err)
	}
	pipes := map[*inference.Device]*faceswap.Pipeline{}
	for _, d := range devs {
		p, err := faceswap.New(paths, d)
		if err != nil {
			t.Fatal(err)
		}
		pipes[d] = p
		t.Cleanup(func() { p.Close(); d.Close() })
	}
	return devs, pipes, paths
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The worker warms every session on every device before its job server starts, and
// reports ready (/readyz 200, swapd_worker_ready 1) only after that: before, /readyz
// is 503 and the gauge 0. No session runs more than once in the warm-up.
func TestWarmUpBeforeReady(t *testing.T) {
	devs, _, paths := workerDevices(t)
	m := metrics.New()
	ready, err := newReadiness(m)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	stop, err := serveMetrics(addr, m, []string{"sk_metrics"}, ready, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	gauge := func() string {
		req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer sk_metrics")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "swapd_worker_ready ") {
				return l
			}
		}
		t.Fatalf("no swapd_worker_ready in /metrics")
		return ""
	}
	runs := func() map[string]int64 {
		out := map[string]int64{}
		for _, d := range devs {
			for _, s := range d.Sessions() {
				n, _ := s.RunStats()
				out[d.Name+" "+filepath.Base(s.Path)] = n
			}
		}
		return out
	}
	if n := len(runs()); n != 2*5 {
		t.Fatalf("%d sessions open, want 5 models on each of 2 devices", n)
	}
	if code, _ := get(t, "http://"+addr+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before warm-up: %d, want 503", code)
	}
	if g := gauge(); g != "swapd_worker_ready 0" {
		t.Fatalf("before warm-up: %q", g)
	}

	started := false
	start := func() error {
		for s, n := range runs() {
			if n != 1 {
				t.Errorf("job server started with %s run %d times, want 1 (warm)", s, n)
			}
		}
		if code, _ := get(t, "http://"+addr+"/readyz"); code != http.StatusServiceUnavailable {
			t.Errorf("/readyz %d before the job server started, want 503", code)
		}
		started = true
		return nil
	}
	if err := startWhenWarm(devs, warmShapes(paths.Detector), slog.New(slog.DiscardHandler), start, ready); err != nil {
		t.Fatal(err)
	}
	if !started {
		t.Fatal("the job server was not started")
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz after warm-up: %d %s", code, body)
	}
	if g := gauge(); g != "swapd_worker_ready 1" {
		t.Fatalf("after warm-up: %q", g)
	}
	for s, n := range runs() {
		if n != 1 {
			t.Errorf("%s ran %d times, want exactly 1", s, n)
		}
	}

	// A warm-up that fails keeps the worker unready and its job server stopped.
	bad := &readiness{gauge: ready.gauge}
	err = startWhenWarm(devs, func(*inference.Session) map[string][]int64 {
		return map[string][]int64{"input.1": {1, 3, 7}}
	}, slog.New(slog.DiscardHandler), func() error { t.Error("started after a failed warm-up"); return nil }, bad)
	if err == nil || bad.ready.Load() {
		t.Fatalf("failed warm-up: err %v, ready %v", err, bad.ready.Load())
	}
}

// The warm-up runs every model at the shapes a first job uses, so the first job
// meets no input shape ONNX Runtime has not run yet: a default-options image job
// (detect and embed the source, detect, swap and enhance the target, with either
// enhancer) adds runs only at shapes the warm-up already ran.
func TestFirstJobAfterWarmUpMeetsNoNewShape(t *testing.T) {
	devs, pipes, paths := workerDevices(t)
	dev := devs[0]
	if err := warmUp(devs, warmShapes(paths.Detector), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	warm := map[*inference.Session]map[string]int64{}
	for _, s := range dev.Sessions() {
		warm[s] = s.RunShapes()
	}

	p := pipes[dev]
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{frame(t, "grace_hopper.jpg")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, enh := range []string{faceswap.EnhancerGFPGAN14, faceswap.EnhancerCodeFormer} {
		_, st, err := p.Swap(ctx, frame(t, "astronaut.png"), src, faceswap.Options{Enhancer: enh})
		if err != nil {
			t.Fatal(err)
		}
		if st.SwappedFaces != 1 || st.EnhancedFaces != 1 {
			t.Fatalf("%s: swapped %d, enhanced %d faces; want 1 and 1", enh, st.SwappedFaces, st.EnhancedFaces)
		}
	}

	for _, s := range dev.Sessions() {
		after := s.RunShapes()
		ran := false
		for key, n := range after {
			if n > warm[s][key] {
				ran = true
			}
			if warm[s][key] == 0 {
				t.Errorf("%s: the first job ran it at %s, which the warm-up did not (warm-up: %v)", filepath.Base(s.Path), key, warm[s])
			}
		}
		if !ran {
			t.Errorf("%s: the job did not run it, so this test proves nothing about it", filepath.Base(s.Path))
		}
	}
	// The second device was warmed too and has run nothing else.
	for _, s := range devs[1].Sessions() {
		if n, _ := s.RunStats(); n != 1 {
			t.Errorf("%s on %s: %d runs, want 1", filepath.Base(s.Path), devs[1].Name, n)
		}
	}
}

func frame(t *testing.T, name string) media.Frame {
	t.Helper()
	f, err := os.Open(fixtures.Path("faces", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(fmt.Errorf("%s: %w", name, err))
	}
	return media.FromImage(img)
}
