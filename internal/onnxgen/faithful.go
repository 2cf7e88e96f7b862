package onnxgen

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
)

// FaithfulSwappers are the swappers FaithfulSwapper can build: those whose
// architecture is public. (hyperswap's is not.)
var FaithfulSwappers = []string{swapperInswapper128, SwapperSimswap256, SwapperSimswap512, SwapperGhost1, SwapperGhost2, SwapperGhost3}

// FaithfulSwapper returns a stand-in for swapper name that costs what the real
// model costs: the real architecture's layers, random weights, and exactly the
// official file's signature. The cheap stand-ins (Swapper, StandinSwapper) cost
// almost nothing, so benchmarks made with them measure swapd's work around the
// model; these make the model's share real.
//
// inswapper_128 follows its public re-implementation (ReSwapper's
// StyleTransferModel_128), about 175 GMAC per face and 530 MB, with the 512×512
// emap as the last initializer:
//
//	encoder  7×7 conv 3→128 (reflect pad), 3×3 conv 128→256, 3×3 stride-2 convs
//	         256→512 and 512→1024, LeakyReLU 0.2 after each         → 1024×32×32
//	style    6 residual blocks of two 3×3 convs 1024→1024, each followed by
//	         AdaIN (instance norm, then γ·x+β from a Linear of the source), ReLU
//	         after the first
//	decoder  bilinear ×2, 3×3 conv 1024→512, bilinear ×2, 3×3 convs 512→256 and
//	         256→128, 7×7 conv 128→3 (reflect pad), tanh, (x+1)/2
//
// simswap_256 and simswap_unofficial_512 follow SimSwap's Generator_Adain_Upsample
// (fs_networks_fix.py; 9 AdaIN residual blocks of 512 channels at 32×32; the 512
// model is the "deep" variant with a fourth down- and up-sampling), about 63 and
// 133 GMAC. Batch norms are left out: at inference they fold into the convolution
// before them and cost nothing.
//
// ghost_1_256, ghost_2_256 and ghost_3_256 follow GHOST's AEI-Net (U-Net attribute
// encoder, AAD generator with 1, 2 and 3 AAD blocks per residual block; see ghost
// in faithful_ghost.go), about 16.3, 31.0 and 45.7 GMAC.
//
// macs counts the Conv, ConvTranspose and Gemm multiply-accumulates. Generate the
// full models (div 1) on demand into a cache, never into the repository. div
// divides every hidden channel count: a larger div keeps the topology and
// signature at a fraction of the size, for tests. Weights are drawn uniformly with He scaling
// from a PCG generator seeded with seed.
func FaithfulSwapper(name string, seed int64, div int) (model []byte, macs int64, err error) {
	b, err := buildFaithful(name, seed, div, false)
	if err != nil {
		return nil, 0, err
	}
	return b.g.Marshal(), b.macs, nil
}

// FaithfulSwapperMACs is the multiply-accumulate count of FaithfulSwapper(name, _,
// div), without generating its weights.
func FaithfulSwapperMACs(name string, div int) (int64, error) {
	b, err := buildFaithful(name, 0, div, true)
	if err != nil {
		return 0, err
	}
	return b.macs, nil
}

// WriteFaithfulSwapper writes FaithfulSwapper(name, seed, div) to path atomically.
func WriteFaithfulSwapper(path, name string, seed int64, div int) error {
	m, _, err := FaithfulSwapper(name, seed, div)
	if err != nil {
		return err
	}
	return writeAtomic(path, m)
}

func buildFaithful(name string, seed int64, div int, dry bool) (*netBuilder, error) {
	if div < 1 || 64%div != 0 {
		return nil, fmt.Errorf("onnxgen: channel divisor %d must divide 64", div)
	}
	b := newNetBuilder(seed, dry)
	switch name {
	case swapperInswapper128:
		b.inswapper(div)
	case SwapperSimswap256:
		b.simswap(div, 256, false)
	case SwapperSimswap512:
		b.simswap(div, 512, true)
	case SwapperGhost1:
		b.ghost(div, 1)
	case SwapperGhost2:
		b.ghost(div, 2)
	case SwapperGhost3:
		b.ghost(div, 3)
	default:
		return nil, fmt.Errorf("onnxgen: no FLOP-faithful stand-in for swapper %q (have %v)", name, FaithfulSwappers)
	}
	return b, nil
}

// simswap is SimSwap's Generator_Adain_Upsample at size, deep for the 512 model.
func (b *netBuilder) simswap(div, size int, deep bool) {
	c := func(n int) int { return n / div }
	x, side := b.reflectPad("target", 3), size
	x, side = b.conv(x, 3, c(64), 7, 1, 0, side+6)
	x = b.node("Relu", []string{x}, nil)
	chans := []int{64, 128, 256, 512}
	for i := 1; i < len(chans); i++ {
		x, side = b.conv(x, c(chans[i-1]), c(chans[i]), 3, 2, 1, side)
		x = b.node("Relu", []string{x}, nil)
	}
	if deep {
		x, side = b.conv(x, c(512), c(512), 3, 2, 1, side)
		x = b.node("Relu", []string{x}, nil)
	}
	for range 9 {
		y, _ := b.conv(b.reflectPad(x, 1), c(512), c(512), 3, 1, 0, side+2)
		y = b.adain(y, c(512))
		y = b.node("Relu", []string{y}, nil)
		y, _ = b.conv(b.reflectPad(y, 1), c(512), c(512), 3, 1, 0, side+2)
		y = b.adain(y, c(512))
		x = b.node("Add", []string{x, y}, nil)
	}
	ups := []int{512, 256, 128, 64}
	if deep {
		ups = []int{512, 512, 256, 128, 64}
	}
	for i := 1; i < len(ups); i++ {
		x, side = b.upsample(x, side)
		x, side = b.conv(x, c(ups[i-1]), c(ups[i]), 3, 1, 1, side)
		x = b.node("Relu", []string{x}, nil)
	}
	x, _ = b.conv(b.reflectPad(x, 3), c(64), 3, 7, 1, 0, side+6)
	b.g.Nodes = append(b.g.Nodes, Node{Name: "output", Op: "Identity", Inputs: []string{x}, Outputs: []string{"output"}})
	s := int64(size)
	b.g.Name = fmt.Sprintf("simswap_%d_faithful_standin", size)
	b.g.Inputs = []ValueInfo{
		{Name: "target", ElemType: Float, Dims: []int64{1, 3, s, s}},
		{Name: "source", ElemType: Float, Dims: []int64{1, 512}},
	}
	b.g.Outputs = []ValueInfo{{Name: "output", ElemType: Float, Dims: []int64{1, 3, s, s}}}
}

func (b *netBuilder) inswapper(div int) {
	c := func(n int) int { return n / div }
	x := "target"
	side := 128
	x = b.reflectPad(x, 3)
	x, side = b.conv(x, 3, c(128), 7, 1, 0, side+6)
	x = b.leaky(x)
	x, side = b.conv(x, c(128), c(256), 3, 1, 1, side)
	x = b.leaky(x)
	x, side = b.conv(x, c(256), c(512), 3, 2, 1, side)
	x = b.leaky(x)
	x, side = b.conv(x, c(512), c(1024), 3, 2, 1, side)
	x = b.leaky(x)
	for range 6 {
		y, _ := b.conv(x, c(1024), c(1024), 3, 1, 1, side)
		y = b.adain(y, c(1024))
		y = b.node("Relu", []string{y}, nil)
		y, _ = b.conv(y, c(1024), c(1024), 3, 1, 1, side)
		y = b.adain(y, c(1024))
		x = b.node("Add", []string{y, x}, nil)
	}
	x, side = b.upsample(x, side)
	x, side = b.conv(x, c(1024), c(512), 3, 1, 1, side)
	x = b.leaky(x)
	x, side = b.upsample(x, side)
	x, side = b.conv(x, c(512), c(256), 3, 1, 1, side)
	x = b.leaky(x)
	x, side = b.conv(x, c(256), c(128), 3, 1, 1, side)
	x = b.leaky(x)
	x = b.reflectPad(x, 3)
	x, _ = b.conv(x, c(128), 3, 7, 1, 0, side+6)
	x = b.node("Tanh", []string{x}, nil)
	x = b.node("Add", []string{x, b.scalar(1)}, nil)
	b.g.Nodes = append(b.g.Nodes, Node{Name: "output", Op: "Mul", Inputs: []string{x, b.scalar(0.5)}, Outputs: []string{"output"}})

	b.g.Name = "inswapper_128_faithful_standin"
	b.g.Inputs = []ValueInfo{
		{Name: "target", ElemType: Float, Dims: []int64{1, 3, 128, 128}},
		{Name: "source", ElemType: Float, Dims: []int64{1, 512}},
	}
	b.g.Outputs = []ValueInfo{{Name: "output", ElemType: Float, Dims: []int64{1, 3, 128, 128}}}
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: "emap", Dims: []int64{512, 512}, Raw: b.uniform(512*512, 1/math.Sqrt(512))}) // must stay last
}

// netBuilder appends layers to a graph, names their tensors, draws their weights
// and counts their multiply-accumulates. With dry set it only counts.
type netBuilder struct {
	g    Graph
	rng  *rand.Rand
	dry  bool
	n    int
	macs int64
}

func newNetBuilder(seed int64, dry bool) *netBuilder {
	return &netBuilder{rng: rand.New(rand.NewPCG(uint64(seed), 0xf1_0b5)), dry: dry}
}

func (b *netBuilder) name(prefix string) string {
	b.n++
	return fmt.Sprintf("%s_%d", prefix, b.n)
}

// node appends op over inputs and returns its one output's name.
func (b *netBuilder) node(op string, inputs []string, attrs []Attr) string {
	out := b.name(op)
	b.g.Nodes = append(b.g.Nodes, Node{Name: out, Op: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

// uniform returns n float32 values uniform in ±std·√3 (so of standard deviation
// std) as little-endian bytes; nil when only counting.
func (b *netBuilder) uniform(n int, std float64) []byte {
	if b.dry {
		return nil
	}
	raw := make([]byte, 4*n)
	a := float32(std * math.Sqrt(3) / (1 << 31))
	for i := 0; i < n; i += 2 {
		r := b.rng.Uint64()
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(int32(r))*a))
		if i+1 < n {
			binary.LittleEndian.PutUint32(raw[4*i+4:], math.Float32bits(float32(int32(r>>32))*a))
		}
	}
	return raw
}

func (b *netBuilder) init(prefix string, dims []int64, raw []byte) string {
	name := b.name(prefix)
	if !b.dry {
		b.g.Initializers = append(b.g.Initializers, Tensor{Name: name, Dims: dims, Raw: raw})
	}
	return name
}

func (b *netBuilder) scalar(v float32) string {
	name := b.name("const")
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: name, Float: []float32{v}})
	return name
}

func (b *netBuilder) constant(prefix string, dims []int64, v float32) string {
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = v
	}
	name := b.name(prefix)
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: name, Dims: dims, Float: vals})
	return name
}

// conv is a k×k convolution with bias over a side×side input; it returns the
// output and its side.
func (b *netBuilder) conv(x string, cin, cout, k, stride, pad, side int) (string, int) {
	out := (side+2*pad-k)/stride + 1
	fanIn := cin * k * k
	w := b.init("W", []int64{int64(cout), int64(cin), int64(k), int64(k)}, b.uniform(cout*fanIn, math.Sqrt(2/float64(fanIn))))
	bias := b.init("B", []int64{int64(cout)}, b.uniform(cout, 0.01))
	b.macs += int64(out) * int64(out) * int64(cout) * int64(fanIn)
	p := int64(pad)
	return b.node("Conv", []string{x, w, bias}, []Attr{
		{Name: "kernel_shape", Type: AttrInts, Ints: []int64{int64(k), int64(k)}},
		{Name: "strides", Type: AttrInts, Ints: []int64{int64(stride), int64(stride)}},
		{Name: "pads", Type: AttrInts, Ints: []int64{p, p, p, p}},
	}), out
}

func (b *netBuilder) leaky(x string) string {
	return b.node("LeakyRelu", []string{x}, []Attr{{Name: "alpha", Type: AttrFloat, F: 0.2}})
}

// reflectPad pads the two spatial axes by p on each side, mirroring (PyTorch's
// padding_mode="reflect").
func (b *netBuilder) reflectPad(x string, p int) string {
	pads := b.name("pads")
	q := int64(p)
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: pads, Dims: []int64{8}, Int64: []int64{0, 0, q, q, 0, 0, q, q}})
	return b.node("Pad", []string{x, pads}, []Attr{{Name: "mode", Type: AttrString, S: "reflect"}})
}

// upsample doubles the spatial size, bilinear with half-pixel centres (PyTorch's
// Upsample(mode="bilinear", align_corners=False)).
func (b *netBuilder) upsample(x string, side int) (string, int) {
	scales := b.name("scales")
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: scales, Dims: []int64{4}, Float: []float32{1, 1, 2, 2}})
	return b.node("Resize", []string{x, "", scales}, []Attr{
		{Name: "mode", Type: AttrString, S: "linear"},
		{Name: "coordinate_transformation_mode", Type: AttrString, S: "half_pixel"},
	}), 2 * side
}

// adain is adaptive instance normalisation driven by the source: instance norm
// without affine parameters, then γ·x + β with [γ, β] = source·W + b.
func (b *netBuilder) adain(x string, ch int) string {
	norm := b.node("InstanceNormalization", []string{x, b.constant("ones", []int64{int64(ch)}, 1), b.constant("zeros", []int64{int64(ch)}, 0)},
		[]Attr{{Name: "epsilon", Type: AttrFloat, F: 1e-6}})
	w := b.init("style_W", []int64{512, int64(2 * ch)}, b.uniform(512*2*ch, 1/math.Sqrt(512)))
	bias := b.init("style_B", []int64{int64(2 * ch)}, b.uniform(2*ch, 0.01))
	b.macs += 512 * 2 * int64(ch)
	style := b.node("Gemm", []string{"source", w, bias}, nil)
	shape := b.name("shape")
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: shape, Dims: []int64{4}, Int64: []int64{1, int64(2 * ch), 1, 1}})
	style = b.node("Reshape", []string{style, shape}, nil)
	split := b.name("split")
	b.g.Initializers = append(b.g.Initializers, Tensor{Name: split, Dims: []int64{2}, Int64: []int64{int64(ch), int64(ch)}})
	gamma, beta := b.name("gamma"), b.name("beta")
	b.g.Nodes = append(b.g.Nodes, Node{Name: gamma + "_split", Op: "Split", Inputs: []string{style, split}, Outputs: []string{gamma, beta},
		Attrs: []Attr{{Name: "axis", Type: AttrInt, I: 1}}})
	y := b.node("Mul", []string{gamma, norm}, nil)
	return b.node("Add", []string{y, beta}, nil)
}
