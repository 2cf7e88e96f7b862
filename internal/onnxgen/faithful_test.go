package onnxgen_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/inference"
)

// The FLOP-faithful stand-ins count the multiply-accumulates of the real
// architectures (inswapper_128 ≈ 175 GMAC per face, as ReSwapper's
// StyleTransferModel_128; SimSwap's generator ≈ 63 at 256 and ≈ 133 at 512;
// GHOST's AEI-Net ≈ 16, 31 and 46 with 1, 2 and 3 AAD blocks), and dividing their
// channels divides the cost by about the square.
func TestFaithfulSwapperMACs(t *testing.T) {
	want := map[string][2]float64{"inswapper_128": {170, 180}, "simswap_256": {55, 70}, "simswap_unofficial_512": {120, 145},
		"ghost_1_256": {15, 18}, "ghost_2_256": {29, 33}, "ghost_3_256": {43, 48}}
	for _, name := range onnxgen.FaithfulSwappers {
		full, err := onnxgen.FaithfulSwapperMACs(name, 1)
		if err != nil {
			t.Fatal(err)
		}
		w := want[name]
		if g := float64(full) / 1e9; g < w[0] || g > w[1] {
			t.Errorf("%s: %.1f GMAC, want %v", name, g, w)
		}
		small, _ := onnxgen.FaithfulSwapperMACs(name, 16)
		if r := float64(full) / float64(small); r < 150 || r > 260 {
			t.Errorf("%s: div 16 costs 1/%.0f of the full model, want about 1/256", name, r)
		}
		t.Logf("%s: %.1f GMAC per face", name, float64(full)/1e9)
	}
	if _, err := onnxgen.FaithfulSwapperMACs("inswapper_128", 3); err == nil {
		t.Error("divisor 3 (does not divide 64) was accepted")
	}
	if _, err := onnxgen.FaithfulSwapperMACs("hyperswap_1a_256", 1); err == nil {
		t.Error("hyperswap (architecture not public) was accepted")
	}
}

// Reduced-width copies (the same layers, a sixteenth of the channels) load with
// the official signatures, inswapper keeps emap last, and each output is finite
// and depends on both inputs; the builder's MAC count matches the dry count.
func TestFaithfulSwapperRuns(t *testing.T) {
	initORT(t)
	devs, _ := inference.ParseDevices("cpu", 1)
	defer devs[0].Close()
	for _, name := range onnxgen.FaithfulSwappers {
		t.Run(name, func(t *testing.T) {
			model, macs, err := onnxgen.FaithfulSwapper(name, 3, 16)
			if err != nil {
				t.Fatal(err)
			}
			if dry, _ := onnxgen.FaithfulSwapperMACs(name, 16); macs != dry || len(model) == 0 {
				t.Fatalf("built model counts %d MACs, dry count %d", macs, dry)
			}
			path := filepath.Join(t.TempDir(), name+".onnx")
			if err := onnxgen.WriteFaithfulSwapper(path, name, 3, 16); err != nil {
				t.Fatal(err)
			}
			s, err := devs[0].OpenSession(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			size := int64(onnxgen.SwapperSize(name))
			img := []int64{1, 3, size, size}
			want := map[string][]int64{"target": img, "source": {1, 512}}
			for _, in := range s.Inputs {
				if !equal(in.Dimensions, want[in.Name]) {
					t.Errorf("input %q dims %v, want %v", in.Name, in.Dimensions, want[in.Name])
				}
			}
			if len(s.Inputs) != 2 || len(s.Outputs) != 1 || s.Outputs[0].Name != "output" || !equal(s.Outputs[0].Dimensions, img) {
				t.Fatalf("signature %v -> %v", s.InputNames(), s.Outputs)
			}
			if name == "inswapper_128" {
				if n, dims, _, err := inference.LastInitializer(path); err != nil || n != "emap" || !equal(dims, []int64{512, 512}) {
					t.Fatalf("last initializer %q %v (%v)", n, dims, err)
				}
			}
			target := make([]float32, 3*size*size)
			for i := range target {
				target[i] = float32(i%251) / 250
			}
			run := func(seed uint64) []float32 {
				feeds := map[string]inference.Tensor{
					"target": {Shape: img, Data: target},
					"source": {Shape: []int64{1, 512}, Data: unitVector(seed)},
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
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("output value %v", v)
				}
			}
			if d := meanAbsDiff(a, b); d < 1e-4 {
				t.Errorf("output does not depend on the source: mean |a-b| = %v", d)
			}
			for i := range target {
				target[i] = 1 - target[i]
			}
			if d := meanAbsDiff(run(1), a); d < 1e-4 {
				t.Errorf("output does not depend on the target: %v", d)
			}
		})
	}
}

// The FLOP-faithful GFPGAN builds with the official enhancer signature, its full
// size counts the architecture's cost, and a reduced-width copy runs and depends
// on its input.
func TestFaithfulEnhancer(t *testing.T) {
	initORT(t)
	for _, name := range onnxgen.FaithfulEnhancers {
		full, err := onnxgen.FaithfulEnhancerMACs(name, 1)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %.1f GMAC per face", name, float64(full)/1e9)
		if g := float64(full) / 1e9; g < 80 || g > 250 {
			t.Errorf("%s: %.1f GMAC, want the order of GFPGANv1Clean's", name, g)
		}
	}
	if _, err := onnxgen.FaithfulEnhancerMACs("codeformer", 1); err == nil {
		t.Error("codeformer (not built) was accepted")
	}
	path := filepath.Join(t.TempDir(), "gfpgan_1.4.onnx")
	if err := onnxgen.WriteFaithfulEnhancer(path, "gfpgan_1.4", 5, 16); err != nil {
		t.Fatal(err)
	}
	devs, _ := inference.ParseDevices("cpu", 1)
	defer devs[0].Close()
	s, err := devs[0].OpenSession(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	img := []int64{1, 3, 512, 512}
	if len(s.Inputs) != 1 || s.Inputs[0].Name != "input" || !equal(s.Inputs[0].Dimensions, img) ||
		len(s.Outputs) != 1 || s.Outputs[0].Name != "output" || !equal(s.Outputs[0].Dimensions, img) {
		t.Fatalf("signature %v %v -> %v", s.InputNames(), s.Inputs, s.Outputs)
	}
	in := make([]float32, 3*512*512)
	for i := range in {
		in[i] = float32(i%251)/125 - 1
	}
	run := func() []float32 {
		out, err := s.RunFloat32(inference.Tensor{Shape: img, Data: in})
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Data
	}
	a := run()
	for _, v := range a {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("output value %v", v)
		}
	}
	for i := range in {
		in[i] = -in[i]
	}
	if d := meanAbsDiff(run(), a); d < 1e-4 {
		t.Errorf("output does not depend on the input: %v", d)
	}
}
