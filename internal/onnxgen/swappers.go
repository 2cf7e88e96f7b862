package onnxgen

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Swapper model names besides inswapper_128: FaceFusion's --face-swapper-model
// names, which are also the official file names without .onnx.
const (
	SwapperHyperswap1A    = "hyperswap_1a_256"
	SwapperHyperswap1B    = "hyperswap_1b_256"
	SwapperHyperswap1C    = "hyperswap_1c_256"
	SwapperGhost1         = "ghost_1_256"
	SwapperGhost2         = "ghost_2_256"
	SwapperGhost3         = "ghost_3_256"
	SwapperSimswap256     = "simswap_256"
	SwapperSimswap512     = "simswap_unofficial_512"
	ConverterGhost        = "crossface_ghost"
	ConverterSimswap      = "crossface_simswap"
	swapperInswapper128   = "inswapper_128"
	swapperInswapper128FP = "inswapper_128_fp16"
)

// SwapperModels lists every swapper StandinSwapper can write, inswapper first.
var SwapperModels = []string{
	swapperInswapper128, swapperInswapper128FP,
	SwapperHyperswap1A, SwapperHyperswap1B, SwapperHyperswap1C,
	SwapperGhost1, SwapperGhost2, SwapperGhost3,
	SwapperSimswap256, SwapperSimswap512,
}

// ConverterModels lists the embedding converters StandinConverter can write.
var ConverterModels = []string{ConverterGhost, ConverterSimswap}

// SwapperConverter names the embedding converter a swapper needs ("" for none):
// crossface_ghost for the ghost models, crossface_simswap for the SimSwap models.
func SwapperConverter(name string) string {
	switch name {
	case SwapperGhost1, SwapperGhost2, SwapperGhost3:
		return ConverterGhost
	case SwapperSimswap256, SwapperSimswap512:
		return ConverterSimswap
	}
	return ""
}

// SwapperSize is the native crop side of a known swapper (0 for an unknown name).
func SwapperSize(name string) int {
	switch name {
	case swapperInswapper128, swapperInswapper128FP:
		return 128
	case SwapperSimswap512:
		return 512
	case SwapperHyperswap1A, SwapperHyperswap1B, SwapperHyperswap1C, SwapperGhost1, SwapperGhost2, SwapperGhost3, SwapperSimswap256:
		return 256
	}
	return 0
}

// StandinSwapper returns a stand-in for the swapper model name with the official
// file's signature (the tensor names FaceFusion feeds by name; float32 throughout,
// batch 1):
//
//	inswapper_128(_fp16)    target [1,3,128,128], source [1,512] → output [1,3,128,128], emap last initializer (Swapper)
//	hyperswap_1{a,b,c}_256  source [1,512], target [1,3,256,256] → output [1,3,256,256], mask [1,1,256,256]
//	ghost_{1,2,3}_256       target [1,3,256,256], source [1,512] → output [1,3,256,256]
//	simswap_256             target [1,3,256,256], source [1,512] → output [1,3,256,256]
//	simswap_unofficial_512  target [1,3,512,512], source [1,512] → output [1,3,512,512]
//
// The hyperswap signature (input order, the mask output) is as third-party
// loaders of the files describe it; FaceFusion itself feeds inputs by name and
// reads only output 0, which is all swapd relies on.
//
// The network mirrors the inswapper stand-in, in each model's own value ranges:
//
//	style  = tanh(source · W)                         W: [512,3]
//	output = clip(bias + gain·target + 0.35·style, lo, hi)
//
// with [lo,hi] = [−1,1] for the models whose output FaceFusion de-normalises
// (hyperswap, ghost) and [0,1] for the others; hyperswap's mask output is
// sigmoid of the target's first channel. Every output pixel depends on the target
// and on the source.
func StandinSwapper(name string, seed int64) ([]byte, error) {
	switch name {
	case swapperInswapper128, swapperInswapper128FP:
		return Swapper(seed), nil
	}
	size := int64(SwapperSize(name))
	if size == 0 {
		return nil, fmt.Errorf("onnxgen: unknown swapper %q", name)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_0256^uint64(size)))
	w := make([]float32, 512*3)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	lo, hi, bias, gain := float32(0), float32(1), float32(0.6), float32(-0.15)
	switch name {
	case SwapperHyperswap1A, SwapperHyperswap1B, SwapperHyperswap1C, SwapperGhost1, SwapperGhost2, SwapperGhost3:
		lo, hi, bias, gain = -1, 1, 0.2, -0.5
	case SwapperSimswap512:
		bias, gain = 0.8, -0.5
	}
	g := Graph{
		Name: name + "_standin",
		Nodes: []Node{
			{Name: "proj", Op: "MatMul", Inputs: []string{"source", "W"}, Outputs: []string{"proj"}},
			{Name: "style", Op: "Tanh", Inputs: []string{"proj"}, Outputs: []string{"style"}},
			{Name: "style4", Op: "Reshape", Inputs: []string{"style", "style_shape"}, Outputs: []string{"style4"}},
			{Name: "inv", Op: "Mul", Inputs: []string{"target", "target_gain"}, Outputs: []string{"inv"}},
			{Name: "shift", Op: "Add", Inputs: []string{"inv", "bias"}, Outputs: []string{"shift"}},
			{Name: "styled", Op: "Mul", Inputs: []string{"style4", "style_gain"}, Outputs: []string{"styled"}},
			{Name: "sum", Op: "Add", Inputs: []string{"shift", "styled"}, Outputs: []string{"sum"}},
			{Name: "clip", Op: "Clip", Inputs: []string{"sum", "clip_min", "clip_max"}, Outputs: []string{"output"}},
		},
		Initializers: []Tensor{
			{Name: "W", Dims: []int64{512, 3}, Float: w},
			{Name: "style_shape", Dims: []int64{4}, Int64: []int64{-1, 3, 1, 1}},
			{Name: "target_gain", Float: []float32{gain}},
			{Name: "bias", Float: []float32{bias}},
			{Name: "style_gain", Float: []float32{0.35}},
			{Name: "clip_min", Float: []float32{lo}},
			{Name: "clip_max", Float: []float32{hi}},
		},
		Inputs: []ValueInfo{
			{Name: "target", ElemType: Float, Dims: []int64{1, 3, size, size}},
			{Name: "source", ElemType: Float, Dims: []int64{1, 512}},
		},
		Outputs: []ValueInfo{
			{Name: "output", ElemType: Float, Dims: []int64{1, 3, size, size}},
		},
	}
	switch name {
	case SwapperHyperswap1A, SwapperHyperswap1B, SwapperHyperswap1C:
		g.Nodes = append(g.Nodes,
			Node{Name: "first", Op: "Slice", Inputs: []string{"target", "mask_start", "mask_end", "mask_axes"}, Outputs: []string{"first"}},
			Node{Name: "mask", Op: "Sigmoid", Inputs: []string{"first"}, Outputs: []string{"mask"}},
		)
		g.Initializers = append(g.Initializers,
			Tensor{Name: "mask_start", Dims: []int64{1}, Int64: []int64{0}},
			Tensor{Name: "mask_end", Dims: []int64{1}, Int64: []int64{1}},
			Tensor{Name: "mask_axes", Dims: []int64{1}, Int64: []int64{1}},
		)
		g.Outputs = append(g.Outputs, ValueInfo{Name: "mask", ElemType: Float, Dims: []int64{1, 1, size, size}})
		// The hyperswap files declare source before target (loaders go by name).
		g.Inputs[0], g.Inputs[1] = g.Inputs[1], g.Inputs[0]
	}
	return g.Marshal(), nil
}

// StandinConverter returns a stand-in for FaceFusion's embedding converter
// crossface_ghost or crossface_simswap with the official signature: input "input"
// float32 [1,512] (an ArcFace embedding) → output "output" float32 [1,512], here
// output = input · M + b with M a random near-orthogonal-scale matrix, so the
// converted vector depends on every input value.
func StandinConverter(name string, seed int64) ([]byte, error) {
	var salt uint64
	switch name {
	case ConverterGhost:
		salt = 0x9405
	case ConverterSimswap:
		salt = 0x5135
	default:
		return nil, fmt.Errorf("onnxgen: unknown embedding converter %q", name)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), salt))
	m := make([]float32, 512*512)
	scale := 1 / math.Sqrt(512)
	for i := range m {
		m[i] = float32(rng.NormFloat64() * scale)
	}
	b := make([]float32, 512)
	for i := range b {
		b[i] = float32(rng.NormFloat64() * 0.01)
	}
	g := Graph{
		Name: name + "_standin",
		Nodes: []Node{
			{Name: "mm", Op: "MatMul", Inputs: []string{"input", "M"}, Outputs: []string{"mm"}},
			{Name: "add", Op: "Add", Inputs: []string{"mm", "b"}, Outputs: []string{"output"}},
		},
		Initializers: []Tensor{
			{Name: "M", Dims: []int64{512, 512}, Float: m},
			{Name: "b", Dims: []int64{512}, Float: b},
		},
		Inputs:  []ValueInfo{{Name: "input", ElemType: Float, Dims: []int64{1, 512}}},
		Outputs: []ValueInfo{{Name: "output", ElemType: Float, Dims: []int64{1, 512}}},
	}
	return g.Marshal(), nil
}

// WriteStandinSwapper writes StandinSwapper(name, seed) to path atomically.
func WriteStandinSwapper(path, name string, seed int64) error {
	b, err := StandinSwapper(name, seed)
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}

// WriteStandinConverter writes StandinConverter(name, seed) to path atomically.
func WriteStandinConverter(path, name string, seed int64) error {
	b, err := StandinConverter(name, seed)
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}
