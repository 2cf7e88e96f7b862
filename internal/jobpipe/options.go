package jobpipe

import (
	"math"

	"github.com/swapd/swapd/pkg/errcode"
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
		MaskTypes: o.MaskTypes, OccluderModel: o.OccluderModel, ParserModel: o.ParserModel,
		MaskRegions: o.MaskRegions, MaskAreas: o.MaskAreas,
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
	if o.TrackHold != nil {
		fo.TrackHold = *o.TrackHold
		if fo.TrackHold == 0 {
			fo.TrackHold = faceswap.TrackHoldNone // an explicit 0 turns hold-over off
		}
	}
	return fo
}

// imageQuality is an image's similarity report (sims per swapped face, in swap
// order) with options.min_similarity applied: low when any face is below it. With
// on_low_similarity=fail a low report is a LOW_SIMILARITY error, the report
// still returned.
func imageQuality(o jobs.Options, sims []float64) (jobs.QualityReport, error) {
	q := jobs.QualityReport{Similarity: make([]float64, len(sims))}
	worst, idx := 0.0, -1
	for i, s := range sims {
		q.Similarity[i] = round4(s)
		if idx < 0 || s < worst {
			worst, idx = s, i
		}
	}
	if o.MinSimilarity == nil || idx < 0 || worst >= *o.MinSimilarity {
		return q, nil
	}
	q.LowSimilarity = true
	if o.OnLowSimilarity == jobs.LowSimilarityFail {
		return q, errcode.New(errcode.LowSimilarity, "swapped face %d has identity similarity %.4f, below options.min_similarity %g", idx, worst, *o.MinSimilarity)
	}
	return q, nil
}

// videoQuality is a video's similarity report: the summary over frames with a
// swapped face and the share of frames with a selected face, low when the p10
// is below options.min_similarity (a video without a face is not low: it has
// output.no_face).
func videoQuality(o jobs.Options, vs faceswap.VideoStats) (jobs.QualityReport, error) {
	var q jobs.QualityReport
	if vs.Frames > 0 {
		share := round4(float64(vs.FramesWithFaces) / float64(vs.Frames))
		q.FaceFramesShare = &share
	}
	if !vs.HasSimilarity {
		return q, nil
	}
	s := vs.Similarity
	q.VideoSimilarity = &jobs.SimilarityStats{Min: round4(s.Min), Mean: round4(s.Mean), P10: round4(s.P10)}
	if o.MinSimilarity == nil || s.P10 >= *o.MinSimilarity {
		return q, nil
	}
	q.LowSimilarity = true
	if o.OnLowSimilarity == jobs.LowSimilarityFail {
		return q, errcode.New(errcode.LowSimilarity, "the video's 10th-percentile identity similarity %.4f is below options.min_similarity %g", s.P10, *o.MinSimilarity)
	}
	return q, nil
}

// round4 rounds a similarity to 4 decimals for the report (thresholds are
// compared with the exact value).
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
