package tasks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
)

// runVideo swaps faces in every frame of a video. The target is downloaded to a
// temporary file (ffprobe and ffmpeg read files; it may be gigabytes), probed and
// checked against the limits before any frame is decoded. Frames then stream from
// one ffmpeg process through the pipeline into another, with no frame ever written to
// disk; the original audio is copied. The job holds one device slot for the whole
// video. A cancel or failure aborts the encoder, which deletes its partial file, so no
// partial output is ever uploaded.
func (h *SwapHandler) runVideo(ctx context.Context, job *jobs.Job) (*jobs.Output, map[string]float64, error) {
	st := stageTimer{}
	dir, err := os.MkdirTemp("", "swapd-"+job.ID+"-")
	if err != nil {
		return nil, st, err
	}
	defer os.RemoveAll(dir)

	in, err := h.fetchInputs(ctx, job, st)
	if err != nil {
		return nil, st, err
	}
	src := filepath.Join(dir, "target")
	t0 := time.Now()
	_, err = h.Fetcher.FetchToFile(ctx, job.Target, src, h.Video.MaxBytes)
	st.since("fetch", t0)
	if err != nil {
		return nil, st, inputErr("target", err)
	}
	t0 = time.Now()
	info, err := media.Probe(ctx, src)
	st.since("probe", t0)
	if err != nil {
		return nil, st, inputErr("target", err)
	}
	if err := h.Video.Check(info); err != nil {
		return nil, st, inputErr("target", err)
	}

	// The source images decoded for the identity count against the memory budget.
	lease, err := h.Memory.Reserve(ctx, nil, in.faceImages()...)
	if err != nil {
		return nil, st, err
	}
	defer lease.Release()
	pipe, release, err := h.acquire(ctx, st)
	if err != nil {
		return nil, st, err
	}
	defer release()
	id, err := h.identity(ctx, job, pipe, in, st)
	if err != nil {
		return nil, st, err
	}
	lease.Release() // their frames are dropped

	// An HDR target is tone-mapped to SDR while decoding, or kept HDR (video_hdr keep:
	// the decoder and encoder must be given the same mode).
	dec, err := media.NewDecoderHDR(ctx, src, info, job.Options.VideoHDR)
	if err != nil {
		return nil, st, err
	}
	defer dec.Close()
	out := filepath.Join(dir, "output.mp4")
	quality := 0
	if job.Options.VideoQuality != nil {
		quality = max(*job.Options.VideoQuality, 1)
	}
	enc, err := media.NewEncoder(ctx, out, info, media.EncodeOptions{Encoder: job.Options.VideoEncoder, Quality: quality, HDR: job.Options.VideoHDR}, src)
	if err != nil {
		return nil, st, err
	}
	defer enc.Abort() // no-op after a successful Close
	progress := h.progressFunc(ctx, job.ID, info.Frames)
	progress(0)
	times := map[string]time.Duration{}
	qctx, qrep := jobs.WithQualityReport(ctx) // the pipeline fills in the similarity report
	res, err := pipe.SwapVideo(qctx, dec, enc, id, job.Options, progress, times)
	st.addAll(times)
	if err != nil {
		return nil, st, err
	}
	t0 = time.Now()
	if err := enc.Close(); err != nil {
		return nil, st, fmt.Errorf("encode video: %w", err)
	}
	st.since("encode_finish", t0)
	release()
	h.Metrics.Frames(res.Frames)
	progress(res.Frames)
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}

	t0 = time.Now()
	f, err := os.Open(out)
	if err != nil {
		return nil, st, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, st, err
	}
	key := jobs.OutputKey(job.ID, "mp4")
	obj, err := h.Store.Put(ctx, key, f, fi.Size(), "video/mp4")
	st.since("upload", t0)
	if err != nil {
		return nil, st, fmt.Errorf("upload output: %w", err)
	}
	o := &jobs.Output{Key: key, ContentType: "video/mp4", Size: obj.Size, Faces: res.FacesSwapped,
		Frames: res.Frames, NoFace: res.FramesWithFaces == 0, FramesExpected: info.ExpectedFrames}
	qrep.Apply(o)
	if info.Truncated(res.Frames) {
		// The decoder reached the end of what is there without an error: a file cut
		// short (a partial upload) plays its first part. Say so instead of passing the
		// shorter video off as the whole.
		o.Truncated = true
		h.Log.Warn("video target is truncated: fewer frames decoded than its header announced",
			"job", job.ID, "frames", res.Frames, "frames_expected", info.ExpectedFrames)
	}
	return o, st, nil
}
