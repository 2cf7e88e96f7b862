package onnxgen_test

import (
	"math"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/inference"
	ort "github.com/yalue/onnxruntime_go"
)

func TestMaskModelSignatures(t *testing.T) {
	want := map[string]struct {
		in   []int64
		outs [][]int64
	}{
		onnxgen.OccluderXSeg1:     {[]int64{1, 256, 256, 3}, [][]int64{{1, 256, 256, 1}}},
		onnxgen.OccluderXSeg2:     {[]int64{1, 256, 256, 3}, [][]int64{{1, 256, 256, 1}}},
		onnxgen.OccluderXSeg3:     {[]int64{1, 256, 256, 3}, [][]int64{{1, 256, 256, 1}}},
		onnxgen.ParserBiSeNet18:   {[]int64{-1, 3, 512, 512}, [][]int64{{-1, 19, 512, 512}, {-1, 19, 512, 512}, {-1, 19, 512, 512}}},
		onnxgen.ParserBiSeNet34:   {[]int64{-1, 3, 512, 512}, [][]int64{{-1, 19, 512, 512}, {-1, 19, 512, 512}, {-1, 19, 512, 512}}},
		onnxgen.Landmarker2DFAN4:  {[]int64{1, 3, 256, 256}, [][]int64{{1, 68, 3}, {1, 68, 64, 64}}},
		onnxgen.LandmarkerFAN68_5: {[]int64{1, 5, 2}, [][]int64{{1, 68, 2}}},
	}
	for name, w := range want {
		s := open(t, name+".onnx", func(p string) error { return onnxgen.WriteMaskModel(p, name) })
		if len(s.Inputs) != 1 || s.Inputs[0].Name != "input" || s.Inputs[0].DataType != ort.TensorElementDataTypeFloat ||
			!equalDims(s.Inputs[0].Dimensions, w.in) {
			t.Errorf("%s: inputs %+v, want float32 \"input\" %v", name, s.Inputs, w.in)
		}
		if len(s.Outputs) != len(w.outs) {
			t.Fatalf("%s: %d outputs, want %d", name, len(s.Outputs), len(w.outs))
		}
		for i, o := range s.Outputs {
			if o.DataType != ort.TensorElementDataTypeFloat || !equalDims(o.Dimensions, w.outs[i]) {
				t.Errorf("%s: output %d %+v, want float32 %v", name, i, o, w.outs[i])
			}
		}
	}
	if _, err := onnxgen.MaskModel("peppa_wutz"); err == nil {
		t.Error("MaskModel accepted an unknown name")
	}
}

func equalDims(a, b []int64) bool {
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

func TestOccluderStandinKeysItsColour(t *testing.T) {
	skin := [3]float32{0.8, 0.6, 0.5} // RGB
	for _, name := range onnxgen.OccluderModels {
		s := open(t, name+".onnx", func(p string) error { return onnxgen.WriteMaskModel(p, name) })
		key := onnxgen.OccluderKey[name]
		in := make([]float32, 256*256*3)
		for i := range 256 * 256 {
			c := skin
			if i < 128*256 { // top half: the key colour
				c = [3]float32{float32(key[0]) / 255, float32(key[1]) / 255, float32(key[2]) / 255}
			}
			in[i*3], in[i*3+1], in[i*3+2] = c[2], c[1], c[0] // BGR
		}
		outs, err := s.RunFloat32(inference.Tensor{Shape: []int64{1, 256, 256, 3}, Data: in})
		if err != nil {
			t.Fatal(err)
		}
		m := outs[0].Data
		if m[0] != 0 || m[len(m)-1] != 1 {
			t.Errorf("%s: key colour %v, skin %v; want 0 and 1", name, m[0], m[len(m)-1])
		}
	}
}

func TestParserStandinFollowsColour(t *testing.T) {
	s := open(t, "bisenet.onnx", func(p string) error { return onnxgen.WriteMaskModel(p, onnxgen.ParserBiSeNet34) })
	const n = 512
	mean := [3]float32{0.485, 0.456, 0.406}
	std := [3]float32{0.229, 0.224, 0.225}
	in := make([]float32, 3*n*n)
	for y := range n {
		for x := range n {
			c := [3]float32{0.8, 0.6, 0.5} // skin
			switch {
			case y < 64 && x < 64:
				c = [3]float32{0.8, 1, 0.5} // greener: nose
			case y < 64 && x >= n-64:
				c = [3]float32{0.5, 0.5, 1} // bluer: mouth
			}
			for ch := range 3 {
				in[ch*n*n+y*n+x] = (c[ch] - mean[ch]) / std[ch]
			}
		}
	}
	outs, err := s.RunFloat32(inference.Tensor{Shape: []int64{1, 3, n, n}, Data: in})
	if err != nil {
		t.Fatal(err)
	}
	argmax := func(i int) int {
		best, arg := float32(math.Inf(-1)), -1
		for c := range 19 {
			if v := outs[0].Data[c*n*n+i]; v > best {
				best, arg = v, c
			}
		}
		return arg
	}
	for _, c := range []struct{ i, want int }{{0, onnxgen.ParserClassNose}, {n - 1, onnxgen.ParserClassMouth}, {n * n / 2, onnxgen.ParserClassSkin}} {
		if got := argmax(c.i); got != c.want {
			t.Errorf("pixel %d: class %d, want %d", c.i, got, c.want)
		}
	}
}

func TestFAN68From5StandinMapsTemplate(t *testing.T) {
	s := open(t, "fan_68_5.onnx", func(p string) error { return onnxgen.WriteMaskModel(p, onnxgen.LandmarkerFAN68_5) })
	tmpl := []float32{0.37691676, 0.46864664, 0.62285697, 0.46912813, 0.50123859, 0.61331904, 0.39308822, 0.72541100, 0.61150205, 0.72490465}
	outs, err := s.RunFloat32(inference.Tensor{Shape: []int64{1, 5, 2}, Data: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	canon := onnxgen.CanonicalFace68FFHQ()
	for j, q := range canon {
		if math.Abs(float64(outs[0].Data[j*2])-q[0]) > 1e-5 || math.Abs(float64(outs[0].Data[j*2+1])-q[1]) > 1e-5 {
			t.Fatalf("point %d: %v,%v, want %v", j, outs[0].Data[j*2], outs[0].Data[j*2+1], q)
		}
	}
}
