package onnxgen_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/inference"
)

// Each stand-in opens in ONNX Runtime with the official file's signature, and
// its output depends on both inputs.
func TestStandinSignatures(t *testing.T) {
	initORT(t)
	devs, _ := inference.ParseDevices("cpu", 1)
	defer devs[0].Close()
	dir := t.TempDir()
	for _, name := range onnxgen.SwapperModels[2:] {
		path := filepath.Join(dir, name+".onnx")
		if err := onnxgen.WriteStandinSwapper(path, name, 1); err != nil {
			t.Fatal(err)
		}
		s, err := devs[0].OpenSession(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := int64(onnxgen.SwapperSize(name))
		want := map[string][]int64{"target": {1, 3, n, n}, "source": {1, 512}}
		if len(s.Inputs) != 2 {
			t.Errorf("%s: inputs %v", name, s.InputNames())
		}
		for _, in := range s.Inputs {
			if !equal(in.Dimensions, want[in.Name]) {
				t.Errorf("%s: input %q dims %v, want %v", name, in.Name, in.Dimensions, want[in.Name])
			}
		}
		outs := map[string][]int64{"output": {1, 3, n, n}}
		if name[:9] == "hyperswap" {
			outs["mask"] = []int64{1, 1, n, n}
			if s.Inputs[0].Name != "source" {
				t.Errorf("%s: inputs %v, want source first", name, s.InputNames())
			}
		}
		if len(s.Outputs) != len(outs) || s.Outputs[0].Name != "output" {
			t.Errorf("%s: outputs %v", name, s.OutputNames())
		}
		for _, o := range s.Outputs {
			if !equal(o.Dimensions, outs[o.Name]) {
				t.Errorf("%s: output %q dims %v, want %v", name, o.Name, o.Dimensions, outs[o.Name])
			}
		}
		target := make([]float32, 3*n*n)
		for i := range target {
			target[i] = float32(i%97)/48 - 1
		}
		run := func(seed uint64, tg []float32) []float32 {
			feeds := map[string]inference.Tensor{
				"target": {Shape: []int64{1, 3, n, n}, Data: tg},
				"source": {Shape: []int64{1, 512}, Data: unitVector(seed)},
			}
			var in []inference.Tensor
			for _, nm := range s.InputNames() {
				in = append(in, feeds[nm])
			}
			out, err := s.RunFloat32(in...)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return out[0].Data
		}
		a, b := run(1, target), run(2, target)
		if d := meanAbsDiff(a, b); d < 0.02 {
			t.Errorf("%s: output barely depends on source: %v", name, d)
		}
		inv := make([]float32, len(target))
		for i, v := range target {
			inv[i] = -v
		}
		if d := meanAbsDiff(a, run(1, inv)); d < 0.05 {
			t.Errorf("%s: output barely depends on target: %v", name, d)
		}
		s.Close()
	}
	for _, name := range onnxgen.ConverterModels {
		path := filepath.Join(dir, name+".onnx")
		if err := onnxgen.WriteStandinConverter(path, name, 1); err != nil {
			t.Fatal(err)
		}
		s, err := devs[0].OpenSession(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(s.Inputs) != 1 || s.Inputs[0].Name != "input" || !equal(s.Inputs[0].Dimensions, []int64{1, 512}) ||
			len(s.Outputs) != 1 || !equal(s.Outputs[0].Dimensions, []int64{1, 512}) {
			t.Errorf("%s: %v %v -> %v", name, s.InputNames(), s.Inputs[0].Dimensions, s.Outputs)
		}
		s.Close()
	}
}

// unitVector is a pseudo-random unit 512-vector, different for each seed.
func unitVector(seed uint64) []float32 {
	v := make([]float32, 512)
	x := seed*0x9e3779b97f4a7c15 + 1
	var n float64
	for i := range v {
		x = x*6364136223846793005 + 1442695040888963407
		v[i] = float32(int64(x>>11))/float32(1<<52) - 1
		n += float64(v[i]) * float64(v[i])
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}
