package workercmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/tasks"
)

// devicePool pairs every device with the pipeline whose sessions live on it, and hands
// them out under the device's slot semaphore: a worker with two devices runs two jobs'
// inference at once, one per device, and never more than a device's slots.
type devicePool struct {
	pool      *inference.Pool
	pipelines map[*inference.Device]*faceswap.Pipeline
}

// Acquire implements tasks.Devices.
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
	return jobPipeline{p}, release, nil
}

// jobPipeline adapts faceswap.Pipeline to a job: options in, coded errors out.
type jobPipeline struct{ p *faceswap.Pipeline }

func (j jobPipeline) Run(ctx context.Context, sources []media.Frame, target media.Frame, o jobs.Options, stages map[string]time.Duration) (media.Frame, int, error) {
	opts := faceswapOptions(o)
	emb, es, err := j.p.Embed(ctx, sources, opts)
	stages["detect"] += es.Detect
	stages["embed"] += es.Embed
	if err != nil {
		return media.Frame{}, 0, pipelineError(err)
	}
	out, ss, err := j.p.Swap(ctx, target, emb, opts)
	stages["detect"] += ss.Detect
	stages["swap"] += ss.Swap
	stages["paste"] += ss.Paste
	if err != nil {
		return media.Frame{}, 0, pipelineError(err)
	}
	return out, ss.SwappedFaces, nil
}

// faceswapOptions maps the client's options onto the pipeline's.
func faceswapOptions(o jobs.Options) faceswap.Options {
	fo := faceswap.Options{FaceSelector: o.FaceSelector, DetectorScore: o.DetectorScore}
	if o.MaskBlur != nil {
		fo.MaskBlur = *o.MaskBlur
		if fo.MaskBlur == 0 {
			fo.MaskBlur = faceswap.MaskBlurNone // an explicit 0 means "no blur", not "default"
		}
	}
	if len(o.MaskPadding) == 4 {
		copy(fo.MaskPadding[:], o.MaskPadding)
	}
	return fo.WithDefaults()
}

// pipelineError gives the pipeline's sentinel errors their client-facing codes.
func pipelineError(err error) error {
	switch {
	case errors.Is(err, faceswap.ErrNoFaceInSource):
		return errcode.New(errcode.NoFaceInSource, "no face was found in a source image; use a clear, frontal photo of one face")
	case errors.Is(err, faceswap.ErrNoFaceInTarget):
		return errcode.New(errcode.NoFaceInTarget, "no face was found in the target image")
	}
	return err
}
