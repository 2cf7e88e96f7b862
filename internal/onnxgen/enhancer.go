package onnxgen

import "fmt"

// Face enhancer names, FaceFusion's model names (and file names without .onnx).
const (
	EnhancerGFPGAN12        = "gfpgan_1.2"
	EnhancerGFPGAN13        = "gfpgan_1.3"
	EnhancerGFPGAN14        = "gfpgan_1.4"
	EnhancerCodeFormer      = "codeformer"
	EnhancerGPEN256         = "gpen_bfr_256"
	EnhancerGPEN512         = "gpen_bfr_512"
	EnhancerGPEN1024        = "gpen_bfr_1024"
	EnhancerGPEN2048        = "gpen_bfr_2048"
	EnhancerRestoreFormerPP = "restoreformer_plus_plus"
)

// EnhancerModels lists every enhancer Enhancer can write.
var EnhancerModels = []string{EnhancerGFPGAN12, EnhancerGFPGAN13, EnhancerGFPGAN14, EnhancerCodeFormer,
	EnhancerGPEN256, EnhancerGPEN512, EnhancerGPEN1024, EnhancerGPEN2048, EnhancerRestoreFormerPP}

// EnhancerSize returns the crop side of a known enhancer: 256, 1024 and 2048 for
// the GPEN-BFR models of those sizes, 512 for the others; 0 for an unknown name.
func EnhancerSize(name string) int {
	switch name {
	case EnhancerGPEN256:
		return 256
	case EnhancerGPEN1024:
		return 1024
	case EnhancerGPEN2048:
		return 2048
	case EnhancerGFPGAN12, EnhancerGFPGAN13, EnhancerGFPGAN14, EnhancerCodeFormer, EnhancerGPEN512, EnhancerRestoreFormerPP:
		return 512
	}
	return 0
}

// Enhancer returns a stand-in for FaceFusion's face enhancer model name with its
// exact signature:
//
//	input  "input"  float32 [1,3,S,S]  RGB, (x/255 − 0.5)/0.5
//	weight "weight" float64 [1]        CodeFormer only: fidelity weight
//	output "output" float32 [1,3,S,S]  RGB in [−1,1]
//
// where S is EnhancerSize(name). The network is a fixed 3×3 box blur per channel
// followed by a contrast stretch, clipped to the model's range:
//
//	output = clip(gain·blur3x3(input) + 0.05, −1, 1)
//
// with gain 1.6, or for CodeFormer 1.3 + 0.6·weight, so the output depends
// visibly on the input (and on CodeFormer's weight) the way a restorer's would:
// a face comes back sharper-looking in contrast and softer in detail.
func Enhancer(name string) ([]byte, error) {
	size := EnhancerSize(name)
	if size == 0 {
		return nil, fmt.Errorf("onnxgen: unknown enhancer %q", name)
	}
	blur := make([]float32, 3*9)
	for i := range blur {
		blur[i] = 1.0 / 9
	}
	g := Graph{
		Name: name + "_standin",
		Nodes: []Node{
			{Name: "blur", Op: "Conv", Inputs: []string{"input", "blur_w"}, Outputs: []string{"blurred"}, Attrs: []Attr{
				{Name: "group", Type: AttrInt, I: 3},
				{Name: "kernel_shape", Type: AttrInts, Ints: []int64{3, 3}},
				{Name: "pads", Type: AttrInts, Ints: []int64{1, 1, 1, 1}},
			}},
		},
		Initializers: []Tensor{
			{Name: "blur_w", Dims: []int64{3, 1, 3, 3}, Float: blur},
			{Name: "bias", Float: []float32{0.05}},
			{Name: "lo", Float: []float32{-1}},
			{Name: "hi", Float: []float32{1}},
		},
		Inputs: []ValueInfo{
			{Name: "input", ElemType: Float, Dims: []int64{1, 3, int64(size), int64(size)}},
		},
		Outputs: []ValueInfo{
			{Name: "output", ElemType: Float, Dims: []int64{1, 3, int64(size), int64(size)}},
		},
	}
	if name == EnhancerCodeFormer {
		g.Inputs = append(g.Inputs, ValueInfo{Name: "weight", ElemType: Double, Dims: []int64{1}})
		g.Nodes = append(g.Nodes,
			Node{Name: "wf", Op: "Cast", Inputs: []string{"weight"}, Outputs: []string{"wf"},
				Attrs: []Attr{{Name: "to", Type: AttrInt, I: Float}}},
			Node{Name: "wscale", Op: "Mul", Inputs: []string{"wf", "w_gain"}, Outputs: []string{"wscaled"}},
			Node{Name: "gain", Op: "Add", Inputs: []string{"wscaled", "base_gain"}, Outputs: []string{"gain"}},
		)
		g.Initializers = append(g.Initializers,
			Tensor{Name: "w_gain", Float: []float32{0.6}},
			Tensor{Name: "base_gain", Float: []float32{1.3}},
		)
	} else {
		g.Initializers = append(g.Initializers, Tensor{Name: "gain", Float: []float32{1.6}})
	}
	g.Nodes = append(g.Nodes,
		Node{Name: "stretch", Op: "Mul", Inputs: []string{"blurred", "gain"}, Outputs: []string{"stretched"}},
		Node{Name: "shift", Op: "Add", Inputs: []string{"stretched", "bias"}, Outputs: []string{"shifted"}},
		Node{Name: "clip", Op: "Clip", Inputs: []string{"shifted", "lo", "hi"}, Outputs: []string{"output"}},
	)
	return g.Marshal(), nil
}

// WriteEnhancer writes Enhancer(name) to path atomically.
func WriteEnhancer(path, name string) error {
	b, err := Enhancer(name)
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}
