package onnxgen

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Stand-ins for the identity-similarity report: two inswapper_128 look-alikes
// (Swapper's exact signature, emap as the last initializer) that bracket what a
// swap can do to the identity of a face.

// SwapperCropSize is the crop side of the similarity stand-ins (inswapper_128's).
const SwapperCropSize = 128

// SwapperIdentity returns a stand-in that swaps nothing: output = target, the
// aligned crop it was given (the source latent is read and ignored). A swap
// through it keeps the target's identity.
func SwapperIdentity(seed int64) []byte {
	g := similarityGraph("inswapper_128_identity_standin", seed)
	g.Nodes = []Node{
		{Name: "keep", Op: "Identity", Inputs: []string{"target"}, Outputs: []string{"output"}},
	}
	return g.Marshal()
}

// SwapperConstant returns a stand-in whose output is always face, a
// 3×128×128 planar RGB crop in [0,1] (the layout of the model's output) baked in
// as a constant: output = target·0 + face. Given the source face's own crop,
// aligned to inswapper's template at 128 px, a swap through it puts the source's
// face in the target: the most a swap can move the identity toward the source.
func SwapperConstant(seed int64, face []float32) ([]byte, error) {
	n := 3 * SwapperCropSize * SwapperCropSize
	if len(face) != n {
		return nil, fmt.Errorf("onnxgen: constant face has %d values, want %d", len(face), n)
	}
	g := similarityGraph("inswapper_128_constant_standin", seed)
	g.Nodes = []Node{
		{Name: "zero", Op: "Mul", Inputs: []string{"target", "zero"}, Outputs: []string{"zeroed"}},
		{Name: "face", Op: "Add", Inputs: []string{"zeroed", "face"}, Outputs: []string{"output"}},
	}
	emap := g.Initializers[len(g.Initializers)-1]
	g.Initializers = []Tensor{
		{Name: "zero", Float: []float32{0}},
		{Name: "face", Dims: []int64{1, 3, SwapperCropSize, SwapperCropSize}, Float: append([]float32(nil), face...)},
		emap, // must stay last
	}
	return g.Marshal(), nil
}

// WriteSwapperIdentity writes SwapperIdentity(seed) to path atomically.
func WriteSwapperIdentity(path string, seed int64) error {
	return writeAtomic(path, SwapperIdentity(seed))
}

// WriteSwapperConstant writes SwapperConstant(seed, face) to path atomically.
func WriteSwapperConstant(path string, seed int64, face []float32) error {
	b, err := SwapperConstant(seed, face)
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}

// similarityGraph is the inswapper_128 signature with a seeded emap as its only
// (last) initializer; the caller adds the nodes.
func similarityGraph(name string, seed int64) Graph {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x51_0001))
	emap := make([]float32, 512*512)
	scale := 1 / math.Sqrt(512)
	for i := range emap {
		emap[i] = float32(rng.NormFloat64() * scale)
	}
	return Graph{
		Name:         name,
		Initializers: []Tensor{{Name: "emap", Dims: []int64{512, 512}, Float: emap}},
		Inputs: []ValueInfo{
			{Name: "target", ElemType: Float, Dims: []int64{1, 3, SwapperCropSize, SwapperCropSize}},
			{Name: "source", ElemType: Float, Dims: []int64{1, 512}},
		},
		Outputs: []ValueInfo{
			{Name: "output", ElemType: Float, Dims: []int64{1, 3, SwapperCropSize, SwapperCropSize}},
		},
	}
}
