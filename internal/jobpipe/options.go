package jobpipe

import (
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// swapOptions are the pipeline's options for swapping id into a target: the
// client's options, plus the reference image's identity when the job has one
// (without it, reference mode picks the target's face at ReferenceFace).
func swapOptions(o jobs.Options, id tasks.Identity) faceswap.Options {
	opts := faceswapOptions(o)
	opts.Reference = id.Reference
	return opts
}

// embedOptions are the options for embedding a source: detection settings only, since
// target selection (a reference mode without its reference yet) does not apply.
func embedOptions(o jobs.Options) faceswap.Options {
	opts := faceswapOptions(o)
	opts.FaceSelector, opts.TargetIndexes, opts.SourceIndexes, opts.Enhancer = faceswap.SelectMany, nil, nil, ""
	return opts
}

// faceswapOptions maps the client's options onto the pipeline's. The client's
// optional numbers are pointers, where nil is the default; the pipeline's zero
// value is its default, so an explicit 0 becomes the pipeline's "none" value.
func faceswapOptions(o jobs.Options) faceswap.Options {
	fo := faceswap.Options{
		FaceSelector: o.FaceSelector, Order: o.FaceOrder,
		ReferenceFace: o.ReferenceFacePosition,
		TargetIndexes: o.TargetIndexes, SourceIndexes: o.SourceIndexes,
		DetectorSize: o.DetectorSize, DetectorScore: o.DetectorScore,
		MouthMask: o.MouthMask, Enhancer: o.Enhancer,
		Swapper: o.Swapper, PixelBoost: o.PixelBoost,
	}
	if o.SwapperWeight != nil {
		fo.SwapperWeight = *o.SwapperWeight
		if fo.SwapperWeight == 0 {
			fo.SwapperWeight = faceswap.SwapperWeightNone // an explicit 0 is a weight of 0, not the default
		}
	}
	if o.ReferenceDistance != nil {
		fo.ReferenceDistance = *o.ReferenceDistance
	}
	if o.MaskBlur != nil {
		fo.MaskBlur = *o.MaskBlur
		if fo.MaskBlur == 0 {
			fo.MaskBlur = faceswap.MaskBlurNone // an explicit 0 means "no blur", not "default"
		}
	}
	if len(o.MaskPadding) == 4 {
		copy(fo.MaskPadding[:], o.MaskPadding)
	}
	if o.EnhancerBlend != nil {
		fo.EnhancerBlend = float64(*o.EnhancerBlend)
		if fo.EnhancerBlend == 0 {
			fo.EnhancerBlend = faceswap.EnhancerBlendNone
		}
	}
	if o.CodeFormerWeight != nil {
		fo.EnhancerWeight = *o.CodeFormerWeight
	}
	return fo
}
