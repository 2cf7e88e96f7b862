package api

import (
	"github.com/invopop/jsonschema"

	"github.com/swapd/swapd/pkg/jobs"
)

// describeMaskOptions documents the mask options (issue #9) in the reflected
// Options schema: what each does and the values it takes.
func describeMaskOptions(s *jsonschema.Schema) {
	enum := func(vals []string) []any {
		out := make([]any, len(vals))
		for i, v := range vals {
			out[i] = v
		}
		return out
	}
	list := func(name, desc string, vals []string) {
		if p, ok := s.Properties.Get(name); ok {
			p.Description = desc
			p.Items = &jsonschema.Schema{Type: "string", Enum: enum(vals)}
			p.UniqueItems = true
		}
	}
	one := func(name, desc string, vals []string) {
		if p, ok := s.Properties.Get(name); ok {
			p.Description = desc
			p.Enum = enum(vals)
		}
	}
	list("mask_types", "masks the paste mask is the element-wise minimum of (FaceFusion's --face-mask-types); default [box]. "+
		"box: the blurred rectangle (mask_blur, mask_padding); occlusion: what covers the face in the target (hands, hair, glasses) stays the target's (XSeg, occluder_model); "+
		"region: only the face regions in mask_regions are swapped (BiSeNet, parser_model); area: only the face areas in mask_areas (68 landmarks). "+
		"A model mask some worker does not offer (SWAPD_OCCLUDER_MODELS, SWAPD_PARSER_MODELS, SWAPD_LANDMARKER_MODELS) is UNSUPPORTED_OPTION", jobs.MaskTypes)
	one("occluder_model", "occlusion masks: the XSeg model; many takes the minimum of every occluder the worker has; default the worker's (xseg_1 when it has it). "+
		"One no worker offers is UNSUPPORTED_OPTION", append(append([]string(nil), jobs.Occluders...), jobs.OccluderMany))
	one("parser_model", "region masks: the BiSeNet face parser; default the worker's (bisenet_resnet_34 when it has it). One no worker offers is UNSUPPORTED_OPTION", jobs.Parsers)
	list("mask_regions", "region masks: the face regions swapped; default all", jobs.MaskRegions)
	list("mask_areas", "area masks: the face areas swapped (convex hulls of 68 landmarks); default all", jobs.MaskAreas)
}
