package jobs

import (
	"errors"
	"testing"

	"github.com/swapd/swapd/pkg/errcode"
)

func TestMaskOptionsValidate(t *testing.T) {
	good := Options{MaskTypes: MaskTypes, OccluderModel: OccluderMany, ParserModel: "bisenet_resnet_34",
		MaskRegions: MaskRegions, MaskAreas: MaskAreas}
	if err := good.Validate(); err != nil {
		t.Fatalf("every mask option: %v", err)
	}
	if got := good.ModelMasks(); len(got) != 3 || got[0] != "occlusion" {
		t.Errorf("ModelMasks %v, want the three model masks", got)
	}
	for _, o := range []Options{
		{MaskTypes: []string{"hull"}},
		{MaskTypes: []string{"box", "box"}},
		{OccluderModel: "xseg_4"},
		{ParserModel: "bisenet_resnet_50"},
		{MaskRegions: []string{"hair"}},
		{MaskAreas: []string{"forehead"}},
	} {
		err := o.Validate()
		var ce *errcode.Error
		if !errors.As(err, &ce) || ce.Code != errcode.InvalidRequest {
			t.Errorf("%+v: %v, want INVALID_REQUEST", o, err)
		}
	}
}
