package onnxgen_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/inference"
)

// The FLOP-faithful inswapper stand-in counts about the 175 GMAC per face of the
// real model's architecture (ReSwapper's StyleTransferModel_128), and dividing its
// channels divides the cost by about the square.
func TestInswapperFaithfulMACs(t *testing.T) {
	full := onnxgen.InswapperFaithfulMACs(1)
	if g := float64(full) / 1e9; g < 170 || g > 180 {
		t.Fatalf("full model: %.1f GMAC, want about 175", g)
	}
	small := onnxgen.InswapperFaithfulMACs(16)
	if r := float64(full) / float64(small); r < 200 || r > 260 {
		t.Fatalf("div 16 costs 1/%.0f of the full model, want about 1/256", r)
	}
	if _, _, err := onnxgen.InswapperFaithful(1, 3); err == nil {
		t.Fatal("divisor 3 (does not divide 128) was accepted")
	}
}

// A reduced-width copy (the same layers, a sixteenth of the channels) loads with
// inswapper_128's exact signature, keeps emap last, and its output is an image in
// [0,1] that depends on both inputs; the builder's MAC count matches the dry count.
func TestInswapperFaithfulRuns(t *testing.T) {
	initORT(t)
	model, macs, err := onnxgen.InswapperFaithful(3, 16)
	if err != nil {
		t.Fatal(err)
	}
	if macs != onnxgen.InswapperFaithfulMACs(16) {
		t.Fatalf("built model counts %d MACs, dry count %d", macs, onnxgen.InswapperFaithfulMACs(16))
	}
	path := filepath.Join(t.TempDir(), onnxgen.InswapperFaithfulFile)
	if err := onnxgen.WriteInswapperFaithful(path, 3, 16); err != nil {
		t.Fatal(err)
	}
	if len(model) == 0 {
		t.Fatal("empty model")
	}
	devs, _ := inference.ParseDevices("cpu", 1)
	defer devs[0].Close()
	s, err := devs[0].OpenSession(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string][]int64{"target": {1, 3, 128, 128}, "source": {1, 512}}
	for _, in := range s.Inputs {
		if !equal(in.Dimensions, want[in.Name]) {
			t.Errorf("input %q dims %v, want %v", in.Name, in.Dimensions, want[in.Name])
		}
	}
	if len(s.Inputs) != 2 || len(s.Outputs) != 1 || s.Outputs[0].Name != "output" || !equal(s.Outputs[0].Dimensions, []int64{1, 3, 128, 128}) {
		t.Fatalf("signature %v -> %v", s.InputNames(), s.Outputs)
	}
	name, dims, emap, err := inference.LastInitializer(path)
	if err != nil || name != "emap" || !equal(dims, []int64{512, 512}) {
		t.Fatalf("last initializer %q %v (%v)", name, dims, err)
	}
	target := make([]float32, 3*128*128)
	for i := range target {
		target[i] = float32(i%251) / 250
	}
	run := func(seed uint64) []float32 {
		feeds := map[string]inference.Tensor{
			"target": {Shape: []int64{1, 3, 128, 128}, Data: target},
			"source": {Shape: []int64{1, 512}, Data: latent(seed, emap)},
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
	if d := meanAbsDiff(a, b); d < 1e-3 {
		t.Errorf("output does not depend on the source: mean |a-b| = %v", d)
	}
	for i := range target {
		target[i] = 1 - target[i]
	}
	if d := meanAbsDiff(run(1), a); d < 1e-3 {
		t.Errorf("output does not depend on the target: %v", d)
	}
}
