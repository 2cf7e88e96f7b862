package faceswap

import (
	"fmt"
	"slices"

	"github.com/swapd/swapd/pkg/inference"
	ort "github.com/yalue/onnxruntime_go"
)

// Face parser models (FaceFusion --face-parser-model): yakhyo's BiSeNet face
// parsers. ModelPaths.Parsers maps these names to files.
const (
	ParserBiSeNet18 = "bisenet_resnet_18"
	ParserBiSeNet34 = "bisenet_resnet_34"
)

// ParserModels are the face parser model names.
var ParserModels = []string{ParserBiSeNet18, ParserBiSeNet34}

// Face regions (FaceFusion --face-mask-regions) and the BiSeNet (CelebAMask-HQ)
// class each stands for, from FaceFusion's choices.face_mask_region_set.
const (
	RegionSkin         = "skin"
	RegionLeftEyebrow  = "left-eyebrow"
	RegionRightEyebrow = "right-eyebrow"
	RegionLeftEye      = "left-eye"
	RegionRightEye     = "right-eye"
	RegionGlasses      = "glasses"
	RegionNose         = "nose"
	RegionMouth        = "mouth"
	RegionUpperLip     = "upper-lip"
	RegionLowerLip     = "lower-lip"
)

// MaskRegions are every face region Options.MaskRegions accepts, in
// FaceFusion's order; all of them are the default.
var MaskRegions = []string{RegionSkin, RegionLeftEyebrow, RegionRightEyebrow, RegionLeftEye, RegionRightEye,
	RegionGlasses, RegionNose, RegionMouth, RegionUpperLip, RegionLowerLip}

var regionClass = map[string]int{
	RegionSkin: 1, RegionLeftEyebrow: 2, RegionRightEyebrow: 3, RegionLeftEye: 4, RegionRightEye: 5,
	RegionGlasses: 6, RegionNose: 10, RegionMouth: 11, RegionUpperLip: 12, RegionLowerLip: 13,
}

// RegionClass returns the BiSeNet class index of a face region, -1 for an
// unknown name.
func RegionClass(region string) int {
	if c, ok := regionClass[region]; ok {
		return c
	}
	return -1
}

const (
	parserSize    = 512
	parserClasses = 19
)

// Parser runs one BiSeNet face parser (or a stand-in with its signature):
//
//	input  float32 [N,3,512,512]   RGB, (x/255 − mean)/std with ImageNet's mean and std
//	output float32 [N,19,512,512]  class logits (the export's first output; its
//	                               two auxiliary heads are ignored)
//
// as FaceFusion's face_masker.create_region_mask feeds it.
type Parser struct {
	name string
	sess *inference.Session
}

// NewParser wraps the session of parser model name (one of ParserModels),
// checking the signature: one float32 input [N,3,512,512] and a first output
// [N,19,512,512] (dynamic dimensions accepted).
func NewParser(name string, sess *inference.Session) (*Parser, error) {
	if !slices.Contains(ParserModels, name) {
		return nil, fmt.Errorf("faceswap: unknown parser model %q (want one of %v)", name, ParserModels)
	}
	if len(sess.Inputs) != 1 || len(sess.Outputs) < 1 {
		return nil, fmt.Errorf("faceswap: parser %s: want one input and an output, got %v -> %v", sess.Path, sess.InputNames(), sess.OutputNames())
	}
	in := sess.Inputs[0]
	if in.DataType != ort.TensorElementDataTypeFloat || !dimsMatch(in.Dimensions, 1, 3, parserSize, parserSize) {
		return nil, fmt.Errorf("faceswap: parser %s: input %q %v of type %v, want float32 [1,3,%d,%d]",
			sess.Path, in.Name, in.Dimensions, in.DataType, parserSize, parserSize)
	}
	if out := sess.Outputs[0].Dimensions; !dimsMatch(out, 1, parserClasses, parserSize, parserSize) {
		return nil, fmt.Errorf("faceswap: parser %s: output %v, want [1,%d,%d,%d] class logits", sess.Path, out, parserClasses, parserSize, parserSize)
	}
	return &Parser{name: name, sess: sess}, nil
}

// Name is the parser's model name.
func (p *Parser) Name() string { return p.name }

// RegionMask is FaceFusion's create_region_mask for a swapped crop (size×size
// interleaved RGB floats in [0,255], as the swapper returns it): resize to 512,
// normalise, run the parser, take the argmax class of each pixel, 1 where it is
// one of regions' classes and 0 elsewhere, resize back to size and smooth
// (smoothMask). regions must be known names (MaskRegions).
func (p *Parser) RegionMask(crop []float32, size int, regions []string) ([]float32, error) {
	if len(crop) != 3*size*size {
		return nil, fmt.Errorf("faceswap: parser crop has %d values, want %d", len(crop), 3*size*size)
	}
	var want [parserClasses]bool
	for _, r := range regions {
		c := RegionClass(r)
		if c < 0 {
			return nil, fmt.Errorf("faceswap: unknown face region %q (want one of %v)", r, MaskRegions)
		}
		want[c] = true
	}
	const n = parserSize
	plane := n * n
	blob := resizeCropPlanar(crop, size, n, meanImageNet, stdImageNet)
	outs, err := p.sess.RunFloat32(inference.Tensor{Shape: []int64{1, 3, n, n}, Data: blob})
	if err != nil {
		return nil, fmt.Errorf("faceswap: parser %s: %w", p.name, err)
	}
	logits := outs[0].Data
	if len(logits) != parserClasses*plane {
		return nil, fmt.Errorf("faceswap: parser %s returned %d values, want %d", p.name, len(logits), parserClasses*plane)
	}
	// Argmax over the classes, a class plane at a time (sequential memory); a
	// later class must be strictly greater, so ties go to the first maximum, as
	// numpy's argmax.
	best := append([]float32(nil), logits[:plane]...)
	arg := make([]uint8, plane)
	for c := 1; c < parserClasses; c++ {
		for i, v := range logits[c*plane : (c+1)*plane] {
			if v > best[i] {
				best[i], arg[i] = v, uint8(c)
			}
		}
	}
	m := best[:plane] // reused: 1 where the class is selected
	for i, c := range arg {
		m[i] = 0
		if want[c] {
			m[i] = 1
		}
	}
	m = resizePlane(m, n, size)
	smoothMask(m, size)
	return m, nil
}
