package onnxgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// SwapperFile is the file name WriteSwapper's command-line wrapper uses, the same
// name as the real model so configuration does not change between test and prod.
const SwapperFile = "inswapper_128.onnx"

// Swapper returns a stand-in for inswapper_128.onnx with exactly its signature:
//
//	inputs  target float32 [1,3,128,128]  (RGB crop in [0,1])
//	        source float32 [1,512]        (latent = normalised embedding · emap)
//	output  output float32 [1,3,128,128]  (RGB in [0,1])
//
// and a 512x512 float32 initializer named "emap" as the graph's last initializer,
// where real loaders look for it. The network is
//
//	style  = tanh(source · W)                      W: [512,3], per-channel colour shift
//	output = clip(0.8 − 0.5·target + 0.35·style, 0, 1)
//
// so every pixel of the crop changes visibly (a partial inversion) and two
// different source latents shift the colours differently. emap and W are drawn
// from a PCG generator seeded with seed, so a given seed always gives the same file.
func Swapper(seed int64) []byte { return swapper(seed, false) }

// SwapperDynamicFile is the file name of the dynamic-batch stand-in.
const SwapperDynamicFile = "inswapper_128_batch.onnx"

// SwapperDynamic is Swapper(seed) with a symbolic batch dimension "N" on target,
// source and output ([N,3,128,128], [N,512]), so several faces can be swapped in
// one Run. Sample i of a batch gives exactly what Swapper(seed) gives for it alone.
// The real inswapper_128 has a fixed batch of 1; this variant exercises swapd's
// batched path.
func SwapperDynamic(seed int64) []byte { return swapper(seed, true) }

func swapper(seed int64, dynamic bool) []byte {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_5a9d))
	w := make([]float32, 512*3)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	emap := make([]float32, 512*512)
	scale := 1 / math.Sqrt(512)
	for i := range emap {
		emap[i] = float32(rng.NormFloat64() * scale)
	}
	g := Graph{
		Name: "inswapper_128_standin",
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
			{Name: "target_gain", Float: []float32{-0.5}},
			{Name: "bias", Float: []float32{0.8}},
			{Name: "style_gain", Float: []float32{0.35}},
			{Name: "clip_min", Float: []float32{0}},
			{Name: "clip_max", Float: []float32{1}},
			{Name: "emap", Dims: []int64{512, 512}, Float: emap}, // must stay last
		},
		Inputs: []ValueInfo{
			{Name: "target", ElemType: Float, Dims: []int64{1, 3, 128, 128}},
			{Name: "source", ElemType: Float, Dims: []int64{1, 512}},
		},
		Outputs: []ValueInfo{
			{Name: "output", ElemType: Float, Dims: []int64{1, 3, 128, 128}},
		},
	}
	if dynamic {
		g.Name = "inswapper_128_batch_standin"
		for _, vs := range [][]ValueInfo{g.Inputs, g.Outputs} {
			for i := range vs {
				vs[i].Dims = append([]int64(nil), vs[i].Dims...)
				vs[i].Dims[0] = -1
			}
		}
	}
	return g.Marshal()
}

// WriteSwapperDynamic writes SwapperDynamic(seed) to path atomically.
func WriteSwapperDynamic(path string, seed int64) error {
	return writeAtomic(path, SwapperDynamic(seed))
}

// WriteSwapper writes Swapper(seed) to path atomically (temporary file + rename),
// so a concurrent reader never sees half a model.
func WriteSwapper(path string, seed int64) error {
	return writeAtomic(path, Swapper(seed))
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".onnxgen-*")
	if err != nil {
		return fmt.Errorf("onnxgen: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("onnxgen: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("onnxgen: write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("onnxgen: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("onnxgen: %w", err)
	}
	return nil
}
