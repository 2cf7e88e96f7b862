package jobs

// Face masks (issue #9): FaceFusion's --face-mask-types and their models. The
// paste mask is the element-wise minimum of the listed masks; the model masks
// need a worker that offers them (OfferMask, OfferOccluder, OfferParser), which
// the API checks at submit.

// MaskTypes are the accepted options.mask_types values; [box] is the default.
var MaskTypes = []string{"box", "occlusion", "region", "area"}

// Occluders are the occlusion models (options.occluder_model) a worker may
// offer; "many" asks for all of a worker's occluders at once.
var Occluders = []string{"xseg_1", "xseg_2", "xseg_3"}

// OccluderMany is the options.occluder_model value that combines every
// occluder the worker has.
const OccluderMany = "many"

// Parsers are the face parsers (options.parser_model) a worker may offer.
var Parsers = []string{"bisenet_resnet_18", "bisenet_resnet_34"}

// MaskRegions are the face regions a region mask can keep (all by default).
var MaskRegions = []string{"skin", "left-eyebrow", "right-eyebrow", "left-eye", "right-eye", "glasses", "nose",
	"mouth", "upper-lip", "lower-lip"}

// MaskAreas are the face areas an area mask can keep (all by default).
var MaskAreas = []string{"upper-face", "lower-face", "mouth"}

// Offer kinds of the mask models: a worker offers each mask type it can make
// besides box (occlusion with an occluder, region with a parser, area with a
// landmarker), each occluder and each parser.
const (
	OfferMask     = "mask"
	OfferOccluder = "occluder"
	OfferParser   = "parser"
)

// validateMasks checks the mask options' names (what workers offer is the API's
// check, not this one).
func (o Options) validateMasks() error {
	seen := map[string]bool{}
	for _, t := range o.MaskTypes {
		if !oneOf(t, MaskTypes) {
			return bad("options.mask_types value %q is not one of %v", t, MaskTypes)
		}
		if seen[t] {
			return bad("options.mask_types lists %q twice", t)
		}
		seen[t] = true
	}
	if o.OccluderModel != "" && o.OccluderModel != OccluderMany && !oneOf(o.OccluderModel, Occluders) {
		return bad("options.occluder_model %q is not one of %v or %q", o.OccluderModel, Occluders, OccluderMany)
	}
	if o.ParserModel != "" && !oneOf(o.ParserModel, Parsers) {
		return bad("options.parser_model %q is not one of %v", o.ParserModel, Parsers)
	}
	for _, r := range o.MaskRegions {
		if !oneOf(r, MaskRegions) {
			return bad("options.mask_regions value %q is not one of %v", r, MaskRegions)
		}
	}
	for _, a := range o.MaskAreas {
		if !oneOf(a, MaskAreas) {
			return bad("options.mask_areas value %q is not one of %v", a, MaskAreas)
		}
	}
	return nil
}

// ModelMasks are the mask types in o.MaskTypes that need a model (all but box).
func (o Options) ModelMasks() []string {
	var out []string
	for _, t := range o.MaskTypes {
		if t != "box" {
			out = append(out, t)
		}
	}
	return out
}
