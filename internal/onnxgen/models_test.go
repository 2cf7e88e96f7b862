package onnxgen_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/inference"
	ort "github.com/yalue/onnxruntime_go"
)

// open writes a model with write and opens it on a fresh CPU device.
func open(t *testing.T, file string, write func(string) error) *inference.Session {
	t.Helper()
	initORT(t)
	path := filepath.Join(t.TempDir(), file)
	if err := write(path); err != nil {
		t.Fatal(err)
	}
	devs, _ := inference.ParseDevices("cpu", 1)
	s, err := devs[0].OpenSession(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); devs[0].Close() })
	return s
}

func TestSwapperDynamicBatch(t *testing.T) {
	s := open(t, onnxgen.SwapperDynamicFile, func(p string) error { return onnxgen.WriteSwapperDynamic(p, 1) })
	one := open(t, onnxgen.SwapperFile, func(p string) error { return onnxgen.WriteSwapper(p, 1) })
	if !s.BatchDynamic() || one.BatchDynamic() {
		t.Fatalf("BatchDynamic: dynamic %v, fixed %v", s.BatchDynamic(), one.BatchDynamic())
	}
	for _, in := range s.Inputs {
		if in.Dimensions[0] != -1 {
			t.Errorf("input %s dims %v, want a dynamic batch", in.Name, in.Dimensions)
		}
	}
	const plane = 3 * 128 * 128
	target := make([]float32, 2*plane)
	for i := range target {
		target[i] = float32((i*7)%256) / 255
	}
	source := make([]float32, 2*512)
	for i := range source {
		source[i] = float32(math.Sin(float64(i)))
	}
	order := func(s *inference.Session, tgt, src inference.Tensor) []inference.Tensor {
		if s.Inputs[0].Name == "target" {
			return []inference.Tensor{tgt, src}
		}
		return []inference.Tensor{src, tgt}
	}
	both, err := s.RunFloat32(order(s,
		inference.Tensor{Shape: []int64{2, 3, 128, 128}, Data: target},
		inference.Tensor{Shape: []int64{2, 512}, Data: source})...)
	if err != nil {
		t.Fatal(err)
	}
	if got := both[0].Shape; len(got) != 4 || got[0] != 2 {
		t.Fatalf("batched output shape %v", got)
	}
	for i := 0; i < 2; i++ {
		single, err := one.RunFloat32(order(one,
			inference.Tensor{Shape: []int64{1, 3, 128, 128}, Data: target[i*plane : (i+1)*plane]},
			inference.Tensor{Shape: []int64{1, 512}, Data: source[i*512 : (i+1)*512]})...)
		if err != nil {
			t.Fatal(err)
		}
		if d := meanAbsDiff(single[0].Data, both[0].Data[i*plane:(i+1)*plane]); d > 1e-6 {
			t.Errorf("sample %d: batched differs from single by %v", i, d)
		}
	}
}

func TestYOLOFaceSignatureAndOutput(t *testing.T) {
	dets := []onnxgen.YOLOFaceDetection{
		{Anchor: 5, CX: 100, CY: 120, W: 80, H: 100, Score: 0.9, LandmarkConfidence: 0.8,
			Landmarks: [5][2]float32{{80, 100}, {120, 100}, {100, 120}, {85, 140}, {115, 140}}},
		{Anchor: 8399, CX: 500, CY: 500, W: 50, H: 60, Score: 0.3},
	}
	s := open(t, onnxgen.YOLOFaceFile, func(p string) error { return onnxgen.WriteYOLOFace(p, dets) })
	if len(s.Inputs) != 1 || s.Inputs[0].Name != "input" || !equal(s.Inputs[0].Dimensions, []int64{1, 3, 640, 640}) ||
		s.Inputs[0].DataType != ort.TensorElementDataTypeFloat {
		t.Fatalf("input %+v", s.Inputs)
	}
	if len(s.Outputs) != 1 || !equal(s.Outputs[0].Dimensions, []int64{1, 20, 8400}) {
		t.Fatalf("output %+v", s.Outputs)
	}
	in := make([]float32, 3*640*640)
	for i := range in {
		in[i] = float32(i%255) / 255
	}
	out, err := s.RunFloat32(inference.Tensor{Shape: []int64{1, 3, 640, 640}, Data: in})
	if err != nil {
		t.Fatal(err)
	}
	o := out[0].Data
	const n = 8400
	at := func(row, col int) float32 { return o[row*n+col] }
	if at(0, 5) != 100 || at(1, 5) != 120 || at(2, 5) != 80 || at(3, 5) != 100 || at(4, 5) != 0.9 {
		t.Errorf("box column 5: %v %v %v %v %v", at(0, 5), at(1, 5), at(2, 5), at(3, 5), at(4, 5))
	}
	if at(5, 5) != 80 || at(6, 5) != 100 || at(7, 5) != 0.8 || at(17, 5) != 115 || at(18, 5) != 140 {
		t.Errorf("keypoints column 5: %v", []float32{at(5, 5), at(6, 5), at(7, 5), at(17, 5), at(18, 5)})
	}
	if at(4, 8399) != 0.3 || at(4, 6) != 0 || at(0, 6) != 0 {
		t.Errorf("other columns: %v %v %v", at(4, 8399), at(4, 6), at(0, 6))
	}
	if _, err := onnxgen.YOLOFace([]onnxgen.YOLOFaceDetection{{Anchor: 8400}}); err == nil {
		t.Error("anchor 8400 accepted")
	}
	if _, err := onnxgen.YOLOFace([]onnxgen.YOLOFaceDetection{{Anchor: 1}, {Anchor: 1}}); err == nil {
		t.Error("duplicate anchor accepted")
	}
}

func TestEnhancerSignatures(t *testing.T) {
	for _, name := range onnxgen.EnhancerModels {
		t.Run(name, func(t *testing.T) {
			s := open(t, name+".onnx", func(p string) error { return onnxgen.WriteEnhancer(p, name) })
			size := int64(onnxgen.EnhancerSize(name))
			wantIn := 1
			if name == onnxgen.EnhancerCodeFormer {
				wantIn = 2
			}
			if len(s.Inputs) != wantIn || s.Inputs[0].Name != "input" || !equal(s.Inputs[0].Dimensions, []int64{1, 3, size, size}) ||
				s.Inputs[0].DataType != ort.TensorElementDataTypeFloat {
				t.Fatalf("inputs %+v", s.Inputs)
			}
			if wantIn == 2 {
				w := s.Inputs[1]
				if w.Name != "weight" || !equal(w.Dimensions, []int64{1}) || w.DataType != ort.TensorElementDataTypeDouble {
					t.Fatalf("weight input %+v, want float64 [1]", w)
				}
			}
			if len(s.Outputs) != 1 || s.Outputs[0].Name != "output" || !equal(s.Outputs[0].Dimensions, []int64{1, 3, size, size}) {
				t.Fatalf("outputs %+v", s.Outputs)
			}
			n := int(3 * size * size)
			in := make([]float32, n)
			for i := range in {
				in[i] = float32((i*13)%511)/255 - 1
			}
			run := func(w float64) []float32 {
				ins := []inference.Input{inference.Tensor{Shape: []int64{1, 3, size, size}, Data: in}}
				if wantIn == 2 {
					ins = append(ins, inference.Float64Tensor{Shape: []int64{1}, Data: []float64{w}})
				}
				out, err := s.RunInputs(ins...)
				if err != nil {
					t.Fatal(err)
				}
				return out[0].Data
			}
			a := run(0.5)
			for _, v := range a {
				if v < -1 || v > 1 || v != v {
					t.Fatalf("output %v outside [-1,1]", v)
				}
			}
			if d := meanAbsDiff(a, in); d < 0.1 {
				t.Errorf("output barely depends on the input: mean |out-in| %v", d)
			}
			if wantIn == 2 {
				if d := meanAbsDiff(a, run(1)); d < 0.01 {
					t.Errorf("CodeFormer output barely depends on weight: %v", d)
				}
			}
		})
	}
	if _, err := onnxgen.Enhancer("restoreformer"); err == nil {
		t.Error("unknown enhancer accepted")
	}
}
