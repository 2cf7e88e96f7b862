// Package jobpipe runs a job's face work on one device's face pipeline: it is the
// adapter between tasks, which speaks in jobs (jobs.Options as a client sent them,
// errcode errors, per-stage timings by name), and pkg/faceswap, which speaks in
// pipeline terms (faceswap.Options, sentinel errors, Stats). It implements
// tasks.Pipeline for a *faceswap.Pipeline.
//
// It sits in its own package, neither in tasks nor in the worker's wiring, because
// both neighbours must stay free of the other's concerns: tasks is imported by the
// API to enqueue work and must not pull in ONNX Runtime, and faceswap knows nothing
// of clients, error codes or job options. What lives here is exactly the
// translation: option mapping (options.go), error mapping (errors.go) and stage
// timings (timings.go).
package jobpipe

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/tasks"
)

// Pipeline is a device's face pipeline seen from a job: options in, coded errors
// out. It is a small value; two made from the same *faceswap.Pipeline are equal.
type Pipeline struct{ p *faceswap.Pipeline }

// New adapts p to tasks.Pipeline.
func New(p *faceswap.Pipeline) Pipeline { return Pipeline{p} }

var _ tasks.Pipeline = Pipeline{}

// check refuses, for good, what no retry can fix: an enhancer this worker does not
// have, options the pipeline rejects.
func (j Pipeline) check(o jobs.Options) error {
	if o.Enhancer != "" && !slices.Contains(j.p.Enhancers(), o.Enhancer) {
		return errcode.New(errcode.InvalidRequest, "enhancer %q is not installed on this worker (installed: %v)", o.Enhancer, j.p.Enhancers())
	}
	// A swapper the API let through (some worker offered it) that this one lacks,
	// or a pixel boost its default model cannot take: no retry here can fix it.
	if o.Swapper != "" && !slices.Contains(j.p.Swappers(), o.Swapper) {
		return errcode.New(errcode.UnsupportedOption, "swapper %q is not installed on this worker (installed: %v)", o.Swapper, j.p.Swappers())
	}
	if name := cmp.Or(o.Swapper, j.p.DefaultSwapper()); o.PixelBoost != 0 && !faceswap.PixelBoostValid(name, o.PixelBoost) {
		return errcode.New(errcode.UnsupportedOption, "pixel_boost %d is not a multiple of %s's %d px", o.PixelBoost, name, faceswap.SwapperSize(name))
	}
	// A mask model the API let through (some worker offered it) that this one lacks.
	if err := j.p.CheckMasks(faceswapOptions(o)); err != nil {
		return errcode.New(errcode.UnsupportedOption, "%v", err)
	}
	// The full pipeline options, not only the embedding's: anything the pipeline
	// would refuse mid-job (and the worker would take for a transient failure) is
	// refused now.
	for _, v := range []interface{ Validate() error }{embedOptions(o), faceswapOptions(o)} {
		if err := v.Validate(); err != nil {
			return errcode.New(errcode.InvalidRequest, "%v", err)
		}
	}
	return nil
}

// EmbedLargest implements tasks.Pipeline.
func (j Pipeline) EmbedLargest(ctx context.Context, src media.Frame, o jobs.Options, stages map[string]time.Duration) ([]float32, error) {
	e, st, err := j.p.Embed(ctx, []media.Frame{src}, embedOptions(o))
	addTimes(stages, st)
	return e, coded(err)
}

// EmbedFaces implements tasks.Pipeline.
func (j Pipeline) EmbedFaces(ctx context.Context, src media.Frame, o jobs.Options, stages map[string]time.Duration) ([][]float32, error) {
	es, st, err := j.p.EmbedFaces(ctx, src, embedOptions(o))
	addTimes(stages, st)
	out := make([][]float32, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out, coded(err)
}

// Average implements tasks.Pipeline.
func (j Pipeline) Average(embs [][]float32) ([]float32, error) {
	es := make([]faceswap.Embedding, len(embs))
	for i, e := range embs {
		es[i] = e
	}
	return faceswap.AverageEmbeddings(es)
}

// SwapImage implements tasks.Pipeline. Without a reference image, reference mode
// takes the reference from the target (options.reference_face_position); the
// pipeline does so on the faces it detects for the swap.
func (j Pipeline) SwapImage(ctx context.Context, target media.Frame, id tasks.Identity, o jobs.Options, stages map[string]time.Duration) (media.Frame, int, error) {
	if err := j.check(o); err != nil {
		return media.Frame{}, 0, err
	}
	opts := swapOptions(o, id)
	var (
		out media.Frame
		st  faceswap.Stats
		err error
	)
	if len(id.Mappings) > 0 {
		out, st, err = j.p.SwapMapped(ctx, target, mappings(id), unmapped(id), opts)
	} else if len(id.Faces) > 0 {
		sources := make([]faceswap.Embedding, len(id.Faces))
		for i, e := range id.Faces {
			sources[i] = e
		}
		out, st, err = j.p.SwapIndexed(ctx, target, sources, opts)
	} else {
		out, st, err = j.p.Swap(ctx, target, id.Embedding, opts)
	}
	addTimes(stages, st)
	if err != nil {
		return media.Frame{}, 0, coded(err)
	}
	q, err := imageQuality(o, st.Similarity)
	if r := jobs.QualityReportFrom(ctx); r != nil {
		*r = q
	}
	if err != nil {
		return media.Frame{}, 0, err
	}
	return out, st.SwappedFaces, nil
}

// SwapVideo implements tasks.Pipeline. Without a reference image, reference mode
// takes the reference from the first frame, which the pipeline reads for it.
func (j Pipeline) SwapVideo(ctx context.Context, r tasks.FrameReader, w tasks.FrameWriter, id tasks.Identity, o jobs.Options, progress func(int), stages map[string]time.Duration) (tasks.VideoResult, error) {
	if err := j.check(o); err != nil {
		return tasks.VideoResult{}, err
	}
	var (
		vs  faceswap.VideoStats
		err error
	)
	if len(id.Mappings) > 0 {
		vs, err = j.p.SwapVideoMapped(ctx, r, w, mappings(id), unmapped(id), swapOptions(o, id), progress)
	} else {
		vs, err = j.p.SwapVideo(ctx, r, w, id.Embedding, swapOptions(o, id), progress)
	}
	addVideoTimes(stages, vs)
	res := tasks.VideoResult{Frames: vs.Frames, FramesWithFaces: vs.FramesWithFaces, FacesSwapped: vs.FacesSwapped}
	if err != nil {
		return res, coded(err)
	}
	q, err := videoQuality(o, vs)
	if r := jobs.QualityReportFrom(ctx); r != nil {
		*r = q
	}
	return res, err
}
