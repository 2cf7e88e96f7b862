package onnxgen

import (
	"fmt"
	"math"
)

// ghost is GHOST's AEI-Net generator (the FaceShifter design as the GHOST project
// released it) with the U-Net attribute encoder and blocks AAD blocks per AAD
// residual block: FaceFusion's ghost_1_256, ghost_2_256 and ghost_3_256 are the
// project's three released U-Net generators with 1, 2 and 3 blocks (2 is the
// project's main model). The identity is the converted 512-d embedding
// (crossface_ghost), the official "source"; the target is in [-1,1] and so is the
// output, after a tanh. Per level, for a 256×256 target:
//
//	encoder   seven 4×4 stride-2 convs 3→32→64→128→256→512→1024→1024, each with
//	          its (folded) batch norm and LeakyReLU 0.1: features at 128…2 px;
//	          the 1024×2×2 result is the first attribute map
//	decoder   six 4×4 stride-2 transposed convs 1024→1024, 2048→512, 1024→256,
//	          512→128, 256→64, 128→32 (batch norm folded, LeakyReLU 0.1), each
//	          output concatenated with the encoder feature of its size: attribute
//	          maps 2048×4, 1024×8, 512×16, 256×32, 128×64, 64×128, and a bilinear
//	          ×2 (corners aligned) of the last, 64×256
//	identity  a 2×2 transposed conv 512→1024 of the embedding as a 1×1 map
//	generator eight AAD residual blocks, one per attribute map, at 2, 4, …, 256 px
//	          (1024→1024 at 2, 4, 8; then 1024→512, 512→256, 256→128, 128→64 and
//	          64→3), each followed by a bilinear ×2 (corners aligned) but the last;
//	          tanh
//
// An AAD residual block cin→cout is blocks × (AAD layer, ReLU, 3×3 conv), the
// last conv to cout, plus, when cin ≠ cout, a shortcut of one more (AAD, ReLU,
// 3×3 conv cin→cout) over its input. An AAD layer normalises its input h
// (instance norm, no affine), computes A = γa·h + βa with γa, βa two 1×1 convs of
// the attribute map, I = γi·h + βi with γi, βi two Linears of the embedding, a
// mask M = sigmoid(1×1 conv c→1 of the normalised h), and returns (1−M)·A + M·I.
//
// The built graphs count 16.3, 31.0 and 45.7 GMAC per face for 1, 2 and 3 blocks
// (FaithfulSwapperMACs, div 1): the 3×3 convs of the 16…256 px levels dominate,
// 2.4 GMAC for each cin→cin conv there, so each extra block adds 14.7 GMAC. The
// encoder and its decoder are 2.2 GMAC.
// MACs of a transposed conv are counted per input pixel (in²·cin·cout·k²).
//
// div divides every hidden channel count (never below 1); the image's 3 channels
// and the embedding's 512 stay.
func (b *netBuilder) ghost(div, blocks int) {
	const size = 256
	c := func(n int) int { return max(n/div, 1) }

	// Attribute encoder (U-Net).
	enc := []int{32, 64, 128, 256, 512, 1024, 1024}
	x, side := "target", size
	cin := 3
	var feats []string
	for _, ch := range enc {
		x, side = b.conv(x, cin, c(ch), 4, 2, 1, side)
		x = b.leakyBy(x, 0.1)
		feats = append(feats, x)
		cin = c(ch)
	}
	attrs := []string{x}                      // 1024×2×2
	attrCh := []int{c(1024)}                  // channels of each attribute map
	dec := []int{1024, 512, 256, 128, 64, 32} // transposed conv outputs
	for i, ch := range dec {
		skip := feats[len(feats)-2-i]
		y, next := b.convTranspose(x, cin, c(ch), 4, 2, 1, side)
		y = b.leakyBy(y, 0.1)
		x = b.node("Concat", []string{y, skip}, []Attr{{Name: "axis", Type: AttrInt, I: 1}})
		cin, side = c(ch)+c(enc[len(enc)-2-i]), next
		attrs = append(attrs, x)
		attrCh = append(attrCh, cin)
	}
	last, _ := b.upsampleAligned(x, side)
	attrs = append(attrs, last)
	attrCh = append(attrCh, cin)

	// Identity: the embedding as a 512×1×1 map, a 2×2 transposed conv to 1024×2×2.
	shape := b.name("shape")
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: shape, Dims: []int64{4}, Int64: []int64{1, 512, 1, 1}})
	h, side := b.convTranspose(b.node("Reshape", []string{"source", shape}, nil), 512, c(1024), 2, 1, 0, 1)

	// AAD generator.
	outs := []int{c(1024), c(1024), c(1024), c(512), c(256), c(128), c(64), 3}
	hc := c(1024)
	for i, cout := range outs {
		h = b.aadResBlock(h, attrs[i], hc, cout, attrCh[i], side, blocks)
		hc = cout
		if i < len(outs)-1 {
			h, side = b.upsampleAligned(h, side)
		}
	}
	b.g.Nodes = append(b.g.Nodes, Node{Name: "output", Op: "Tanh", Inputs: []string{h}, Outputs: []string{"output"}})

	b.g.Name = fmt.Sprintf("ghost_%d_256_faithful_standin", blocks)
	b.g.Inputs = []ValueInfo{
		{Name: "target", ElemType: Float, Dims: []int64{1, 3, size, size}},
		{Name: "source", ElemType: Float, Dims: []int64{1, 512}},
	}
	b.g.Outputs = []ValueInfo{{Name: "output", ElemType: Float, Dims: []int64{1, 3, size, size}}}
}

// aadResBlock is GHOST's AAD residual block over h (cin channels, side×side),
// driven by the attribute map attr (cattr channels, same size) and the source
// embedding.
func (b *netBuilder) aadResBlock(h, attr string, cin, cout, cattr, side, blocks int) string {
	x := h
	for i := range blocks {
		out := cin
		if i == blocks-1 {
			out = cout
		}
		x = b.node("Relu", []string{b.aadLayer(x, attr, cin, cattr, side)}, nil)
		x, _ = b.conv(x, cin, out, 3, 1, 1, side)
	}
	if cin != cout {
		h = b.node("Relu", []string{b.aadLayer(h, attr, cin, cattr, side)}, nil)
		h, _ = b.conv(h, cin, cout, 3, 1, 1, side)
	}
	return b.node("Add", []string{x, h}, nil)
}

// aadLayer is adaptive attentional denormalisation: h normalised (instance norm
// without affine), A = γa·h + βa from two 1×1 convs of the attributes, I = γi·h +
// βi from two Linears of the source, M = sigmoid(1×1 conv of the normalised h),
// and (1−M)·A + M·I.
func (b *netBuilder) aadLayer(h, attr string, ch, cattr, side int) string {
	norm := b.node("InstanceNormalization", []string{h, b.constant("ones", []int64{int64(ch)}, 1), b.constant("zeros", []int64{int64(ch)}, 0)},
		[]Attr{{Name: "epsilon", Type: AttrFloat, F: 1e-5}})
	gammaA, _ := b.conv(attr, cattr, ch, 1, 1, 0, side)
	betaA, _ := b.conv(attr, cattr, ch, 1, 1, 0, side)
	a := b.node("Add", []string{b.node("Mul", []string{gammaA, norm}, nil), betaA}, nil)
	shape := b.name("shape")
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: shape, Dims: []int64{4}, Int64: []int64{1, int64(ch), 1, 1}})
	gammaI := b.node("Reshape", []string{b.gemm("source", 512, ch), shape}, nil)
	betaI := b.node("Reshape", []string{b.gemm("source", 512, ch), shape}, nil)
	id := b.node("Add", []string{b.node("Mul", []string{gammaI, norm}, nil), betaI}, nil)
	m, _ := b.conv(norm, ch, 1, 1, 1, 0, side)
	m = b.node("Sigmoid", []string{m}, nil)
	keep := b.node("Sub", []string{b.scalar(1), m}, nil)
	return b.node("Add", []string{b.node("Mul", []string{keep, a}, nil), b.node("Mul", []string{m, id}, nil)}, nil)
}

// convTranspose is a k×k transposed convolution with bias over a side×side
// input (ONNX weight layout [cin, cout, k, k]); it returns the output and its
// side. Each input pixel scatters cin·cout·k² multiply-accumulates. The weights
// are He-scaled over the taps that reach one output, cin·(k/stride)².
func (b *netBuilder) convTranspose(x string, cin, cout, k, stride, pad, side int) (string, int) {
	out := (side-1)*stride - 2*pad + k
	fanIn := cin * k * k / (stride * stride)
	w := b.init("W", []int64{int64(cin), int64(cout), int64(k), int64(k)}, b.uniform(cin*cout*k*k, math.Sqrt(2/float64(fanIn))))
	bias := b.init("B", []int64{int64(cout)}, b.uniform(cout, 0.01))
	b.macs += int64(side) * int64(side) * int64(cin) * int64(cout) * int64(k*k)
	p := int64(pad)
	return b.node("ConvTranspose", []string{x, w, bias}, []Attr{
		{Name: "kernel_shape", Type: AttrInts, Ints: []int64{int64(k), int64(k)}},
		{Name: "strides", Type: AttrInts, Ints: []int64{int64(stride), int64(stride)}},
		{Name: "pads", Type: AttrInts, Ints: []int64{p, p, p, p}},
	}), out
}

// leakyBy is a LeakyReLU of slope alpha.
func (b *netBuilder) leakyBy(x string, alpha float32) string {
	return b.node("LeakyRelu", []string{x}, []Attr{{Name: "alpha", Type: AttrFloat, F: alpha}})
}

// upsampleAligned doubles the spatial size, bilinear with the corners aligned
// (PyTorch's interpolate(scale_factor=2, mode="bilinear", align_corners=True)).
func (b *netBuilder) upsampleAligned(x string, side int) (string, int) {
	scales := b.name("scales")
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: scales, Dims: []int64{4}, Float: []float32{1, 1, 2, 2}})
	return b.node("Resize", []string{x, "", scales}, []Attr{
		{Name: "mode", Type: AttrString, S: "linear"},
		{Name: "coordinate_transformation_mode", Type: AttrString, S: "align_corners"},
	}), 2 * side
}
