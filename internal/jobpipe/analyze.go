package jobpipe

import (
	"context"
	"time"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/tasks"
)

var _ tasks.Analyzer = Pipeline{}

// AnalyzeImage implements tasks.Analyzer: the pipeline's faces, left to right, in
// the job's terms (identity ids, boxes in float64 pixels), each its own identity.
func (j Pipeline) AnalyzeImage(ctx context.Context, target media.Frame, o jobs.Options, stages map[string]time.Duration) (tasks.Analysis, error) {
	if err := j.check(o); err != nil {
		return tasks.Analysis{}, err
	}
	a, st, err := j.p.AnalyzeImage(ctx, target, analyzeOptions(o))
	addTimes(stages, st)
	if err != nil {
		return tasks.Analysis{}, coded(err)
	}
	var res tasks.Analysis
	for _, f := range a.Faces {
		af := jobs.AnalyzedFace{Index: f.Index, Box: box(f.Face.Box), Score: float64(f.Face.Score), Identity: jobs.IdentityID(f.Identity)}
		for k, p := range f.Face.Landmarks {
			af.Landmarks[k] = [2]float64{float64(p.X), float64(p.Y)}
		}
		res.Result.Faces = append(res.Result.Faces, af)
		res.FaceThumbs = append(res.FaceThumbs, f.Thumb)
	}
	for _, id := range a.Identities {
		addIdentity(&res, id)
		// In one image every identity is one face: the face whose identity it is.
		for _, f := range a.Faces {
			if f.Identity == id.ID {
				idx := f.Index
				res.Result.Identities[len(res.Result.Identities)-1].Face = &idx
			}
		}
	}
	return res, nil
}

// AnalyzeVideo implements tasks.Analyzer.
func (j Pipeline) AnalyzeVideo(ctx context.Context, r tasks.FrameReader, o jobs.Options, progress func(int), stages map[string]time.Duration) (tasks.Analysis, error) {
	if err := j.check(o); err != nil {
		return tasks.Analysis{}, err
	}
	stride := max(o.AnalyzeStride, 1)
	va, err := j.p.AnalyzeVideo(ctx, r, analyzeOptions(o), stride, progress)
	addVideoTimes(stages, va.Stats)
	if err != nil {
		return tasks.Analysis{}, coded(err)
	}
	res := tasks.Analysis{Result: jobs.Analysis{Frames: va.Frames, FramesAnalysed: va.FramesAnalysed, Stride: max(va.Stride, stride)}}
	for _, id := range va.Identities {
		addIdentity(&res, id)
	}
	return res, nil
}

// addIdentity appends a pipeline identity to res: its id, frames, best face, thumbnail
// and mean embedding.
func addIdentity(res *tasks.Analysis, id faceswap.Identity) {
	res.Result.Identities = append(res.Result.Identities, jobs.Identity{
		ID: jobs.IdentityID(id.ID), FirstFrame: id.FirstFrame, LastFrame: id.LastFrame,
		Frames: max(id.Frames, 1), Tracks: max(id.Tracks, 1), BestFrame: id.BestFrame,
		Box: box(id.Best.Box), Score: float64(id.Best.Score),
	})
	res.IdentityThumbs = append(res.IdentityThumbs, id.Thumb)
	res.Embeddings = append(res.Embeddings, id.Embedding)
}

// box is a face box in the job's numbers.
func box(b [4]float32) [4]float64 {
	return [4]float64{float64(b[0]), float64(b[1]), float64(b[2]), float64(b[3])}
}

// analyzeOptions are the pipeline's options for an analysis: detection settings
// only; every face is wanted, none is swapped.
func analyzeOptions(o jobs.Options) faceswap.Options {
	opts := embedOptions(o)
	opts.FaceSelector = faceswap.SelectMany
	return opts
}
