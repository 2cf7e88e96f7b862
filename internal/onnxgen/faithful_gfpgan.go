package onnxgen

import (
	"encoding/binary"
	"fmt"
	"math"
)

// FaithfulEnhancers are the enhancers FaithfulEnhancer can build.
var FaithfulEnhancers = []string{EnhancerGFPGAN12, EnhancerGFPGAN13, EnhancerGFPGAN14}

// FaithfulEnhancer returns a stand-in for the GFPGAN enhancer name (1.2, 1.3, 1.4:
// all GFPGANv1Clean at 512 px) that costs what the real model costs: its layers
// with random weights and the official signature (input "input" [1,3,512,512] →
// output "output" [1,3,512,512]). The layers follow GFPGAN's gfpganv1_clean_arch
// with FaceFusion's configuration of the released files (channel multiplier 2, a
// latent per layer, SFT on half the channels, latents given directly, no style MLP):
//
//	U-Net      1×1 conv 3→32, seven residual down blocks (3×3 convs, bilinear ½,
//	           1×1 skip) to 256×4×4, a 3×3 conv, a Linear to 16 latents of 512;
//	           seven residual up blocks back to 32×512×512, each level with two
//	           two-conv branches (the SFT scale and shift)
//	StyleGAN2  a 512×4×4 constant, then per level 8…512: bilinear ×2, modulated
//	           3×3 conv, SFT on half the channels, modulated 3×3 conv, modulated
//	           1×1 to-RGB added to the upsampled previous RGB
//
// Modulated convolutions are written in their equivalent form: the input scaled
// per channel by the layer's style, the convolution, the output scaled per
// channel by the demodulation factor computed from the weights and the style;
// the cost is the convolution's. Noise injection is left out (an addition).
// macs counts the Conv, Gemm and MatMul multiply-accumulates. div divides every
// channel count (it must divide 32), for tests.
func FaithfulEnhancer(name string, seed int64, div int) (model []byte, macs int64, err error) {
	b, err := buildFaithfulEnhancer(name, seed, div, false)
	if err != nil {
		return nil, 0, err
	}
	return b.g.Marshal(), b.macs, nil
}

// FaithfulEnhancerMACs is the multiply-accumulate count of FaithfulEnhancer(name,
// _, div), without generating its weights.
func FaithfulEnhancerMACs(name string, div int) (int64, error) {
	b, err := buildFaithfulEnhancer(name, 0, div, true)
	if err != nil {
		return 0, err
	}
	return b.macs, nil
}

// WriteFaithfulEnhancer writes FaithfulEnhancer(name, seed, div) to path atomically.
func WriteFaithfulEnhancer(path, name string, seed int64, div int) error {
	m, _, err := FaithfulEnhancer(name, seed, div)
	if err != nil {
		return err
	}
	return writeAtomic(path, m)
}

func buildFaithfulEnhancer(name string, seed int64, div int, dry bool) (*netBuilder, error) {
	switch name {
	case EnhancerGFPGAN12, EnhancerGFPGAN13, EnhancerGFPGAN14:
	default:
		return nil, fmt.Errorf("onnxgen: no FLOP-faithful stand-in for enhancer %q (have %v)", name, FaithfulEnhancers)
	}
	if div < 1 || 32%div != 0 {
		return nil, fmt.Errorf("onnxgen: channel divisor %d must divide 32", div)
	}
	b := newNetBuilder(seed, dry)
	b.gfpgan(div)
	b.g.Name = name + "_faithful_standin"
	return b, nil
}

func (b *netBuilder) gfpgan(div int) {
	const size, levels, latents = 512, 7, 16
	// Channels per resolution: the StyleGAN2 decoder's (channel multiplier 2) and
	// the U-Net's (half of them).
	dec := map[int]int{4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64}
	unet := func(r int) int { return dec[r] / 2 / div }
	ch := func(r int) int { return dec[r] / div }

	// U-Net encoder.
	x, side := b.conv("input", 3, unet(size), 1, 1, 0, size)
	x = b.leaky(x)
	var skips []string
	for r := size; r > 4; r /= 2 {
		x, side = b.resBlock(x, unet(r), unet(r/2), side, false)
		skips = append([]string{x}, skips...)
	}
	x, _ = b.conv(x, unet(4), unet(4), 3, 1, 1, side)
	x = b.leaky(x)
	flat := b.node("Flatten", []string{x}, []Attr{{Name: "axis", Type: AttrInt, I: 1}})
	style := b.gemm(flat, unet(4)*16, latents*512)

	// U-Net decoder: the SFT conditions of each level.
	var conds []string
	for i := range levels {
		r := 8 << i
		x = b.node("Add", []string{x, skips[i]}, nil)
		x, side = b.resBlock(x, unet(r/2), unet(r), side, true)
		for range 2 { // scale, then shift
			c, _ := b.conv(x, unet(r), unet(r), 3, 1, 1, side)
			c, _ = b.conv(b.leaky(c), unet(r), unet(r), 3, 1, 1, side)
			conds = append(conds, c)
		}
	}

	// StyleGAN2 decoder.
	latent := func(i int) string {
		starts, ends, axes := b.name("starts"), b.name("ends"), b.name("axes")
		b.g.Initializers = append(b.g.Initializers,
			Tensor{Name: starts, Dims: []int64{1}, Int64: []int64{int64(512 * i)}},
			Tensor{Name: ends, Dims: []int64{1}, Int64: []int64{int64(512 * (i + 1))}},
			Tensor{Name: axes, Dims: []int64{1}, Int64: []int64{1}})
		return b.node("Slice", []string{style, starts, ends, axes}, nil)
	}
	out := b.init("const_input", []int64{1, int64(ch(4)), 4, 4}, b.uniform(ch(4)*16, 1))
	side = 4
	out = b.leaky(b.modConv(out, latent(0), ch(4), ch(4), 3, side, true))
	rgb := b.modConv(out, latent(1), ch(4), 3, 1, side, false)
	for i := range levels {
		r := 8 << i
		l := 1 + 2*i
		out, side = b.upsample(out, side)
		out = b.leaky(b.modConv(out, latent(l), ch(r/2), ch(r), 3, side, true))
		// SFT on the second half of the channels.
		split := b.name("split")
		half := int64(ch(r) / 2)
		b.g.Initializers = append(b.g.Initializers, Tensor{Name: split, Dims: []int64{2}, Int64: []int64{half, half}})
		same, sft := b.name("same"), b.name("sft")
		b.g.Nodes = append(b.g.Nodes, Node{Name: same + "_split", Op: "Split", Inputs: []string{out, split}, Outputs: []string{same, sft},
			Attrs: []Attr{{Name: "axis", Type: AttrInt, I: 1}}})
		sft = b.node("Add", []string{b.node("Mul", []string{sft, conds[2*i]}, nil), conds[2*i+1]}, nil)
		out = b.node("Concat", []string{same, sft}, []Attr{{Name: "axis", Type: AttrInt, I: 1}})
		out = b.leaky(b.modConv(out, latent(l+1), ch(r), ch(r), 3, side, true))
		up, _ := b.upsample(rgb, side/2)
		rgb = b.node("Add", []string{b.modConv(out, latent(l+2), ch(r), 3, 1, side, false), up}, nil)
	}
	b.g.Nodes = append(b.g.Nodes, Node{Name: "output", Op: "Identity", Inputs: []string{rgb}, Outputs: []string{"output"}})
	b.g.Inputs = []ValueInfo{{Name: "input", ElemType: Float, Dims: []int64{1, 3, size, size}}}
	b.g.Outputs = []ValueInfo{{Name: "output", ElemType: Float, Dims: []int64{1, 3, size, size}}}
}

// resBlock is GFPGAN's residual block: 3×3 conv, LeakyReLU, bilinear resize (½ or
// ×2), 3×3 conv, LeakyReLU, plus the resized input through a 1×1 conv.
func (b *netBuilder) resBlock(x string, cin, cout, side int, up bool) (string, int) {
	resize := func(v string) (string, int) {
		if up {
			return b.upsample(v, side)
		}
		return b.downsample(v, side)
	}
	y, _ := b.conv(x, cin, cin, 3, 1, 1, side)
	y, next := resize(b.leaky(y))
	y, _ = b.conv(y, cin, cout, 3, 1, 1, next)
	y = b.leaky(y)
	s, _ := resize(x)
	s, _ = b.conv(s, cin, cout, 1, 1, 0, next)
	return b.node("Add", []string{y, s}, nil), next
}

// downsample halves the spatial size, bilinear with half-pixel centres.
func (b *netBuilder) downsample(x string, side int) (string, int) {
	scales := b.name("scales")
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: scales, Dims: []int64{4}, Float: []float32{1, 1, 0.5, 0.5}})
	return b.node("Resize", []string{x, "", scales}, []Attr{
		{Name: "mode", Type: AttrString, S: "linear"},
		{Name: "coordinate_transformation_mode", Type: AttrString, S: "half_pixel"},
	}), side / 2
}

// gemm is a Linear layer [1,in] → [1,out].
func (b *netBuilder) gemm(x string, in, out int) string {
	w := b.init("W", []int64{int64(in), int64(out)}, b.uniform(in*out, 1/math.Sqrt(float64(in))))
	bias := b.init("B", []int64{int64(out)}, b.uniform(out, 0.01))
	b.macs += int64(in) * int64(out)
	return b.node("Gemm", []string{x, w, bias}, nil)
}

// modConv is StyleGAN2's modulated convolution (k×k, cin→cout, same size) driven
// by a latent [1,512], in its equivalent form: s = latent·A + 1 scales the input
// channels, the convolution runs, and with demod each output channel is scaled by
// 1/√(Σ_in,k (W·s)² + 1e-8) = 1/√(s²·Σ_k W² + 1e-8).
func (b *netBuilder) modConv(x, latent string, cin, cout, k, side int, demod bool) string {
	s := b.gemm(latent, 512, cin)
	s = b.node("Add", []string{s, b.scalar(1)}, nil)
	shape := b.name("shape")
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: shape, Dims: []int64{4}, Int64: []int64{1, int64(cin), 1, 1}})
	x = b.node("Mul", []string{x, b.node("Reshape", []string{s, shape}, nil)}, nil)
	fanIn := cin * k * k
	raw := b.uniform(cout*fanIn, math.Sqrt(2/float64(fanIn)))
	w := b.init("W", []int64{int64(cout), int64(cin), int64(k), int64(k)}, raw)
	bias := b.init("B", []int64{int64(cout)}, b.uniform(cout, 0.01))
	b.macs += int64(side) * int64(side) * int64(cout) * int64(fanIn)
	p := int64(k / 2)
	y := b.node("Conv", []string{x, w, bias}, []Attr{
		{Name: "kernel_shape", Type: AttrInts, Ints: []int64{int64(k), int64(k)}},
		{Name: "pads", Type: AttrInts, Ints: []int64{p, p, p, p}},
	})
	if !demod {
		return y
	}
	// Σ_k W² per (in, out), as an [in, out] matrix for s² · it.
	var wsq []byte
	if !b.dry {
		wsq = make([]byte, 4*cin*cout)
		for o := range cout {
			for i := range cin {
				var sum float32
				for j := range k * k {
					v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*((o*cin+i)*k*k+j):]))
					sum += v * v
				}
				binary.LittleEndian.PutUint32(wsq[4*(i*cout+o):], math.Float32bits(sum))
			}
		}
	}
	wsqName := b.init("Wsq", []int64{int64(cin), int64(cout)}, wsq)
	b.macs += int64(cin) * int64(cout)
	s2 := b.node("Mul", []string{s, s}, nil)
	m := b.node("Add", []string{b.node("MatMul", []string{s2, wsqName}, nil), b.scalar(1e-8)}, nil)
	d := b.node("Reciprocal", []string{b.node("Sqrt", []string{m}, nil)}, nil)
	dshape := b.name("shape")
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: dshape, Dims: []int64{4}, Int64: []int64{1, int64(cout), 1, 1}})
	return b.node("Mul", []string{y, b.node("Reshape", []string{d, dshape}, nil)}, nil)
}
