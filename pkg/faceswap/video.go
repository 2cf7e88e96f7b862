package faceswap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

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
// Enhance the enhancer's crop, inference and paste.
type VideoStats struct {
	Frames, FramesWithFaces, FacesSwapped     int
	Detect, Swap, Enhance, Paste, Read, Write time.Duration
}

// Video pipeline sizing. Each stage hands frames to the next through a channel of
// videoQueue frames; at most videoInFlight frames exist at once (the frame pool's
// size, which also bounds memory: 8 × 6 MB at 1080p).
const (
	videoQueue    = 4
	videoInFlight = 8
)

// videoFrame is one frame travelling through the stages.
type videoFrame struct {
	seq   int
	frame media.Frame
	det   detInput // the letterboxed detector input; its blob is reused with the frame
	faces []Face   // selected target faces, with landmarks from the original frame
}

// framePool recycles frame buffers and bounds how many exist: get blocks while
// limit frames are in flight.
type framePool struct {
	free  chan *videoFrame
	mu    sync.Mutex
	made  int
	limit int
}

func newFramePool(limit int) *framePool {
	return &framePool{free: make(chan *videoFrame, limit), limit: limit}
}

func (fp *framePool) get(ctx context.Context) (*videoFrame, error) {
	select {
	case f := <-fp.free:
		return f, nil
	default:
	}
	fp.mu.Lock()
	if fp.made < fp.limit {
		fp.made++
		fp.mu.Unlock()
		return &videoFrame{}, nil
	}
	fp.mu.Unlock()
	select {
	case f := <-fp.free:
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (fp *framePool) put(f *videoFrame) {
	f.faces = f.faces[:0]
	select {
	case fp.free <- f:
	default: // cannot happen: at most limit frames exist
	}
}

// SwapVideo swaps faces in every frame r supplies and writes the frames to w, in
// order. Frames move through concurrent stages — read → letterbox → detect and
// select → swap, mask and paste → enhance → write — connected by bounded channels
// (letterboxing is split from the detector run so that it overlaps the model's
// run on the previous frame), with at most
// a handful of frames in flight, their buffers recycled through a pool. Frames in
// which no face is selected pass through unchanged (byte for byte).
//
// Selection works per frame: "one" takes the first face after ordering (the
// largest by default) in each frame, "many" all, "reference" those within
// ReferenceDistance of opts.Reference, TargetIndexes the listed faces of each
// frame counted left to right (indexes a frame does not have are skipped there).
// The enhancer, if any, works on the faces detected in the original frame.
//
// progress, if not nil, is called with the number of frames written so far after
// each write, from the writing goroutine. The first error of any stage (reader,
// model, writer) stops every stage and is returned; so is ctx's error when ctx ends
// first. SwapVideo returns only after all its goroutines have finished.
func (p *Pipeline) SwapVideo(ctx context.Context, r FrameReader, w FrameWriter, src Embedding, opts Options, progress func(done int)) (VideoStats, error) {
	var vs VideoStats
	if err := opts.Validate(); err != nil {
		return vs, err
	}
	opts = opts.WithDefaults()
	if p.swp == nil {
		return vs, errNoSwapper
	}
	if err := p.checkEnhancer(opts); err != nil {
		return vs, err
	}
	if opts.FaceSelector == SelectReference && p.rec == nil {
		return vs, errNoRecognizer
	}
	if r == nil || w == nil {
		return vs, errors.New("faceswap: SwapVideo needs a reader and a writer")
	}
	if err := ctx.Err(); err != nil {
		return vs, err
	}
	latent, err := p.swp.Latent(src)
	if err != nil {
		return vs, err
	}

	run, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() {
			firstErr = err
			cancel()
		})
	}
	pool := newFramePool(videoInFlight)
	read := make(chan *videoFrame, videoQueue)
	prepared := make(chan *videoFrame, videoQueue)
	detected := make(chan *videoFrame, videoQueue)
	swapped := make(chan *videoFrame, videoQueue)
	enhanced := make(chan *videoFrame, videoQueue)

	// send passes f downstream unless the run has ended.
	send := func(ch chan<- *videoFrame, f *videoFrame) bool {
		select {
		case ch <- f:
			return true
		case <-run.Done():
			return false
		}
	}
	// recv takes the next frame; ok is false at the end of the stream or of the run.
	recv := func(ch <-chan *videoFrame) (*videoFrame, bool) {
		select {
		case f, ok := <-ch:
			return f, ok
		case <-run.Done():
			return nil, false
		}
	}

	var (
		wg                      sync.WaitGroup
		readSt, prepSt, detSt   VideoStats
		writeSt                 VideoStats
		swapSt, enhSt           Stats
		framesRead, framesWrote int
		complete                bool
	)
	wg.Add(6)
	go func() { // read
		defer wg.Done()
		defer close(read)
		for seq := 0; ; seq++ {
			f, err := pool.get(run)
			if err != nil {
				fail(err)
				return
			}
			t := time.Now()
			err = r.Next(&f.frame)
			readSt.Read += time.Since(t)
			if err == io.EOF {
				return
			}
			if err == nil && run.Err() == nil {
				err = checkFrame(f.frame)
			}
			if err != nil {
				if run.Err() != nil {
					err = run.Err() // the reader stopped because the run was cancelled
				}
				fail(fmt.Errorf("faceswap: read frame %d: %w", seq, err))
				return
			}
			f.seq = seq
			framesRead++
			if !send(read, f) {
				fail(run.Err())
				return
			}
		}
	}()
	dw, dh := p.det.inputSize(opts.DetectorSize)
	go func() { // letterbox: the CPU half of detection, overlapping the model's run on the previous frame
		defer wg.Done()
		defer close(prepared)
		for {
			f, ok := recv(read)
			if !ok {
				return
			}
			t := time.Now()
			f.det = p.det.prepare(f.frame, dw, dh, f.det.blob)
			prepSt.Detect += time.Since(t)
			if !send(prepared, f) {
				fail(run.Err())
				return
			}
		}
	}()
	go func() { // detect and select
		defer wg.Done()
		defer close(detected)
		for {
			f, ok := recv(prepared)
			if !ok {
				return
			}
			t := time.Now()
			faces, err := p.det.infer(f.det, opts.DetectorScore)
			if err == nil {
				faces, _, err = p.selectFaces(f.frame, faces, opts, true)
			}
			detSt.Detect += time.Since(t)
			if err != nil {
				fail(fmt.Errorf("faceswap: frame %d: %w", f.seq, err))
				return
			}
			f.faces = append(f.faces[:0], faces...)
			if !send(detected, f) {
				fail(run.Err())
				return
			}
		}
	}()
	go func() { // swap, mask, paste
		defer wg.Done()
		defer close(swapped)
		var items []swapItem
		for {
			f, ok := recv(detected)
			if !ok {
				return
			}
			if len(f.faces) > 0 {
				items = items[:0]
				for _, face := range f.faces {
					items = append(items, swapItem{face, latent})
				}
				if err := p.swapInto(run, f.frame, items, opts, &swapSt); err != nil {
					fail(fmt.Errorf("faceswap: frame %d: %w", f.seq, err))
					return
				}
			}
			if !send(swapped, f) {
				fail(run.Err())
				return
			}
		}
	}()
	go func() { // enhance
		defer wg.Done()
		defer close(enhanced)
		for {
			f, ok := recv(swapped)
			if !ok {
				return
			}
			if err := p.enhanceInto(run, f.frame, f.faces, opts, &enhSt); err != nil {
				fail(fmt.Errorf("faceswap: frame %d: %w", f.seq, err))
				return
			}
			if !send(enhanced, f) {
				fail(run.Err())
				return
			}
		}
	}()
	go func() { // write, in sequence order
		defer wg.Done()
		pending := map[int]*videoFrame{}
		next := 0
		for {
			f, ok := recv(enhanced)
			if !ok {
				// The stream ended: complete when every frame read was written
				// and no stage failed or was cancelled.
				complete = run.Err() == nil && len(pending) == 0
				return
			}
			pending[f.seq] = f
			for {
				g, ok := pending[next]
				if !ok {
					break
				}
				if run.Err() != nil {
					return // cancelled or failed elsewhere: write nothing more
				}
				delete(pending, next)
				t := time.Now()
				err := w.Write(g.frame)
				writeSt.Write += time.Since(t)
				if err != nil {
					fail(fmt.Errorf("faceswap: write frame %d: %w", next, err))
					return
				}
				if len(g.faces) > 0 {
					writeSt.FramesWithFaces++
					writeSt.FacesSwapped += len(g.faces)
				}
				next++
				framesWrote = next
				pool.put(g)
				if progress != nil {
					progress(next)
				}
			}
		}
	}()
	wg.Wait()

	vs = VideoStats{
		Frames:          framesWrote,
		FramesWithFaces: writeSt.FramesWithFaces,
		FacesSwapped:    writeSt.FacesSwapped,
		Detect:          prepSt.Detect + detSt.Detect,
		Swap:            swapSt.Swap,
		Paste:           swapSt.Paste,
		Enhance:         enhSt.Enhance,
		Read:            readSt.Read,
		Write:           writeSt.Write,
	}
	if firstErr != nil {
		return vs, firstErr
	}
	if !complete || framesWrote != framesRead {
		if err := ctx.Err(); err != nil {
			return vs, err
		}
		return vs, fmt.Errorf("faceswap: video stopped after %d of %d frames", framesWrote, framesRead)
	}
	return vs, nil
}
