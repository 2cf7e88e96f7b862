package tasks

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
)

// runImage does the work of one image attempt: fetch, decode, detect/embed/swap/paste,
// encode, upload. Each step checks ctx, so a cancel takes effect within one step.
func (h *SwapHandler) runImage(ctx context.Context, job *jobs.Job) (*jobs.Output, map[string]float64, error) {
	st := stageTimer{}
	const steps = 5
	progress := h.progressFunc(ctx, job.ID, steps)
	progress(0)

	in, err := h.fetchInputs(ctx, job, st)
	if err != nil {
		return nil, st, err
	}
	// What the job's images take decoded, from their headers: waited for before any is
	// decoded, held until the frames are dropped (IMAGE_TOO_LARGE if it never fits).
	lease, err := h.Memory.Reserve(ctx, in.target, in.faceImages()...)
	if err != nil {
		return nil, st, err
	}
	defer lease.Release()
	t0 := time.Now()
	target, _, err := media.Decode(bytes.NewReader(in.target), h.Limits)
	st.since("decode", t0)
	if err != nil {
		return nil, st, fmt.Errorf("target: %w", err)
	}
	progress(1)

	pipe, release, err := h.acquire(ctx, st)
	if err != nil {
		return nil, st, err
	}
	id, err := h.identity(ctx, job, pipe, in, st)
	if err != nil {
		release()
		return nil, st, err
	}
	progress(2)
	times := map[string]time.Duration{}
	qctx, quality := jobs.WithQualityReport(ctx) // the pipeline fills in the similarity report
	result, faces, err := pipe.SwapImage(qctx, target, id, job.Options, times)
	release()
	st.addAll(times)
	if err != nil {
		return nil, st, err
	}
	progress(3)

	t0 = time.Now()
	var buf bytes.Buffer
	contentType, err := media.Encode(&buf, result, job.Options.Format(), job.Options.JPEGQuality)
	st.since("encode", t0)
	if err != nil {
		return nil, st, err
	}
	progress(4)
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}

	t0 = time.Now()
	key := jobs.OutputKey(job.ID, job.Options.Format())
	obj, err := h.Store.Put(ctx, key, &buf, int64(buf.Len()), contentType)
	st.since("upload", t0)
	if err != nil {
		return nil, st, fmt.Errorf("upload output: %w", err)
	}
	progress(5)
	out := &jobs.Output{Key: key, ContentType: contentType, Size: obj.Size, Faces: faces}
	quality.Apply(out)
	return out, st, nil
}
