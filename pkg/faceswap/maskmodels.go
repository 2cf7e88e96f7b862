package faceswap

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

// Mask types (FaceFusion --face-mask-types). The paste mask is the element-wise
// minimum of the listed masks (face_swapper/core.py swap_face):
//
//   - box: the blurred, padded rectangle (BoxMask; MaskBlur, MaskPadding);
//   - occlusion: an XSeg model's face/occluder segmentation of the target crop
//     before the swap (OcclusionMask; OccluderModel), so hands, hair or
//     glasses in front of the face stay the target's;
//   - region: a BiSeNet face parser's regions of the swapped crop
//     (Parser.RegionMask; ParserModel, MaskRegions);
//   - area: the convex hull of 68-landmark sets (AreaMask; MaskAreas), the 68
//     landmarks from 2dfan4, else fan_68_5.
//
// Options.MouthMask keeps the target's mouth on top of these.
const (
	MaskBox       = "box"
	MaskOcclusion = "occlusion"
	MaskRegion    = "region"
	MaskArea      = "area"
)

// MaskTypeNames are every value Options.MaskTypes accepts; [box] is the default.
var MaskTypeNames = []string{MaskBox, MaskOcclusion, MaskRegion, MaskArea}

// ErrMaskUnavailable is returned (wrapped) when the options ask for a mask the
// pipeline has no model for.
var ErrMaskUnavailable = errors.New("faceswap: mask model not configured")

// checkMaskOptions validates the mask fields of Options (names only: whether
// the pipeline has the models is checked when a call runs).
func checkMaskOptions(o Options) error {
	seen := map[string]bool{}
	for _, t := range o.MaskTypes {
		if !slices.Contains(MaskTypeNames, t) {
			return fmt.Errorf("faceswap: MaskTypes: unknown mask type %q (want any of %v)", t, MaskTypeNames)
		}
		if seen[t] {
			return fmt.Errorf("faceswap: MaskTypes: %q listed twice", t)
		}
		seen[t] = true
	}
	if o.OccluderModel != "" && o.OccluderModel != OccluderMany && !slices.Contains(OccluderModels, o.OccluderModel) {
		return fmt.Errorf("faceswap: OccluderModel %q: want one of %v or %q (or empty for the pipeline's default)", o.OccluderModel, OccluderModels, OccluderMany)
	}
	if o.ParserModel != "" && !slices.Contains(ParserModels, o.ParserModel) {
		return fmt.Errorf("faceswap: ParserModel %q: want one of %v (or empty for the pipeline's default)", o.ParserModel, ParserModels)
	}
	for _, r := range o.MaskRegions {
		if RegionClass(r) < 0 {
			return fmt.Errorf("faceswap: MaskRegions: unknown region %q (want any of %v)", r, MaskRegions)
		}
	}
	for _, a := range o.MaskAreas {
		if _, ok := areaPoints[a]; !ok {
			return fmt.Errorf("faceswap: MaskAreas: unknown area %q (want any of %v)", a, MaskAreas)
		}
	}
	return nil
}

// maskTypes returns the mask types in effect: o.MaskTypes, or [box].
func (o Options) maskTypes() []string {
	if len(o.MaskTypes) == 0 {
		return []string{MaskBox}
	}
	return o.MaskTypes
}

// hasMask reports whether the options ask for mask type t.
func (o Options) hasMask(t string) bool { return slices.Contains(o.maskTypes(), t) }

// maskModels are the pipeline's occluders, parsers and landmarkers.
type maskModels struct {
	occluders   map[string]*Occluder
	parsers     map[string]*Parser
	landmarkers map[string]*Landmarker
}

// openMaskModels opens every occluder, parser and landmarker paths list,
// through open (which shares sessions per device and file).
func (p *Pipeline) openMaskModels(paths ModelPaths, open func(string) (*inference.Session, error)) error {
	p.masker = maskModels{occluders: map[string]*Occluder{}, parsers: map[string]*Parser{}, landmarkers: map[string]*Landmarker{}}
	for _, name := range sortedKeys(paths.Occluders) {
		if !slices.Contains(OccluderModels, name) {
			return fmt.Errorf("faceswap: unknown occluder %q in ModelPaths.Occluders (want one of %v)", name, OccluderModels)
		}
		s, err := open(paths.Occluders[name])
		if err != nil {
			return err
		}
		o, err := NewOccluder(name, s)
		if err != nil {
			return err
		}
		p.masker.occluders[name] = o
	}
	for _, name := range sortedKeys(paths.Parsers) {
		if !slices.Contains(ParserModels, name) {
			return fmt.Errorf("faceswap: unknown parser %q in ModelPaths.Parsers (want one of %v)", name, ParserModels)
		}
		s, err := open(paths.Parsers[name])
		if err != nil {
			return err
		}
		q, err := NewParser(name, s)
		if err != nil {
			return err
		}
		p.masker.parsers[name] = q
	}
	for _, name := range sortedKeys(paths.Landmarkers) {
		if !slices.Contains(LandmarkerModels, name) {
			return fmt.Errorf("faceswap: unknown landmarker %q in ModelPaths.Landmarkers (want one of %v)", name, LandmarkerModels)
		}
		s, err := open(paths.Landmarkers[name])
		if err != nil {
			return err
		}
		l, err := NewLandmarker(name, s)
		if err != nil {
			return err
		}
		p.masker.landmarkers[name] = l
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Occluders returns the occluder models the pipeline has, sorted.
func (p *Pipeline) Occluders() []string { return sortedKeys(p.masker.occluders) }

// Parsers returns the face parser models the pipeline has, sorted.
func (p *Pipeline) Parsers() []string { return sortedKeys(p.masker.parsers) }

// Landmarkers returns the landmarker models the pipeline has, sorted.
func (p *Pipeline) Landmarkers() []string { return sortedKeys(p.masker.landmarkers) }

// MaskTypes returns the mask types the pipeline can make: box always,
// occlusion with an occluder, region with a parser, area with a landmarker.
func (p *Pipeline) MaskTypes() []string {
	t := []string{MaskBox}
	if len(p.masker.occluders) > 0 {
		t = append(t, MaskOcclusion)
	}
	if len(p.masker.parsers) > 0 {
		t = append(t, MaskRegion)
	}
	if len(p.masker.landmarkers) > 0 {
		t = append(t, MaskArea)
	}
	return t
}

// occludersFor returns the occluders opts.OccluderModel selects: the named one,
// every configured one for "many", and for "" the pipeline's default (xseg_1
// when configured, FaceFusion's default, else the first configured).
func (p *Pipeline) occludersFor(opts Options) ([]*Occluder, error) {
	have := p.Occluders()
	switch name := opts.OccluderModel; {
	case name == OccluderMany:
		if len(have) == 0 {
			break
		}
		out := make([]*Occluder, len(have))
		for i, n := range have {
			out[i] = p.masker.occluders[n]
		}
		return out, nil
	case name == "":
		if o, ok := p.masker.occluders[OccluderXSeg1]; ok {
			return []*Occluder{o}, nil
		}
		if len(have) > 0 {
			return []*Occluder{p.masker.occluders[have[0]]}, nil
		}
	default:
		if o, ok := p.masker.occluders[name]; ok {
			return []*Occluder{o}, nil
		}
	}
	return nil, fmt.Errorf("%w: occlusion mask with occluder %q (have %v)", ErrMaskUnavailable, opts.OccluderModel, have)
}

// parserFor returns the parser opts.ParserModel selects; for "" the pipeline's
// default (bisenet_resnet_34 when configured, FaceFusion's default, else the
// other).
func (p *Pipeline) parserFor(opts Options) (*Parser, error) {
	name := opts.ParserModel
	if name == "" {
		name = ParserBiSeNet34
		if _, ok := p.masker.parsers[name]; !ok {
			name = ParserBiSeNet18
		}
	}
	if q, ok := p.masker.parsers[name]; ok {
		return q, nil
	}
	return nil, fmt.Errorf("%w: region mask with parser %q (have %v)", ErrMaskUnavailable, opts.ParserModel, p.Parsers())
}

// landmarker returns the landmarker area masks use: 2dfan4 when configured (as
// FaceFusion's '68' set comes from 2dfan4 whenever it runs), else fan_68_5.
func (p *Pipeline) landmarker() (*Landmarker, error) {
	if l, ok := p.masker.landmarkers[Landmarker2DFAN4]; ok {
		return l, nil
	}
	if l, ok := p.masker.landmarkers[LandmarkerFAN68_5]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("%w: area mask needs a landmarker (2dfan4 or fan_68_5)", ErrMaskUnavailable)
}

// Landmarks68 returns 68 landmarks of a detected face of frame (2dfan4 when the
// pipeline has it, else fan_68_5) and the landmarker's score.
func (p *Pipeline) Landmarks68(frame media.Frame, face Face) (Landmarks68, float64, error) {
	l, err := p.landmarker()
	if err != nil {
		return Landmarks68{}, 0, err
	}
	return l.Landmarks(frame, face)
}

// CheckMasks fails, wrapping ErrMaskUnavailable, when opts ask for a mask the
// pipeline has no model for.
func (p *Pipeline) CheckMasks(opts Options) error {
	if opts.hasMask(MaskOcclusion) {
		if _, err := p.occludersFor(opts); err != nil {
			return err
		}
	}
	if opts.hasMask(MaskRegion) {
		if _, err := p.parserFor(opts); err != nil {
			return err
		}
	}
	if opts.hasMask(MaskArea) {
		if _, err := p.landmarker(); err != nil {
			return err
		}
	}
	return nil
}

// pasteMask builds the paste mask of one swapped face: the box mask (box, the
// cached one, when opts list box; all ones otherwise) with the mouth kept when
// opts.MouthMask, and the minimum of it with every model mask opts list, all at
// the crop size in use (pixel boost included). frame must hold the target face
// as it was before this face's swap (the occlusion mask is computed on the
// target crop); crop is the swapped crop and m the frame→crop transform.
// box is returned as is when nothing changes it.
func (p *Pipeline) pasteMask(frame media.Frame, f Face, crop []float32, size int, m Affine, box []float32, opts Options) ([]float32, error) {
	mask := box
	owned := false
	own := func() {
		if !owned {
			mask = append([]float32(nil), mask...)
			owned = true
		}
	}
	if !opts.hasMask(MaskBox) {
		mask = make([]float32, size*size)
		for i := range mask {
			mask[i] = 1
		}
		owned = true
	}
	if opts.MouthMask {
		own()
		keepMouth(mask, size, m.Apply(f.Landmarks[3]), m.Apply(f.Landmarks[4]))
	}
	if opts.hasMask(MaskOcclusion) {
		occ, err := p.occludersFor(opts)
		if err != nil {
			return nil, err
		}
		om, err := OcclusionMask(WarpFrame(frame, m, size, size), occ...)
		if err != nil {
			return nil, err
		}
		own()
		minInto(mask, om)
	}
	if opts.hasMask(MaskArea) {
		l, err := p.landmarker()
		if err != nil {
			return nil, err
		}
		lm, _, err := l.Landmarks(frame, f)
		if err != nil {
			return nil, err
		}
		for i, q := range lm {
			lm[i] = m.Apply(q)
		}
		areas := opts.MaskAreas
		if len(areas) == 0 {
			areas = MaskAreas
		}
		am, err := AreaMask(size, lm, areas)
		if err != nil {
			return nil, err
		}
		own()
		minInto(mask, am)
	}
	if opts.hasMask(MaskRegion) {
		q, err := p.parserFor(opts)
		if err != nil {
			return nil, err
		}
		regions := opts.MaskRegions
		if len(regions) == 0 {
			regions = MaskRegions
		}
		rm, err := q.RegionMask(crop, size, regions)
		if err != nil {
			return nil, err
		}
		own()
		minInto(mask, rm)
	}
	return mask, nil
}

// enhancerMask is the paste mask of an enhanced face: the enhancer's box mask,
// and with an occlusion mask in opts the minimum of it and the occlusion mask of
// the enhancer's own crop of frame (the swapped frame), as FaceFusion's
// face_enhancer enhance_face does. Region and area masks apply to the swap only
// (FaceFusion's enhancer takes only box and occlusion).
func (p *Pipeline) enhancerMask(frame media.Frame, f Face, e *Enhancer, box []float32, opts Options) ([]float32, error) {
	if !opts.hasMask(MaskOcclusion) {
		return box, nil
	}
	occ, err := p.occludersFor(opts)
	if err != nil {
		return nil, err
	}
	size := e.Size()
	om, err := OcclusionMask(WarpFrame(frame, AlignTransform(f.Landmarks, e.spec.template, size), size, size), occ...)
	if err != nil {
		return nil, err
	}
	minInto(om, box)
	return om, nil
}
