package jobpipe

import (
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// The client's explicit zeros mean "none", the pipeline's zeros "default": the
// mapping turns one into the other, and passes the rest through.
func TestOptionMapping(t *testing.T) {
	zero, zeroInt, half := 0.0, 0, 0.5
	o := jobs.Options{
		FaceSelector: faceswap.SelectReference, FaceOrder: faceswap.OrderLeftRight,
		ReferenceDistance: &half, ReferenceFacePosition: 2,
		MaskBlur: &zero, MaskPadding: []float64{1, 2, 3, 4},
		EnhancerBlend: &zeroInt, CodeFormerWeight: &half, Enhancer: faceswap.EnhancerCodeFormer,
	}
	ref := make([]float32, faceswap.EmbeddingSize)
	ref[0] = 1
	got := swapOptions(o, tasks.Identity{Reference: ref})
	if got.MaskBlur != faceswap.MaskBlurNone || got.EnhancerBlend != faceswap.EnhancerBlendNone ||
		got.ReferenceFace != 2 || got.ReferenceDistance != 0.5 || got.EnhancerWeight != 0.5 ||
		got.MaskPadding != [4]float64{1, 2, 3, 4} || len(got.Reference) != faceswap.EmbeddingSize {
		t.Errorf("swapOptions: %+v", got)
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
	// Without a reference image the pipeline picks the reference itself.
	if got := swapOptions(o, tasks.Identity{}); got.Reference != nil || got.Validate() != nil {
		t.Errorf("reference mode without a reference image: %+v, %v", got, got.Validate())
	}
	e := embedOptions(o)
	if e.FaceSelector != faceswap.SelectMany || e.Enhancer != "" || e.Order != faceswap.OrderLeftRight {
		t.Errorf("embedOptions: %+v", e)
	}
}
