package workercmd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/metrics"
	"github.com/swapd/swapd/tasks"
)

// devicePool pairs every device with the pipeline whose sessions live on it, and hands
// them out under the device's slot semaphore: a worker with two devices runs two jobs'
// inference at once, one per device, and never more than a device's slots.
type devicePool struct {
	pool      *inference.Pool
	pipelines map[*inference.Device]*faceswap.Pipeline
	metrics   *metrics.Metrics
}

// Acquire implements tasks.Devices. The release function may be called more than once.
func (d *devicePool) Acquire(ctx context.Context) (tasks.Pipeline, func(), error) {
	dev, release, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	p, ok := d.pipelines[dev]
	if !ok {
		release()
		return nil, nil, fmt.Errorf("device %s has no pipeline", dev)
	}
	d.metrics.SlotAcquired(dev.Name)
	var once sync.Once
	return jobPipeline{p}, func() {
		once.Do(func() {
			release()
			d.metrics.SlotReleased(dev.Name)
		})
	}, nil
}

// jobPipeline adapts faceswap.Pipeline to a job: options in, coded errors out.
type jobPipeline struct{ p *faceswap.Pipeline }

// check refuses, for good, what no retry can fix: an enhancer this worker does not
// have, options the pipeline rejects.
func (j jobPipeline) check(o jobs.Options) error {
	if o.Enhancer != "" && !slices.Contains(j.p.Enhancers(), o.Enhancer) {
		return errcode.New(errcode.InvalidRequest, "enhancer %q is not installed on this worker (installed: %v)", o.Enhancer, j.p.Enhancers())
	}
	if err := embedOptions(o).Validate(); err != nil {
		return errcode.New(errcode.InvalidRequest, "%v", err)
	}
	return nil
}

func (j jobPipeline) EmbedLargest(ctx context.Context, src media.Frame, o jobs.Options, stages map[string]time.Duration) ([]float32, error) {
	e, st, err := j.p.Embed(ctx, []media.Frame{src}, embedOptions(o))
	addStats(stages, st)
	return e, pipelineError(err)
}

func (j jobPipeline) EmbedFaces(ctx context.Context, src media.Frame, o jobs.Options, stages map[string]time.Duration) ([][]float32, error) {
	es, st, err := j.p.EmbedFaces(ctx, src, embedOptions(o))
	addStats(stages, st)
	out := make([][]float32, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out, pipelineError(err)
}

func (j jobPipeline) Average(embs [][]float32) ([]float32, error) {
	es := make([]faceswap.Embedding, len(embs))
	for i, e := range embs {
		es[i] = e
	}
	return faceswap.AverageEmbeddings(es)
}

func (j jobPipeline) SwapImage(ctx context.Context, target media.Frame, id tasks.Identity, o jobs.Options, stages map[string]time.Duration) (media.Frame, int, error) {
	if err := j.check(o); err != nil {
		return media.Frame{}, 0, err
	}
	opts, err := j.selection(ctx, target, id, o, stages)
	if err != nil {
		return media.Frame{}, 0, err
	}
	var out media.Frame
	var st faceswap.Stats
	if len(id.Faces) > 0 {
		sources := make([]faceswap.Embedding, len(id.Faces))
		for i, e := range id.Faces {
			sources[i] = e
		}
		out, st, err = j.p.SwapIndexed(ctx, target, sources, opts)
	} else {
		out, st, err = j.p.Swap(ctx, target, id.Embedding, opts)
	}
	addStats(stages, st)
	if err != nil {
		return media.Frame{}, 0, pipelineError(err)
	}
	return out, st.SwappedFaces, nil
}

func (j jobPipeline) SwapVideo(ctx context.Context, r tasks.FrameReader, w tasks.FrameWriter, id tasks.Identity, o jobs.Options, progress func(int), stages map[string]time.Duration) (tasks.VideoResult, error) {
	if err := j.check(o); err != nil {
		return tasks.VideoResult{}, err
	}
	opts := faceswapOptions(o)
	if opts.FaceSelector == faceswap.SelectReference && id.Reference == nil {
		// No reference image: the reference face is picked from the first frame.
		first := media.Frame{}
		if err := r.Next(&first); err != nil {
			return tasks.VideoResult{}, fmt.Errorf("read first frame: %w", err)
		}
		ref, err := j.referenceFrom(ctx, first, o, stages)
		if err != nil {
			return tasks.VideoResult{}, err
		}
		opts.Reference = ref
		r = &replayFirst{first: first, rest: r}
	} else {
		opts.Reference = id.Reference
	}
	vs, err := j.p.SwapVideo(ctx, r, w, id.Embedding, opts, progress)
	stages["detect"] += vs.Detect
	stages["swap"] += vs.Swap
	stages["paste"] += vs.Paste
	stages["enhance"] += vs.Enhance
	stages["decode"] += vs.Read
	stages["encode"] += vs.Write
	return tasks.VideoResult{Frames: vs.Frames, FramesWithFaces: vs.FramesWithFaces, FacesSwapped: vs.FacesSwapped}, pipelineError(err)
}

// selection completes the options for a target: in reference mode without a
// reference image, the reference is the target's face at reference_face_position.
func (j jobPipeline) selection(ctx context.Context, target media.Frame, id tasks.Identity, o jobs.Options, stages map[string]time.Duration) (faceswap.Options, error) {
	opts := faceswapOptions(o)
	if opts.FaceSelector != faceswap.SelectReference {
		return opts, nil
	}
	if id.Reference != nil {
		opts.Reference = id.Reference
		return opts, nil
	}
	ref, err := j.referenceFrom(ctx, target, o, stages)
	opts.Reference = ref
	return opts, err
}

func (j jobPipeline) referenceFrom(ctx context.Context, frame media.Frame, o jobs.Options, stages map[string]time.Duration) (faceswap.Embedding, error) {
	opts := embedOptions(o).WithDefaults() // detection only: the reference is what we are finding
	t0 := time.Now()
	faces, err := j.p.Detect(ctx, frame, opts)
	stages["detect"] += time.Since(t0)
	if err != nil {
		return nil, err
	}
	faces = faceswap.SortFaces(faces, opts.Order)
	if o.ReferenceFacePosition >= len(faces) {
		return nil, errcode.New(errcode.NoFaceInTarget, "reference_face_position %d, but the reference frame has %d faces", o.ReferenceFacePosition, len(faces))
	}
	t0 = time.Now()
	e, err := j.p.EmbedFace(frame, faces[o.ReferenceFacePosition])
	stages["embed"] += time.Since(t0)
	return e, err
}

// replayFirst serves a frame already read, then the rest of the stream.
type replayFirst struct {
	first media.Frame
	used  bool
	rest  tasks.FrameReader
}

func (r *replayFirst) Next(dst *media.Frame) error {
	if !r.used {
		r.used = true
		dst.Width, dst.Height = r.first.Width, r.first.Height
		dst.Pix = append(dst.Pix[:0], r.first.Pix...)
		return nil
	}
	return r.rest.Next(dst)
}

func addStats(stages map[string]time.Duration, st faceswap.Stats) {
	stages["detect"] += st.Detect
	stages["embed"] += st.Embed
	stages["swap"] += st.Swap
	stages["paste"] += st.Paste
	stages["enhance"] += st.Enhance
}

// embedOptions are the options for embedding a source: detection settings only, since
// target selection (a reference mode without its reference yet) does not apply.
func embedOptions(o jobs.Options) faceswap.Options {
	opts := faceswapOptions(o)
	opts.FaceSelector, opts.TargetIndexes, opts.SourceIndexes, opts.Enhancer = faceswap.SelectMany, nil, nil, ""
	return opts
}

// faceswapOptions maps the client's options onto the pipeline's.
func faceswapOptions(o jobs.Options) faceswap.Options {
	fo := faceswap.Options{
		FaceSelector: o.FaceSelector, Order: o.FaceOrder,
		TargetIndexes: o.TargetIndexes, SourceIndexes: o.SourceIndexes,
		DetectorSize: o.DetectorSize, DetectorScore: o.DetectorScore,
		MouthMask: o.MouthMask, Enhancer: o.Enhancer,
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

// pipelineError gives the pipeline's errors their client-facing codes.
func pipelineError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, faceswap.ErrNoFaceInSource):
		return errcode.New(errcode.NoFaceInSource, "no face was found in a source image; use a clear, frontal photo of one face")
	case errors.Is(err, faceswap.ErrNoFaceSelected): // wraps ErrNoFaceInTarget: test it first
		return errcode.New(errcode.NoFaceInTarget, "no face in the target matched the face selection")
	case errors.Is(err, faceswap.ErrNoFaceInTarget):
		return errcode.New(errcode.NoFaceInTarget, "no face was found in the target image")
	}
	// An index beyond the faces found: the request was well formed, the image lacks
	// the face it names (the index range itself is checked at submit).
	var fe *faceswap.FaceIndexError
	switch {
	case errors.As(err, &fe) && fe.Target:
		return errcode.New(errcode.NoFaceInTarget, "target_indexes names target face %d, but the target has %d face(s)", fe.Index, fe.Faces)
	case errors.As(err, &fe):
		return errcode.New(errcode.NoFaceInSource, "source_indexes names source face %d, but the source has %d face(s)", fe.Index, fe.Faces)
	case errors.Is(err, faceswap.ErrFaceIndex):
		return errcode.New(errcode.InvalidRequest, "%v", err)
	}
	return err
}
