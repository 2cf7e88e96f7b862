package faceswap

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

// FrameReader supplies video frames in order. Next fills dst with the next frame,
// reusing dst.Pix when its capacity suffices (allocating otherwise), and returns
// io.EOF after the last frame. media.Decoder implements it. Next should return
// promptly once the context SwapVideo was given ends (media.Decoder does, since
// its ffmpeg process is bound to that context); SwapVideo waits for it.
type FrameReader interface {
	Next(dst *media.Frame) error
}

// FrameWriter consumes the processed frames in order. It must not keep f.Pix
// after Write returns: the buffer goes back to SwapVideo's frame pool. media.Encoder
// implements it.
type FrameWriter interface {
	Write(f media.Frame) error
}

// VideoStats reports what SwapVideo did. The durations are the busy time of each
// stage, summed over frames; the stages overlap, so they add up to more than the
// wall time. Detect includes face selection (and, in reference mode, embedding the
// frame's faces); Swap covers crop and swapper inference, Paste mask and blend,
// Enhance the enhancer's crop, inference and paste. Embed is embedding the
// reference face taken from the first frame (reference mode without Reference).
type VideoStats struct {
	Frames, FramesWithFaces, FacesSwapped            int
	Detect, Embed, Swap, Enhance, Paste, Read, Write time.Duration
	Score                                            time.Duration // the similarity report
	// Similarity summarises, over the frames with a swapped face, each frame's
	// lowest identity similarity (see Stats.Similarity); HasSimilarity is false
	// when no frame had one.
	Similarity    SimilaritySummary
	HasSimilarity bool
}

// Video pipeline sizing. Each stage hands frames to the next through a channel of
// videoQueue frames; at most videoInFlight frames exist at once (the frame pool's
// size, which also bounds memory: 8 × 6 MB at 1080p).
const (
	videoQueue    = 4
	videoInFlight = 8
)

// videoWorkers is how many goroutines run each model stage of SwapVideo. On a
// GPU, and on a CPU device whose sessions use ORT's default of one intra-op thread
// per core, one Run at a time already uses the device, so 1. A CPU device with
// IntraOpThreads set runs GOMAXPROCS/IntraOpThreads frames at once (at most 4):
// frame-level parallelism, which on a small CPU beats splitting every convolution
// across threads that then also wait for the Go stages.
func (p *Pipeline) videoWorkers() int {
	d := p.dev
	if d.Kind != inference.KindCPU || d.IntraOpThreads <= 0 {
		return 1
	}
	return min(max(runtime.GOMAXPROCS(0)/d.IntraOpThreads, 1), 4)
}

// SwapVideo swaps faces in every frame r supplies and writes the frames to w, in
// order. Frames move through concurrent stages — read → letterbox → detect and
// select → track → swap, mask and paste → enhance → write — one goroutine each,
// connected by channels of 4 frames; letterboxing is split from the detector run
// so that it overlaps the model's run on the previous frame. At most 8 frames are
// in flight, their pixel buffers (and detector input blobs) recycled through a
// pool, so a video allocates no frame buffers after the first 8 frames (plus one
// per frame the tracking stage holds back, below). The writer restores sequence
// order. Frames in which no face is selected (or held over) pass through
// unchanged (byte for byte).
//
// Tracking (videotrack.go): the selected faces are followed from frame to frame,
// their landmarks smoothed over time (smooth.go; opts.NoSmoothing turns it off)
// so the swapped face does not tremble with the detector's noise, and a face the
// detector misses for up to opts.TrackHold frames is still swapped there, at
// landmarks interpolated across the gap (hold-over), unless the region no longer
// looks like it (appearance.go). A still face's landmarks are not changed, so its
// frames are what Swap makes of them.
//
// Selection works per frame: "one" takes the first face after ordering (the
// largest by default) in each frame, "many" all, "reference" those within
// ReferenceDistance of opts.Reference (without one, of the first frame's face at
// opts.ReferenceFace), TargetIndexes the listed faces of each frame counted left
// to right (indexes a frame does not have are skipped there).
// The enhancer, if any, works on the faces detected in the original frame.
//
// progress, if not nil, is called with the number of frames written so far after
// each write, from the writing goroutine. The first error of any stage (reader,
// model, writer) stops every stage and is returned; so is ctx's error when ctx ends
// first. SwapVideo returns only after all its goroutines have finished.
func (p *Pipeline) SwapVideo(ctx context.Context, r FrameReader, w FrameWriter, src Embedding, opts Options, progress func(done int)) (VideoStats, error) {
	if err := opts.Validate(); err != nil {
		return VideoStats{}, err
	}
	opts = opts.WithDefaults()
	if err := p.checkVideo(r, w, opts); err != nil {
		return VideoStats{}, err
	}
	if err := ctx.Err(); err != nil {
		return VideoStats{}, err
	}
	sw, err := p.swapperFor(opts)
	if err != nil {
		return VideoStats{}, err
	}
	latent, err := sw.Latent(src)
	if err != nil {
		return VideoStats{}, err
	}

	v := p.newVideoRun(ctx, opts, latent, src)
	defer v.cancel()
	return v.runStages(ctx, r, w, progress)
}

// runStages runs v's stages over the frames of r, writes them to w and returns
// the outcome (SwapVideo, SwapVideoMapped).
func (v *videoRun) runStages(ctx context.Context, r FrameReader, w FrameWriter, progress func(done int)) (VideoStats, error) {
	workers := v.p.videoWorkers()
	v.pool = newFramePool(videoInFlight + 4*(workers-1))
	read := make(chan *videoFrame, videoQueue)
	prepared := make(chan *videoFrame, videoQueue)
	detected := make(chan *videoFrame, videoQueue)
	tracked := make(chan *videoFrame, videoQueue)
	swapped := make(chan *videoFrame, videoQueue)
	enhanced := make(chan *videoFrame, videoQueue)

	var first *videoFrame
	opts := v.opts
	if v.maps == nil && opts.FaceSelector == SelectReference && len(opts.Reference) == 0 && autoIndexes(opts.TargetIndexes) {
		var err error
		if first, err = v.referenceFromFirst(r); err != nil {
			v.fail(err)
			return v.result(ctx)
		}
	}
	v.wg.Add(1)
	go v.feed(r, first, read)
	// Letterboxing is the CPU half of detection, split off so it overlaps the
	// model's run on the previous frame: one goroutine suffices.
	v.stage(1, read, prepared, v.letterbox)
	v.detectStage(workers, prepared, detected)
	// Tracking needs the frames in order: one goroutine (videotrack.go).
	v.trackFrames(detected, tracked)
	v.stage(workers, tracked, swapped, v.swap)
	v.stage(workers, swapped, enhanced, v.enhance)
	v.wg.Add(1)
	go v.drain(w, enhanced, progress)
	v.wg.Wait()
	return v.result(ctx)
}

// checkVideo refuses, before any frame is read, what SwapVideo cannot do with
// these (validated, defaulted) options: a missing model or enhancer, no reader or
// writer, a source index other than the one identity a video swaps in.
func (p *Pipeline) checkVideo(r FrameReader, w FrameWriter, opts Options) error {
	if _, err := p.swapperFor(opts); err != nil {
		return err
	}
	if err := p.checkEnhancer(opts); err != nil {
		return err
	}
	if opts.FaceSelector == SelectReference && p.rec == nil {
		return errNoRecognizer
	}
	if r == nil || w == nil {
		return errors.New("faceswap: SwapVideo needs a reader and a writer")
	}
	if !autoIndexes(opts.SourceIndexes) && (len(opts.SourceIndexes) != 1 || opts.SourceIndexes[0] != 0) {
		return fmt.Errorf("%w: SwapVideo has one source identity, SourceIndexes %v", ErrFaceIndex, opts.SourceIndexes)
	}
	return nil
}
