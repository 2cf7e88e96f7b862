package faceswap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
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
// select → swap, mask and paste → enhance → write — one goroutine each, connected
// by channels of 4 frames; letterboxing is split from the detector run so that it
// overlaps the model's run on the previous frame. At most 8 frames are in flight,
// their pixel buffers (and detector input blobs) recycled through a pool, so a
// video allocates no frame buffers after the first 8 frames. The writer restores
// sequence order. Frames in which no face is selected pass through unchanged
// (byte for byte).
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
	if !autoIndexes(opts.SourceIndexes) && (len(opts.SourceIndexes) != 1 || opts.SourceIndexes[0] != 0) {
		return vs, fmt.Errorf("%w: SwapVideo has one source identity, SourceIndexes %v", ErrFaceIndex, opts.SourceIndexes)
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
	workers := p.videoWorkers()
	pool := newFramePool(videoInFlight + 4*(workers-1))
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
		readSt, writeSt         VideoStats
		framesRead, framesWrote int
		complete                bool
	)
	wg.Add(6)   // reader, four stages, writer
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
	// stage runs fn on every frame from in with `workers` goroutines and passes
	// the frames on to out, which it closes once they have all finished. Each
	// worker keeps its own Stats, merged at the end.
	var stageStats []*Stats
	stage := func(workers int, in <-chan *videoFrame, out chan<- *videoFrame, fn func(f *videoFrame, st *Stats) error) {
		var sw sync.WaitGroup
		sw.Add(workers)
		for range workers {
			st := &Stats{}
			stageStats = append(stageStats, st)
			go func() {
				defer sw.Done()
				for {
					f, ok := recv(in)
					if !ok {
						return
					}
					if err := fn(f, st); err != nil {
						fail(fmt.Errorf("faceswap: frame %d: %w", f.seq, err))
						return
					}
					if !send(out, f) {
						fail(run.Err())
						return
					}
				}
			}()
		}
		go func() {
			defer wg.Done()
			sw.Wait()
			close(out)
		}()
	}
	dw, dh := p.det.inputSize(opts.DetectorSize)
	// Letterboxing is the CPU half of detection, split off so it overlaps the
	// model's run on the previous frame.
	stage(1, read, prepared, func(f *videoFrame, st *Stats) error {
		t := time.Now()
		f.det = p.det.prepare(f.frame, dw, dh, f.det.blob)
		st.Detect += time.Since(t)
		return nil
	})
	stage(workers, prepared, detected, func(f *videoFrame, st *Stats) error {
		t := time.Now()
		faces, err := p.det.infer(f.det, opts.DetectorScore)
		if err == nil {
			faces, _, err = p.selectFaces(f.frame, faces, opts, true)
		}
		st.Detect += time.Since(t)
		f.faces = append(f.faces[:0], faces...)
		return err
	})
	stage(workers, detected, swapped, func(f *videoFrame, st *Stats) error {
		if len(f.faces) == 0 {
			return nil
		}
		items := make([]swapItem, len(f.faces))
		for i, face := range f.faces {
			items[i] = swapItem{face, latent}
		}
		return p.swapInto(run, f.frame, items, opts, st)
	})
	stage(workers, swapped, enhanced, func(f *videoFrame, st *Stats) error {
		return p.enhanceInto(run, f.frame, f.faces, opts, st)
	})
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

	var sum Stats
	for _, st := range stageStats {
		sum.add(*st)
	}
	vs = VideoStats{
		Frames:          framesWrote,
		FramesWithFaces: writeSt.FramesWithFaces,
		FacesSwapped:    writeSt.FacesSwapped,
		Detect:          sum.Detect,
		Swap:            sum.Swap,
		Paste:           sum.Paste,
		Enhance:         sum.Enhance,
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
