package jobpipe

import (
	"slices"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/jobs"
)

// The API accepts what pkg/jobs lists; the worker runs what pkg/faceswap accepts.
// A value in one vocabulary only would pass submission and then fail every job
// (or be runnable but refused at the door), so the two must name the same values.
// The API's bound on options.track_hold is the pipeline's.
func TestTrackHoldBoundMatches(t *testing.T) {
	if jobs.MaxTrackHold != faceswap.MaxTrackHold {
		t.Fatalf("jobs.MaxTrackHold %d, faceswap.MaxTrackHold %d", jobs.MaxTrackHold, faceswap.MaxTrackHold)
	}
	over := jobs.MaxTrackHold + 1
	if err := (jobs.Options{TrackHold: &over}).Validate(); err == nil {
		t.Errorf("track_hold %d accepted", over)
	}
}

func TestVocabulariesMatch(t *testing.T) {
	cases := []struct {
		name           string
		jobs, faceswap []string
		set            func(*jobs.Options, string)
	}{
		{"face_order", jobs.FaceOrders, faceswap.Orders, func(o *jobs.Options, v string) { o.FaceOrder = v }},
		{"enhancer", jobs.Enhancers, faceswap.EnhancerModels, func(o *jobs.Options, v string) { o.Enhancer = v }},
		{"swapper", jobs.Swappers, faceswap.SwapperModels, func(o *jobs.Options, v string) { o.Swapper = v }},
		{"mask_types", jobs.MaskTypes, faceswap.MaskTypeNames, func(o *jobs.Options, v string) { o.MaskTypes = []string{v} }},
		{"occluder_model", jobs.Occluders, faceswap.OccluderModels, func(o *jobs.Options, v string) { o.OccluderModel = v }},
		{"parser_model", jobs.Parsers, faceswap.ParserModels, func(o *jobs.Options, v string) { o.ParserModel = v }},
		{"mask_regions", jobs.MaskRegions, faceswap.MaskRegions, func(o *jobs.Options, v string) { o.MaskRegions = []string{v} }},
		{"mask_areas", jobs.MaskAreas, faceswap.MaskAreas, func(o *jobs.Options, v string) { o.MaskAreas = []string{v} }},
		// jobs has no list of selectors, only its Validate: faceswap's list is
		// checked against that, and a made-up value must fail on both sides.
		{"face_selector", nil, faceswap.Selectors, func(o *jobs.Options, v string) { o.FaceSelector = v }},
	}
	for _, c := range cases {
		if c.jobs != nil && !sameSet(c.jobs, c.faceswap) {
			t.Errorf("%s: jobs lists %v, faceswap %v", c.name, c.jobs, c.faceswap)
		}
		for _, v := range append(slices.Clone(c.jobs), c.faceswap...) {
			var o jobs.Options
			c.set(&o, v)
			if err := o.Validate(); err != nil {
				t.Errorf("%s %q: jobs refuses it: %v", c.name, v, err)
			}
			if err := faceswapOptions(o).Validate(); err != nil {
				t.Errorf("%s %q: faceswap refuses it: %v", c.name, v, err)
			}
		}
		var o jobs.Options
		c.set(&o, "no-such-value")
		if o.Validate() == nil || faceswapOptions(o).Validate() == nil {
			t.Errorf("%s: a made-up value passes jobs (%v) or faceswap (%v)", c.name, o.Validate(), faceswapOptions(o).Validate())
		}
	}
}

// The mask options map through unchanged, "many" included.
func TestMaskOptionsMap(t *testing.T) {
	o := jobs.Options{MaskTypes: []string{"box", "occlusion", "region", "area"}, OccluderModel: jobs.OccluderMany,
		ParserModel: "bisenet_resnet_18", MaskRegions: []string{"nose", "mouth"}, MaskAreas: []string{"lower-face"}}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	fo := faceswapOptions(o)
	if err := fo.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fo.MaskTypes, o.MaskTypes) || fo.OccluderModel != faceswap.OccluderMany || fo.ParserModel != o.ParserModel ||
		!slices.Equal(fo.MaskRegions, o.MaskRegions) || !slices.Equal(fo.MaskAreas, o.MaskAreas) {
		t.Errorf("mapped %+v", fo)
	}
	if jobs.OccluderMany != faceswap.OccluderMany {
		t.Errorf("many: jobs %q, faceswap %q", jobs.OccluderMany, faceswap.OccluderMany)
	}
}

// Pixel boost sizes and each swapper's native size agree, so that jobs refuses at
// submit exactly the boosts the pipeline would refuse.
func TestPixelBoostVocabularyMatches(t *testing.T) {
	if !slices.Equal(jobs.PixelBoosts, faceswap.PixelBoostSizes) {
		t.Errorf("jobs pixel boosts %v, faceswap %v", jobs.PixelBoosts, faceswap.PixelBoostSizes)
	}
	for _, name := range faceswap.SwapperModels {
		if jobs.SwapperSize(name) != faceswap.SwapperSize(name) {
			t.Errorf("%s: jobs says %d px, faceswap %d", name, jobs.SwapperSize(name), faceswap.SwapperSize(name))
		}
		for _, b := range append([]int{0, 100}, faceswap.PixelBoostSizes...) {
			o := jobs.Options{Swapper: name, PixelBoost: b}
			jerr, ferr := o.Validate(), faceswapOptions(o).Validate()
			if (jerr == nil) != (ferr == nil) || (jerr == nil) != faceswap.PixelBoostValid(name, b) {
				t.Errorf("%s at %d: jobs %v, faceswap %v", name, b, jerr, ferr)
			}
		}
	}
	w := 0.0
	if fo := faceswapOptions(jobs.Options{SwapperWeight: &w}); fo.SwapperWeight != faceswap.SwapperWeightNone {
		t.Errorf("swapper_weight 0 maps to %v, want SwapperWeightNone (not the default)", fo.SwapperWeight)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
