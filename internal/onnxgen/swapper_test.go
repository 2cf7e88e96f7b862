package onnxgen_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/inference"
)

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

func TestSwapperDeterministic(t *testing.T) {
	if !bytes.Equal(onnxgen.Swapper(7), onnxgen.Swapper(7)) {
		t.Fatal("same seed gave different models")
	}
	if bytes.Equal(onnxgen.Swapper(7), onnxgen.Swapper(8)) {
		t.Fatal("different seeds gave the same model")
	}
}

func TestSwapperRunsWithOfficialSignature(t *testing.T) {
	initORT(t)
	path := filepath.Join(t.TempDir(), onnxgen.SwapperFile)
	if err := onnxgen.WriteSwapper(path, 1); err != nil {
		t.Fatal(err)
	}
	devs, _ := inference.ParseDevices("cpu", 1)
	defer devs[0].Close()
	s, err := devs[0].OpenSession(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	want := map[string][]int64{"target": {1, 3, 128, 128}, "source": {1, 512}}
	if len(s.Inputs) != 2 {
		t.Fatalf("inputs %v", s.InputNames())
	}
	for _, in := range s.Inputs {
		if !equal(in.Dimensions, want[in.Name]) {
			t.Errorf("input %q dims %v, want %v", in.Name, in.Dimensions, want[in.Name])
		}
	}
	if len(s.Outputs) != 1 || s.Outputs[0].Name != "output" || !equal(s.Outputs[0].Dimensions, []int64{1, 3, 128, 128}) {
		t.Fatalf("outputs %v", s.Outputs)
	}

	name, dims, emap, err := inference.LastInitializer(path)
	if err != nil {
		t.Fatal(err)
	}
	if name != "emap" || !equal(dims, []int64{512, 512}) || len(emap) != 512*512 {
		t.Fatalf("last initializer %q %v", name, dims)
	}
	var sq float64
	for _, v := range emap {
		sq += float64(v) * float64(v)
	}
	if rms := math.Sqrt(sq / float64(len(emap))); rms < 0.03 || rms > 0.06 {
		t.Errorf("emap rms %v, want about 1/sqrt(512)", rms)
	}

	target := make([]float32, 3*128*128)
	for i := range target {
		target[i] = float32(i%251) / 250
	}
	run := func(seed uint64) []float32 {
		src := latent(seed, emap)
		feeds := map[string]inference.Tensor{
			"target": {Shape: []int64{1, 3, 128, 128}, Data: target},
			"source": {Shape: []int64{1, 512}, Data: src},
		}
		var in []inference.Tensor
		for _, n := range s.InputNames() {
			in = append(in, feeds[n])
		}
		out, err := s.RunFloat32(in...)
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Data
	}
	a, b := run(1), run(2)
	for _, v := range a {
		if v < 0 || v > 1 || math.IsNaN(float64(v)) {
			t.Fatalf("output value %v outside [0,1]", v)
		}
	}
	if d := meanAbsDiff(a, target); d < 0.15 {
		t.Errorf("output barely depends on target: mean |out-target| = %v", d)
	}
	if d := meanAbsDiff(a, b); d < 0.05 {
		t.Errorf("output barely depends on source: mean |a-b| = %v", d)
	}
	// And on the target: a different target gives a different output.
	for i := range target {
		target[i] = 1 - target[i]
	}
	if d := meanAbsDiff(run(1), a); d < 0.15 {
		t.Errorf("output barely depends on target contents: %v", d)
	}
}

// latent mimics the pipeline: a random unit vector projected through emap.
func latent(seed uint64, emap []float32) []float32 {
	e := make([]float64, 512)
	var n float64
	x := seed*6364136223846793005 + 1442695040888963407
	for i := range e {
		x = x*6364136223846793005 + 1442695040888963407
		e[i] = float64(int64(x>>11))/float64(1<<52) - 1
		n += e[i] * e[i]
	}
	n = math.Sqrt(n)
	out := make([]float32, 512)
	for j := 0; j < 512; j++ {
		var s float64
		for i := 0; i < 512; i++ {
			s += e[i] / n * float64(emap[i*512+j])
		}
		out[j] = float32(s)
	}
	return out
}

func meanAbsDiff(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += math.Abs(float64(a[i] - b[i]))
	}
	return s / float64(len(a))
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
