package inference_test

import (
	"context"
	"errors"
	"github.com/swapd/swapd/internal/fixtures"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/inference"
)

var scrfdModel = fixtures.Path("models", "scrfd_500m.onnx")

// initORT loads the real ONNX Runtime library; a missing library fails the test.
func initORT(t testing.TB) {
	t.Helper()
	lib := inference.LibraryPath()
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("ONNX Runtime library not found (set %s): %v", inference.LibraryEnv, err)
	}
	if err := inference.Init(lib); err != nil {
		t.Fatal(err)
	}
}

func TestInitIdempotent(t *testing.T) {
	initORT(t)
	if err := inference.Init(inference.LibraryPath()); err != nil {
		t.Fatalf("second Init with the same path: %v", err)
	}
	if err := inference.Init("/nonexistent/libonnxruntime.so"); err == nil {
		t.Fatal("Init with a different path succeeded")
	}
	if !inference.Initialized() || inference.Version() == "" {
		t.Fatal("not initialised after Init")
	}
}

func TestParseDevices(t *testing.T) {
	cases := []struct {
		spec  string
		names []string
		bad   bool
	}{
		{spec: "cpu", names: []string{"cpu:0"}},
		{spec: "cpu,cpu", names: []string{"cpu:0", "cpu:1"}},
		{spec: " cuda:0 , cuda:1 ", names: []string{"cuda:0", "cuda:1"}},
		{spec: "cuda", names: []string{"cuda:0"}},
		{spec: "cpu,cuda:3", names: []string{"cpu:0", "cuda:3"}},
		{spec: "", bad: true},
		{spec: "tpu:0", bad: true},
		{spec: "cuda:x", bad: true},
		{spec: "cuda:-1", bad: true},
		{spec: "cuda:0,cuda:0", bad: true},
		{spec: "cpu,,cpu", bad: true},
	}
	for _, c := range cases {
		devs, err := inference.ParseDevices(c.spec, 2)
		if c.bad {
			if err == nil {
				t.Errorf("ParseDevices(%q) succeeded", c.spec)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDevices(%q): %v", c.spec, err)
			continue
		}
		var got []string
		for _, d := range devs {
			got = append(got, d.Name)
			if d.Slots != 2 {
				t.Errorf("%s: slots %d", d.Name, d.Slots)
			}
		}
		if strings.Join(got, ",") != strings.Join(c.names, ",") {
			t.Errorf("ParseDevices(%q) = %v, want %v", c.spec, got, c.names)
		}
	}
	if _, err := inference.ParseDevices("cpu", 0); err == nil {
		t.Error("zero slots accepted")
	}
	d, _ := inference.ParseDevices("cuda:1", 1)
	if d[0].Kind != inference.KindCUDA || d[0].ID != 1 {
		t.Errorf("cuda:1 parsed as %+v", d[0])
	}
}

func TestPoolNeverOversubscribes(t *testing.T) {
	const slots, workers, rounds = 2, 16, 20
	devs, err := inference.ParseDevices("cpu,cpu,cpu", slots)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := inference.NewPool(devs)
	if err != nil {
		t.Fatal(err)
	}
	index := map[*inference.Device]int{}
	for i, d := range devs {
		index[d] = i
	}
	var cur, peak [3]atomic.Int64
	var used [3]atomic.Int64
	var total, totalPeak atomic.Int64
	raise := func(p *atomic.Int64, v int64) {
		for {
			old := p.Load()
			if v <= old || p.CompareAndSwap(old, v) {
				return
			}
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				d, release, err := pool.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				i := index[d]
				used[i].Add(1)
				raise(&peak[i], cur[i].Add(1))
				raise(&totalPeak, total.Add(1))
				time.Sleep(200 * time.Microsecond)
				total.Add(-1)
				cur[i].Add(-1)
				release()
				release() // idempotent
			}
		}()
	}
	wg.Wait()
	for i := range devs {
		if p := peak[i].Load(); p > slots {
			t.Errorf("device %d ran %d at once, slots %d", i, p, slots)
		}
		if used[i].Load() == 0 {
			t.Errorf("device %d never used", i)
		}
	}
	if p := totalPeak.Load(); p > slots*3 {
		t.Errorf("pool ran %d at once, capacity %d", p, slots*3)
	}
	if totalPeak.Load() < 2 {
		t.Errorf("pool never ran work concurrently (peak %d)", totalPeak.Load())
	}
}

func TestPoolWaitAndCancel(t *testing.T) {
	devs, _ := inference.ParseDevices("cpu,cpu", 1)
	pool, _ := inference.NewPool(devs)
	_, rel1, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d2, rel2, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := pool.TryAcquire(); ok {
		t.Fatal("TryAcquire succeeded with every slot taken")
	}

	// A waiter gives up when its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, _, err := pool.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire on a full pool: %v, want deadline exceeded", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, _, err := pool.Acquire(ctx2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with cancelled ctx: %v", err)
	}

	// A waiter is woken by a release and gets the freed device.
	got := make(chan *inference.Device, 1)
	go func() {
		d, rel, err := pool.Acquire(context.Background())
		if err != nil {
			t.Error(err)
			got <- nil
			return
		}
		rel()
		got <- d
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("waiter acquired while the pool was full")
	default:
	}
	rel2()
	select {
	case d := <-got:
		if d != d2 {
			t.Fatalf("waiter got %v, want the released %v", d, d2)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken by release")
	}
	rel1()
}

func TestSessionSharedPerDevice(t *testing.T) {
	initORT(t)
	devs, _ := inference.ParseDevices("cpu", 1)
	dev := devs[0]
	defer dev.Close()
	s1, err := dev.OpenSession(scrfdModel)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := dev.OpenSession(scrfdModel)
	if err != nil {
		t.Fatal(err)
	}
	if s1 != s2 {
		t.Fatal("second OpenSession created a new session")
	}
	if got := s1.InputNames(); len(got) != 1 || got[0] != "input.1" {
		t.Fatalf("inputs %v", got)
	}
	if len(s1.Outputs) != 9 {
		t.Fatalf("%d outputs, want 9", len(s1.Outputs))
	}
	in := s1.Inputs[0].Dimensions
	if len(in) != 4 || in[0] != 1 && in[0] != -1 || in[1] != 3 {
		t.Fatalf("input dims %v", in)
	}
	// Run it concurrently on a 160x160 zero image: 9 outputs come back.
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := s1.RunFloat32(inference.Tensor{Shape: []int64{1, 3, 160, 160}, Data: make([]float32, 3*160*160)})
			if err != nil {
				t.Error(err)
				return
			}
			if len(out) != 9 {
				t.Errorf("%d outputs", len(out))
			}
		}()
	}
	wg.Wait()
	if _, err := s1.RunFloat32(); err == nil {
		t.Error("RunFloat32 with no inputs succeeded")
	}
	s1.Close()
	s3, err := dev.OpenSession(scrfdModel)
	if err != nil {
		t.Fatal(err)
	}
	if s3 != s1 {
		t.Fatal("session destroyed while still referenced")
	}
	s3.Close()
	s2.Close()
	s4, err := dev.OpenSession(scrfdModel)
	if err != nil {
		t.Fatal(err)
	}
	if s4 == s1 {
		t.Fatal("session not recreated after the last Close")
	}
	s4.Close()
}

func TestCUDADeviceReportsProvider(t *testing.T) {
	initORT(t)
	devs, _ := inference.ParseDevices("cuda:0", 1)
	s, err := devs[0].OpenSession(scrfdModel)
	if err == nil {
		// An ORT build with CUDA on a GPU host: the session works.
		s.Close()
		return
	}
	if !strings.Contains(err.Error(), "CUDA") {
		t.Fatalf("CUDA session error does not mention CUDA: %v", err)
	}
}

func TestOpenSessionErrors(t *testing.T) {
	initORT(t)
	devs, _ := inference.ParseDevices("cpu", 1)
	if _, err := devs[0].OpenSession("/nonexistent/model.onnx"); err == nil {
		t.Fatal("opened a missing model")
	}
	bad := t.TempDir() + "/bad.onnx"
	os.WriteFile(bad, []byte("not a model"), 0o644)
	if _, err := devs[0].OpenSession(bad); err == nil {
		t.Fatal("opened a corrupt model")
	}
}
