package onnxgen

import (
	"fmt"
	"math"
)

// Face mask model names: FaceFusion's --face-occluder-model, --face-parser-model
// and landmarker model names (and file names without .onnx).
const (
	OccluderXSeg1 = "xseg_1"
	OccluderXSeg2 = "xseg_2"
	OccluderXSeg3 = "xseg_3"

	ParserBiSeNet18 = "bisenet_resnet_18"
	ParserBiSeNet34 = "bisenet_resnet_34"

	Landmarker2DFAN4  = "2dfan4"
	LandmarkerFAN68_5 = "fan_68_5"
)

// OccluderModels, ParserModels and LandmarkerModels list the mask models the
// functions below write.
var (
	OccluderModels   = []string{OccluderXSeg1, OccluderXSeg2, OccluderXSeg3}
	ParserModels     = []string{ParserBiSeNet18, ParserBiSeNet34}
	LandmarkerModels = []string{Landmarker2DFAN4, LandmarkerFAN68_5}
)

// OccluderKey is the colour each occluder stand-in treats as an occluder, as
// 8-bit RGB: a patch of it painted over a face is "in front of the face".
var OccluderKey = map[string][3]uint8{
	OccluderXSeg1: {0, 255, 0},   // green
	OccluderXSeg2: {0, 0, 255},   // blue
	OccluderXSeg3: {0, 255, 255}, // cyan
}

// Occluder returns a stand-in for FaceFusion's XSeg occluder name (xseg_1/2/3)
// with the signature FaceFusion's face_masker.create_occlusion_mask feeds:
//
//	input  "input"  float32 [1,256,256,3]  NHWC, BGR, x/255
//	output "output" float32 [1,256,256,1]  1 = face, 0 = occluded
//
// The input name, layout, size and range are FaceFusion's (it feeds {'input': …}
// and reads output [0][0]); the output's name is not in FaceFusion's source,
// which reads it by position, as swapd does.
//
// Each stand-in marks one colour as occluded (OccluderKey): with v the keyed
// channels' excess over the others in [0,1] units (xseg_1: G − (R+B)/2; xseg_2:
// B − (R+G)/2; xseg_3: (G+B)/2 − R), output = clip(5.5 − 10·v, 0, 1). A patch
// of the key colour (v = 1) gives 0; skin and ordinary backgrounds (v ≤ 0.45)
// give 1. The weights are in BGR order, so a caller that fed RGB would see
// xseg_2 react to red instead of blue.
func Occluder(name string) ([]byte, error) {
	var w [3]float32 // B, G, R
	switch name {
	case OccluderXSeg1:
		w = [3]float32{5, -10, 5}
	case OccluderXSeg2:
		w = [3]float32{-10, 5, 5}
	case OccluderXSeg3:
		w = [3]float32{-5, -5, 10}
	default:
		return nil, fmt.Errorf("onnxgen: unknown occluder %q", name)
	}
	g := Graph{
		Name: name + "_standin",
		Nodes: []Node{
			{Name: "key", Op: "MatMul", Inputs: []string{"input", "W"}, Outputs: []string{"key"}},
			{Name: "shift", Op: "Add", Inputs: []string{"key", "bias"}, Outputs: []string{"shifted"}},
			{Name: "clip", Op: "Clip", Inputs: []string{"shifted", "lo", "hi"}, Outputs: []string{"output"}},
		},
		Initializers: []Tensor{
			{Name: "W", Dims: []int64{3, 1}, Float: w[:]},
			{Name: "bias", Float: []float32{5.5}},
			{Name: "lo", Float: []float32{0}},
			{Name: "hi", Float: []float32{1}},
		},
		Inputs:  []ValueInfo{{Name: "input", ElemType: Float, Dims: []int64{1, 256, 256, 3}}},
		Outputs: []ValueInfo{{Name: "output", ElemType: Float, Dims: []int64{1, 256, 256, 1}}},
	}
	return g.Marshal(), nil
}

// Parser classes the parser stand-in produces (BiSeNet's CelebAMask-HQ
// indexes, the ones FaceFusion's face_mask_region_set uses).
const (
	ParserClassBackground = 0
	ParserClassSkin       = 1
	ParserClassLeftEye    = 4
	ParserClassNose       = 10
	ParserClassMouth      = 11
	parserClasses         = 19
)

// ParserNoseExcess, ParserMouthExcess and ParserEyeExcess are the thresholds of
// the parser stand-in's colour rule (see Parser).
const (
	ParserNoseExcess  = 0.25
	ParserMouthExcess = 0.25
	ParserEyeExcess   = 0.6
)

// Parser returns a stand-in for FaceFusion's BiSeNet face parser name
// (bisenet_resnet_18/34) with the signature of yakhyo/face-parsing's export
// (onnx_export.py), which FaceFusion's create_region_mask feeds:
//
//	input  "input"   float32 [batch_size,3,512,512]  RGB, (x/255 − mean)/std, ImageNet mean/std
//	output "output"  float32 [batch_size,19,512,512] class logits
//	       "output16", "output32"                    the two auxiliary heads, same shape
//
// FaceFusion reads output [0][0] and takes the argmax over the 19 classes. The
// auxiliary heads' names are not given by the export script (PyTorch numbers
// them); these are placeholders and swapd never reads them.
//
// The logits follow each pixel's colour relative to the crop's mean colour (a
// parser sees a part in the context of the face). With the input mapped back to
// RGB in [0,1], a pixel's excesses e_G = G − (R+B)/2, e_B = B − (R+G)/2 and
// e_R = R − (G+B)/2, and d_X = e_X − mean of e_X over the crop:
//
//	skin (1)     0
//	nose (10)    20·(d_G − ParserNoseExcess)
//	mouth (11)   20·(d_B − ParserMouthExcess)
//	left-eye (4) 20·(d_R − ParserEyeExcess)
//	others       −10
//
// so a clearly greener part than the rest is "nose", a bluer one "mouth", a
// much redder one "left eye", and everything else skin. Being relative, the
// rule holds whatever uniform tint a swapper stand-in adds to the whole crop:
// a test controls the regions by painting colour patches.
func Parser(name string) ([]byte, error) {
	if name != ParserBiSeNet18 && name != ParserBiSeNet34 {
		return nil, fmt.Errorf("onnxgen: unknown parser %q", name)
	}
	w := make([]float32, parserClasses*3)
	b := make([]float32, parserClasses)
	for c := range parserClasses {
		b[c] = -10
	}
	b[ParserClassSkin] = 0
	// The excess planes, in the order R, G, B.
	excess := []float32{1, -0.5, -0.5, -0.5, 1, -0.5, -0.5, -0.5, 1}
	set := func(c, plane int, thr float32) {
		w[c*3+plane] = 20
		b[c] = -20 * thr
	}
	set(ParserClassNose, 1, ParserNoseExcess)
	set(ParserClassMouth, 2, ParserMouthExcess)
	set(ParserClassLeftEye, 0, ParserEyeExcess)
	dims := []int64{-1, 3, 512, 512}
	out := []int64{-1, parserClasses, 512, 512}
	batch := []string{"batch_size"}
	g := Graph{
		Name: name + "_standin",
		Nodes: []Node{
			{Name: "unstd", Op: "Mul", Inputs: []string{"input", "std"}, Outputs: []string{"unstd"}},
			{Name: "unmean", Op: "Add", Inputs: []string{"unstd", "mean"}, Outputs: []string{"rgb"}},
			{Name: "excess", Op: "Conv", Inputs: []string{"rgb", "E"}, Outputs: []string{"excess"}, Attrs: []Attr{
				{Name: "kernel_shape", Type: AttrInts, Ints: []int64{1, 1}},
			}},
			{Name: "context", Op: "ReduceMean", Inputs: []string{"excess"}, Outputs: []string{"context"}, Attrs: []Attr{
				{Name: "axes", Type: AttrInts, Ints: []int64{2, 3}},
				{Name: "keepdims", Type: AttrInt, I: 1},
			}},
			{Name: "relative", Op: "Sub", Inputs: []string{"excess", "context"}, Outputs: []string{"relative"}},
			{Name: "classify", Op: "Conv", Inputs: []string{"relative", "W", "B"}, Outputs: []string{"output"}, Attrs: []Attr{
				{Name: "kernel_shape", Type: AttrInts, Ints: []int64{1, 1}},
			}},
			{Name: "aux16", Op: "Identity", Inputs: []string{"output"}, Outputs: []string{"output16"}},
			{Name: "aux32", Op: "Identity", Inputs: []string{"output"}, Outputs: []string{"output32"}},
		},
		Initializers: []Tensor{
			{Name: "std", Dims: []int64{1, 3, 1, 1}, Float: []float32{0.229, 0.224, 0.225}},
			{Name: "mean", Dims: []int64{1, 3, 1, 1}, Float: []float32{0.485, 0.456, 0.406}},
			{Name: "E", Dims: []int64{3, 3, 1, 1}, Float: excess},
			{Name: "W", Dims: []int64{parserClasses, 3, 1, 1}, Float: w},
			{Name: "B", Dims: []int64{parserClasses}, Float: b},
		},
		Inputs: []ValueInfo{{Name: "input", ElemType: Float, Dims: dims, DimParams: batch}},
		Outputs: []ValueInfo{
			{Name: "output", ElemType: Float, Dims: out, DimParams: batch},
			{Name: "output16", ElemType: Float, Dims: out, DimParams: batch},
			{Name: "output32", ElemType: Float, Dims: out, DimParams: batch},
		},
	}
	return g.Marshal(), nil
}

// CanonicalFace68 returns a 68-point face (the iBUG 300-W layout 2dfan4 and
// fan_68_5 use: jaw 0–16, brows 17–26, nose 27–35, eyes 36–47, mouth 48–67) in
// unit face-box coordinates (x, y in about [0,1]), drawn from simple curves: it
// is a plausible face shape for stand-ins, not a trained mean shape.
func CanonicalFace68() [68][2]float64 {
	var p [68][2]float64
	for i := 0; i <= 16; i++ { // jaw: a U from the left temple over the chin to the right
		t := math.Pi - float64(i)*math.Pi/16
		p[i] = [2]float64{0.5 + 0.45*math.Cos(t), 0.35 + 0.6*math.Sin(t)}
	}
	for i := 0; i < 5; i++ { // brows
		s := float64(i) / 4
		p[17+i] = [2]float64{0.14 + 0.28*s, 0.27 - 0.04*math.Sin(s*math.Pi)}
		p[22+i] = [2]float64{0.58 + 0.28*s, 0.27 - 0.04*math.Sin(s*math.Pi)}
	}
	for i := 0; i < 4; i++ { // nose bridge
		p[27+i] = [2]float64{0.5, 0.36 + 0.07*float64(i)}
	}
	for i := 0; i < 5; i++ { // nose bottom
		p[31+i] = [2]float64{0.42 + 0.04*float64(i), 0.62 + 0.015*(2-math.Abs(float64(i-2)))}
	}
	eye := func(first int, cx float64) { // outer/inner corner order as 300-W
		pts := [6][2]float64{{-0.07, 0}, {-0.03, -0.025}, {0.03, -0.025}, {0.07, 0}, {0.03, 0.02}, {-0.03, 0.02}}
		for i, d := range pts {
			p[first+i] = [2]float64{cx + d[0], 0.38 + d[1]}
		}
	}
	eye(36, 0.32)
	eye(42, 0.68)
	ellipse := func(first, n int, rx, ry, from float64) {
		for i := 0; i < n; i++ {
			t := from + 2*math.Pi*float64(i)/float64(n)
			p[first+i] = [2]float64{0.5 + rx*math.Cos(t), 0.78 + ry*math.Sin(t)}
		}
	}
	// Outer lips 48–59 from the left corner over the upper lip (y up is −), inner 60–67.
	ellipse(48, 12, -0.14, -0.06, 0)
	ellipse(60, 8, -0.1, -0.02, 0)
	return p
}

// LandmarkerFAN4 returns a stand-in for FaceFusion's 2dfan4 with the signature
// face_landmarker.detect_with_2dfan4 uses:
//
//	input  "input"    float32 [1,3,256,256]  BGR, x/255, the face box scaled to 195 px and centred
//	output "landmarks" float32 [1,68,3]      x, y on the 64×64 heatmap grid, and a confidence
//	       "heatmaps"  float32 [1,68,64,64]  one heatmap per point
//
// FaceFusion reads the two outputs by position (coordinates first); their names
// here are placeholders. The landmarks are CanonicalFace68 laid over the face
// box as FaceFusion's crop places it (box → the central 195 px of 256, /4 for
// the 64 grid), shifted by 4·(mean(input) − 0.5) grid cells along x and y, so
// they are a deterministic function of the input; every heatmap is the
// constant 0.81, giving FaceFusion's score interp(0.81, [0,0.9] → [0,1]) = 0.9.
func LandmarkerFAN4() []byte {
	canon := CanonicalFace68()
	lm := make([]float32, 68*3)
	dir := make([]float32, 68*3)
	for i, q := range canon {
		for a := 0; a < 2; a++ {
			lm[i*3+a] = float32((128 + (q[a]-0.5)*195) / 4)
			dir[i*3+a] = 4
		}
		lm[i*3+2] = 1
	}
	g := Graph{
		Name: "2dfan4_standin",
		Nodes: []Node{
			{Name: "mean", Op: "ReduceMean", Inputs: []string{"input"}, Outputs: []string{"m"}, Attrs: []Attr{
				{Name: "axes", Type: AttrInts, Ints: []int64{0, 1, 2, 3}},
				{Name: "keepdims", Type: AttrInt, I: 0},
			}},
			{Name: "centre", Op: "Sub", Inputs: []string{"m", "half"}, Outputs: []string{"mc"}},
			{Name: "shift", Op: "Mul", Inputs: []string{"mc", "dir"}, Outputs: []string{"shift"}},
			{Name: "place", Op: "Add", Inputs: []string{"shift", "canon"}, Outputs: []string{"landmarks"}},
			{Name: "zero", Op: "Mul", Inputs: []string{"m", "zero"}, Outputs: []string{"z"}},
			{Name: "level", Op: "Add", Inputs: []string{"z", "heat"}, Outputs: []string{"hv"}},
			{Name: "expand", Op: "Expand", Inputs: []string{"hv", "heat_shape"}, Outputs: []string{"heatmaps"}},
		},
		Initializers: []Tensor{
			{Name: "half", Float: []float32{0.5}},
			{Name: "dir", Dims: []int64{1, 68, 3}, Float: dir},
			{Name: "canon", Dims: []int64{1, 68, 3}, Float: lm},
			{Name: "zero", Float: []float32{0}},
			{Name: "heat", Dims: []int64{1, 1, 1, 1}, Float: []float32{0.81}},
			{Name: "heat_shape", Dims: []int64{4}, Int64: []int64{1, 68, 64, 64}},
		},
		Inputs: []ValueInfo{{Name: "input", ElemType: Float, Dims: []int64{1, 3, 256, 256}}},
		Outputs: []ValueInfo{
			{Name: "landmarks", ElemType: Float, Dims: []int64{1, 68, 3}},
			{Name: "heatmaps", ElemType: Float, Dims: []int64{1, 68, 64, 64}},
		},
	}
	return g.Marshal()
}

// ffhq512 is FaceFusion's ffhq_512 template in unit coordinates.
var ffhq512 = [5][2]float64{
	{0.37691676, 0.46864664}, {0.62285697, 0.46912813}, {0.50123859, 0.61331904},
	{0.39308822, 0.72541100}, {0.61150205, 0.72490465},
}

// CanonicalFace68FFHQ is CanonicalFace68 mapped into the unit ffhq_512 space
// fan_68_5 works in: scaled per axis so its eye centres and mouth corners land
// on the template's.
func CanonicalFace68FFHQ() [68][2]float64 {
	c := CanonicalFace68()
	eyeY, mouthY := 0.38, 0.78
	sx := (ffhq512[1][0] - ffhq512[0][0]) / 0.36
	sy := ((ffhq512[3][1]+ffhq512[4][1])/2 - (ffhq512[0][1]+ffhq512[1][1])/2) / (mouthY - eyeY)
	cx := (ffhq512[0][0] + ffhq512[1][0]) / 2
	ey := (ffhq512[0][1] + ffhq512[1][1]) / 2
	var out [68][2]float64
	for i, q := range c {
		out[i] = [2]float64{cx + (q[0]-0.5)*sx, ey + (q[1]-eyeY)*sy}
	}
	return out
}

// nearest5 assigns each of the 68 points to one of the five: eyes to their
// eye, the nose to the nose tip, the mouth and the lower jaw to the nearer
// mouth corner, brows and upper jaw to the eye on their side.
func nearest5(i int, p [2]float64) int {
	switch {
	case i >= 36 && i <= 41:
		return 0
	case i >= 42 && i <= 47:
		return 1
	case i >= 27 && i <= 35:
		return 2
	}
	left := p[0] < 0.5
	if p[1] < 0.55 {
		if left {
			return 0
		}
		return 1
	}
	if left {
		return 3
	}
	return 4
}

// LandmarkerFAN68From5 returns a stand-in for FaceFusion's fan_68_5, which
// face_landmarker.estimate_face_landmark_68_5 feeds with the five landmarks in
// unit ffhq_512 space:
//
//	input  "input"  float32 [1,5,2]
//	output "output" float32 [1,68,2]  in the same space
//
// (the output's name is a placeholder; FaceFusion reads output [0][0]). The
// network is linear: point j = CanonicalFace68FFHQ()[j] + (input[k] −
// ffhq_512[k]), k the one of the five points j belongs to (nearest5), so the
// template in gives the canonical face out and each part follows its landmark.
func LandmarkerFAN68From5() []byte {
	canon := CanonicalFace68FFHQ()
	sel := make([]float32, 10*136)
	bias := make([]float32, 136)
	for j, q := range canon {
		k := nearest5(j, CanonicalFace68()[j])
		for a := 0; a < 2; a++ {
			sel[(k*2+a)*136+j*2+a] = 1
			bias[j*2+a] = float32(q[a] - ffhq512[k][a])
		}
	}
	g := Graph{
		Name: "fan_68_5_standin",
		Nodes: []Node{
			{Name: "flat", Op: "Reshape", Inputs: []string{"input", "flat_shape"}, Outputs: []string{"flat"}},
			{Name: "select", Op: "MatMul", Inputs: []string{"flat", "S"}, Outputs: []string{"sel"}},
			{Name: "place", Op: "Add", Inputs: []string{"sel", "bias"}, Outputs: []string{"placed"}},
			{Name: "shape", Op: "Reshape", Inputs: []string{"placed", "out_shape"}, Outputs: []string{"output"}},
		},
		Initializers: []Tensor{
			{Name: "flat_shape", Dims: []int64{2}, Int64: []int64{1, 10}},
			{Name: "S", Dims: []int64{10, 136}, Float: sel},
			{Name: "bias", Dims: []int64{136}, Float: bias},
			{Name: "out_shape", Dims: []int64{3}, Int64: []int64{1, 68, 2}},
		},
		Inputs:  []ValueInfo{{Name: "input", ElemType: Float, Dims: []int64{1, 5, 2}}},
		Outputs: []ValueInfo{{Name: "output", ElemType: Float, Dims: []int64{1, 68, 2}}},
	}
	return g.Marshal()
}

// MaskModel returns the stand-in for any occluder, parser or landmarker name.
func MaskModel(name string) ([]byte, error) {
	switch name {
	case OccluderXSeg1, OccluderXSeg2, OccluderXSeg3:
		return Occluder(name)
	case ParserBiSeNet18, ParserBiSeNet34:
		return Parser(name)
	case Landmarker2DFAN4:
		return LandmarkerFAN4(), nil
	case LandmarkerFAN68_5:
		return LandmarkerFAN68From5(), nil
	}
	return nil, fmt.Errorf("onnxgen: unknown mask model %q", name)
}

// WriteMaskModel writes MaskModel(name) to path atomically.
func WriteMaskModel(path, name string) error {
	b, err := MaskModel(name)
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}
