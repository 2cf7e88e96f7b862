package faceswap

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/swapd/swapd/pkg/inference"
)

// Swapper models (FaceFusion --face-swapper-model names). ModelPaths.Swappers maps
// these names to files.
const (
	SwapperInswapper128     = "inswapper_128"
	SwapperInswapper128FP16 = "inswapper_128_fp16"
	SwapperHyperswap1A      = "hyperswap_1a_256"
	SwapperHyperswap1B      = "hyperswap_1b_256"
	SwapperHyperswap1C      = "hyperswap_1c_256"
	SwapperGhost1           = "ghost_1_256"
	SwapperGhost2           = "ghost_2_256"
	SwapperGhost3           = "ghost_3_256"
	SwapperSimswap256       = "simswap_256"
	SwapperSimswap512       = "simswap_unofficial_512"

	// Embedding converters (ModelPaths.Converters): FaceFusion's crossface
	// models, which turn an ArcFace embedding into the identity space the ghost
	// and SimSwap models were trained with.
	ConverterGhost   = "crossface_ghost"
	ConverterSimswap = "crossface_simswap"
)

// SwapperModels are every value Options.Swapper accepts besides "" (the
// pipeline's default swapper).
var SwapperModels = []string{
	SwapperInswapper128, SwapperInswapper128FP16,
	SwapperHyperswap1A, SwapperHyperswap1B, SwapperHyperswap1C,
	SwapperGhost1, SwapperGhost2, SwapperGhost3,
	SwapperSimswap256, SwapperSimswap512,
}

// PixelBoostSizes are the crop sides Options.PixelBoost accepts (FaceFusion's
// --face-swapper-pixel-boost choices); a model takes those that are a whole
// multiple of its native size.
var PixelBoostSizes = []int{128, 256, 384, 512, 768, 1024}

// Swapper families: what FaceFusion's face_swapper calls a model's "type". It
// decides how the source embedding is prepared and whether the output is
// de-normalised.
const (
	familyInswapper = "inswapper"
	familyHyperswap = "hyperswap"
	familyGhost     = "ghost"
	familySimswap   = "simswap"
)

// swapperSpec is what FaceFusion's face_swapper MODEL_SET says about a model.
type swapperSpec struct {
	family    string
	template  Template
	size      int
	mean, std [3]float32
	converter string // embedding converter the model needs, "" for none
}

var (
	meanZero     = [3]float32{0, 0, 0}
	stdOne       = [3]float32{1, 1, 1}
	meanHalf     = [3]float32{0.5, 0.5, 0.5}
	meanImageNet = [3]float32{0.485, 0.456, 0.406}
	stdImageNet  = [3]float32{0.229, 0.224, 0.225}
)

// ArcFace112V1 is FaceFusion's arcface_112_v1 template (the symmetric, legacy
// ArcFace template), which the ghost and SimSwap models align with.
var ArcFace112V1 = Template{
	{0.35473214, 0.45658929}, {0.64526786, 0.45658929}, {0.50000000, 0.61154464},
	{0.37913393, 0.77687500}, {0.62086607, 0.77687500},
}

var swapperSpecs = map[string]swapperSpec{
	SwapperInswapper128:     {familyInswapper, ArcFace128, 128, meanZero, stdOne, ""},
	SwapperInswapper128FP16: {familyInswapper, ArcFace128, 128, meanZero, stdOne, ""},
	SwapperHyperswap1A:      {familyHyperswap, ArcFace128, 256, meanHalf, meanHalf, ""},
	SwapperHyperswap1B:      {familyHyperswap, ArcFace128, 256, meanHalf, meanHalf, ""},
	SwapperHyperswap1C:      {familyHyperswap, ArcFace128, 256, meanHalf, meanHalf, ""},
	SwapperGhost1:           {familyGhost, ArcFace112V1, 256, meanHalf, meanHalf, ConverterGhost},
	SwapperGhost2:           {familyGhost, ArcFace112V1, 256, meanHalf, meanHalf, ConverterGhost},
	SwapperGhost3:           {familyGhost, ArcFace112V1, 256, meanHalf, meanHalf, ConverterGhost},
	SwapperSimswap256:       {familySimswap, ArcFace112V1, 256, meanImageNet, stdImageNet, ConverterSimswap},
	SwapperSimswap512:       {familySimswap, ArcFace112V1, 512, meanZero, stdOne, ConverterSimswap},
}

// denormalises reports whether FaceFusion maps the model's output back with
// x·std + mean (normalize_crop_frame does so for ghost, hififace, hyperswap and
// uniface; inswapper and SimSwap output [0,1] directly).
func (s swapperSpec) denormalises() bool {
	return s.family == familyHyperswap || s.family == familyGhost
}

// SwapperSize returns the native crop side of a swapper model, 0 for an unknown
// name.
func SwapperSize(name string) int { return swapperSpecs[name].size }

// SwapperConverter returns the embedding converter a swapper model needs, "" for
// none.
func SwapperConverter(name string) string { return swapperSpecs[name].converter }

// PixelBoostValid reports whether boost (0 = the native size) is a pixel-boost
// size swapper model name can work at: one of PixelBoostSizes and a whole
// multiple of the model's native size. FaceFusion offers simswap_unofficial_512
// 768 too, which its own reshape then fails on (768/512 is not whole); swapd
// refuses it up front.
func PixelBoostValid(name string, boost int) bool {
	size := SwapperSize(name)
	if size == 0 {
		return false
	}
	if boost == 0 {
		return true
	}
	return slices.Contains(PixelBoostSizes, boost) && boost >= size && boost%size == 0
}

// Swapper weight (FaceFusion --face-swapper-weight, default 0.5).
const (
	DefaultSwapperWeight = 0.5
	// SwapperWeightNone asks for a weight of (practically) 0. SwapperWeight 0
	// selects the default 0.5.
	SwapperWeightNone = 1e-9
)

// swapperWeightMix maps the swapper weight in [0,1] to FaceFusion's mixing
// factor w' = interp(weight, [0,1] → [0.35, −0.35]) (balance_source_embedding):
// the source latent becomes latent·(1 − w') + target·w', so 0.5 leaves it alone,
// lower weights pull it toward the target's own identity and higher ones push it
// away.
func swapperWeightMix(weight float64) float32 {
	if weight <= SwapperWeightNone {
		weight = 0
	}
	weight = math.Min(math.Max(weight, 0), 1)
	return float32(0.35 - 0.7*weight)
}

func checkSwapperOptions(o Options) error {
	if o.Swapper != "" && !slices.Contains(SwapperModels, o.Swapper) {
		return fmt.Errorf("faceswap: Swapper %q: want one of %v (or empty for the pipeline's default)", o.Swapper, SwapperModels)
	}
	if w := o.SwapperWeight; math.IsNaN(w) || w < 0 || w > 1 {
		return fmt.Errorf("faceswap: SwapperWeight %v: want a value in [0,1]", w)
	}
	if o.PixelBoost != 0 && !slices.Contains(PixelBoostSizes, o.PixelBoost) {
		return fmt.Errorf("faceswap: PixelBoost %d: want one of %v (or 0 for the model's size)", o.PixelBoost, PixelBoostSizes)
	}
	if o.Swapper != "" && !PixelBoostValid(o.Swapper, o.PixelBoost) {
		return fmt.Errorf("faceswap: PixelBoost %d is not a multiple of %s's %d px", o.PixelBoost, o.Swapper, SwapperSize(o.Swapper))
	}
	return nil
}

// openSwappers opens the default swapper and every other listed one, each with
// its embedding converter, through open (which shares sessions per device and
// file).
func (p *Pipeline) openSwappers(paths ModelPaths, open func(string) (*inference.Session, error)) error {
	files := map[string]string{}
	for name, file := range paths.Swappers {
		if _, ok := swapperSpecs[name]; !ok {
			return fmt.Errorf("faceswap: unknown swapper %q in ModelPaths.Swappers (want one of %v)", name, SwapperModels)
		}
		files[name] = file
	}
	for name := range paths.Converters {
		if name != ConverterGhost && name != ConverterSimswap {
			return fmt.Errorf("faceswap: unknown embedding converter %q in ModelPaths.Converters (want %s or %s)", name, ConverterGhost, ConverterSimswap)
		}
	}
	def := ""
	if paths.Swapper != "" {
		def = SwapperFileModel(paths.Swapper)
		if f, ok := files[def]; ok && f != paths.Swapper {
			return fmt.Errorf("faceswap: swapper %s is both %s (default) and %s", def, paths.Swapper, f)
		}
		files[def] = paths.Swapper
	}
	convs := map[string]*inference.Session{}
	for _, name := range SwapperModels {
		file, ok := files[name]
		if !ok {
			continue
		}
		spec := swapperSpecs[name]
		var conv *inference.Session
		if spec.converter != "" {
			if conv = convs[spec.converter]; conv == nil {
				cf, ok := paths.Converters[spec.converter]
				if !ok {
					return fmt.Errorf("faceswap: swapper %s needs the embedding converter %s (ModelPaths.Converters)", name, spec.converter)
				}
				s, err := open(cf)
				if err != nil {
					return err
				}
				conv, convs[spec.converter] = s, s
			}
		}
		s, err := open(file)
		if err != nil {
			return err
		}
		sw, err := NewSwapperModel(name, s, conv)
		if err != nil {
			return err
		}
		p.swappers[name] = sw
		if def == "" {
			def = name // no explicit default: the first in SwapperModels' order
		}
	}
	if def != "" {
		p.swp = p.swappers[def]
	}
	return nil
}

// SwapperFileModel names the swapper model a file holds by its base name
// (hyperswap_1a_256.onnx is hyperswap_1a_256); a file whose name is no known
// model is taken for inswapper_128, the catalogue's default.
func SwapperFileModel(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if _, ok := swapperSpecs[base]; ok {
		return base
	}
	return SwapperInswapper128
}

// Swappers returns the names of the swapper models the pipeline has, sorted.
func (p *Pipeline) Swappers() []string {
	names := make([]string, 0, len(p.swappers))
	for n := range p.swappers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// DefaultSwapper is the model Options.Swapper "" runs ("" when the pipeline has
// no swapper).
func (p *Pipeline) DefaultSwapper() string {
	if p.swp == nil {
		return ""
	}
	return p.swp.name
}

// SwapperModel returns the pipeline's swapper for a model name ("" is the
// default).
func (p *Pipeline) SwapperModel(name string) (*Swapper, bool) {
	if name == "" {
		return p.swp, p.swp != nil
	}
	s, ok := p.swappers[name]
	return s, ok
}

// ErrSwapperUnavailable is returned (wrapped) when the options name a swapper
// the pipeline was not given, or a pixel boost that model cannot take.
var ErrSwapperUnavailable = errors.New("faceswap: swapper model not configured")

// swapperFor returns the swapper opts ask for, checking that the pixel boost fits
// it.
func (p *Pipeline) swapperFor(opts Options) (*Swapper, error) {
	s, ok := p.SwapperModel(opts.Swapper)
	if !ok {
		if opts.Swapper == "" {
			return nil, errNoSwapper
		}
		return nil, fmt.Errorf("%w: %q (have %v)", ErrSwapperUnavailable, opts.Swapper, p.Swappers())
	}
	if _, err := s.boostSize(opts.PixelBoost); err != nil {
		return nil, err
	}
	return s, nil
}
