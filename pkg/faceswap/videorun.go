package faceswap

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/swapd/swapd/pkg/media"
)

// videoRun is the state one SwapVideo call shares between its stages. The first
// error any stage reports is kept and cancels run, which every stage watches, so
// one failure stops them all instead of leaving some blocked on a channel.
type videoRun struct {
	p      *Pipeline
	opts   Options
	latent []float32  // the source identity, computed once for every frame
	src    Embedding  // the source identity itself, for the similarity report
	maps   *mappedRun // SwapVideoMapped's mappings; nil in SwapVideo
	detW   int        // the detector canvas
	detH   int
	run    context.Context
	cancel context.CancelFunc
	pool   *framePool
	wg     sync.WaitGroup // every goroutine of the run

	errOnce  sync.Once
	firstErr error

	// Each stage worker keeps its own Stats (appended before the workers start),
	// summed once they have finished.
	stageStats []*Stats

	// Owned by referenceFromFirst, then by feed until wg.Wait returns.
	readTime   time.Duration
	framesRead int
	refDetect  time.Duration // detecting the first frame's faces for the reference
	refEmbed   time.Duration // embedding the reference face
	// Owned by drain until wg.Wait returns.
	written  VideoStats // Frames, FramesWithFaces, FacesSwapped, Write
	frameSim []float64  // each written frame's lowest face similarity, frames with faces only
	complete bool
}

// newVideoRun starts a run bound to ctx; the caller sets pool and must cancel it.
func (p *Pipeline) newVideoRun(ctx context.Context, opts Options, latent []float32, src Embedding) *videoRun {
	v := &videoRun{p: p, opts: opts, latent: latent, src: src}
	v.run, v.cancel = context.WithCancel(ctx)
	v.detW, v.detH = p.det.inputSize(opts.DetectorSize)
	return v
}

// fail records err if it is the run's first and cancels the run.
func (v *videoRun) fail(err error) {
	v.errOnce.Do(func() {
		v.firstErr = err
		v.cancel()
	})
}

// send passes f downstream unless the run has ended.
func (v *videoRun) send(ch chan<- *videoFrame, f *videoFrame) bool {
	select {
	case ch <- f:
		return true
	case <-v.run.Done():
		return false
	}
}

// recv takes the next frame; ok is false at the end of the stream or of the run.
func (v *videoRun) recv(ch <-chan *videoFrame) (*videoFrame, bool) {
	select {
	case f, ok := <-ch:
		return f, ok
	case <-v.run.Done():
		return nil, false
	}
}

// referenceFromFirst reads the first frame and sets the run's Reference to its face
// at ReferenceFace after ordering, as Swap does for an image. It returns the frame,
// which feed then sends first: the frame is read once and travels the pipeline
// like any other, so no copy of it is kept aside.
func (v *videoRun) referenceFromFirst(r FrameReader) (*videoFrame, error) {
	f, err := v.pool.get(v.run)
	if err != nil {
		return nil, err
	}
	t := time.Now()
	err = r.Next(&f.frame)
	v.readTime += time.Since(t)
	if err == nil {
		err = checkFrame(f.frame)
	}
	if err != nil {
		if v.run.Err() != nil {
			err = v.run.Err()
		}
		return nil, fmt.Errorf("faceswap: read frame 0 for the reference face: %w", err)
	}
	t = time.Now()
	faces, err := v.p.det.Detect(f.frame, v.opts.DetectorSize, v.opts.DetectorScore)
	v.refDetect += time.Since(t)
	if err != nil {
		return nil, fmt.Errorf("faceswap: frame 0: %w", err)
	}
	ref, d, err := v.p.reference(f.frame, SortFaces(faces, v.opts.Order), v.opts)
	v.refEmbed += d
	if err != nil {
		return nil, err
	}
	v.opts.Reference = ref
	return f, nil
}

// feed is the decode feeder: it reads frames from r into pooled buffers, numbers
// them and sends them on out, which it closes at the end of the stream; first, if
// not nil, is frame 0, already read. Taking a buffer from the pool blocks while
// videoInFlight frames are on their way, which is what keeps a fast decoder from
// filling memory ahead of the models.
func (v *videoRun) feed(r FrameReader, first *videoFrame, out chan<- *videoFrame) {
	defer v.wg.Done()
	defer close(out)
	seq := 0
	if first != nil {
		first.seq = 0
		v.framesRead++
		if !v.send(out, first) {
			v.fail(v.run.Err())
			return
		}
		seq++
	}
	for ; ; seq++ {
		f, err := v.pool.get(v.run)
		if err != nil {
			v.fail(err)
			return
		}
		t := time.Now()
		err = r.Next(&f.frame)
		v.readTime += time.Since(t)
		if err == io.EOF {
			return
		}
		if err == nil && v.run.Err() == nil {
			err = checkFrame(f.frame)
		}
		if err != nil {
			if v.run.Err() != nil {
				err = v.run.Err() // the reader stopped because the run was cancelled
			}
			v.fail(fmt.Errorf("faceswap: read frame %d: %w", seq, err))
			return
		}
		f.seq = seq
		v.framesRead++
		if !v.send(out, f) {
			v.fail(v.run.Err())
			return
		}
	}
}

// stage runs fn, a per-frame worker, on every frame from in with `workers`
// goroutines and passes the frames on to out, which it closes once they have all
// finished. Frames may leave out of order when workers > 1; drain restores it.
func (v *videoRun) stage(workers int, in <-chan *videoFrame, out chan<- *videoFrame, fn func(f *videoFrame, st *Stats) error) {
	var sw sync.WaitGroup
	sw.Add(workers)
	for range workers {
		st := &Stats{}
		v.stageStats = append(v.stageStats, st)
		go func() {
			defer sw.Done()
			for {
				f, ok := v.recv(in)
				if !ok {
					return
				}
				if err := fn(f, st); err != nil {
					v.fail(fmt.Errorf("faceswap: frame %d: %w", f.seq, err))
					return
				}
				if !v.send(out, f) {
					v.fail(v.run.Err())
					return
				}
			}
		}()
	}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		sw.Wait()
		close(out)
	}()
}

// letterbox prepares the detector input of f, reusing the blob f carries from
// its previous trip through the pipeline.
func (v *videoRun) letterbox(f *videoFrame, st *Stats) error {
	t := time.Now()
	f.det = v.p.det.prepare(f.frame, v.detW, v.detH, f.det.blob)
	st.Detect += time.Since(t)
	return nil
}

// detect runs the detector on f's prepared input and keeps the faces the options
// select (detected).
func (v *videoRun) detect(f *videoFrame, st *Stats) error {
	t := time.Now()
	faces, err := v.p.det.infer(f.det, v.opts.DetectorScore)
	st.Detect += time.Since(t)
	if err != nil {
		return err
	}
	return v.detected(f, faces, st)
}

// detectStage runs detect over the frames from in on `workers` goroutines, or,
// when the detector takes batches (Detector.Batched), on one goroutine that runs
// every frame already waiting, up to maxDetectBatch, through one model Run. It
// never waits for a batch to fill: a batch is what queued up while the previous
// Run ran, so batching adds no latency and grows only when detection is behind.
func (v *videoRun) detectStage(workers int, in <-chan *videoFrame, out chan<- *videoFrame) {
	if !v.p.det.Batched() {
		v.stage(workers, in, out, v.detect)
		return
	}
	v.serialStage(out, func(st *Stats) {
		batch := make([]*videoFrame, 0, maxDetectBatch)
		ins := make([]detInput, 0, maxDetectBatch)
		for {
			f, ok := v.recv(in)
			if !ok {
				return
			}
			batch = append(batch[:0], f)
		waiting:
			for len(batch) < maxDetectBatch {
				select {
				case g, ok := <-in:
					if !ok {
						break waiting
					}
					batch = append(batch, g)
				default:
					break waiting
				}
			}
			ins = ins[:0]
			for _, g := range batch {
				ins = append(ins, g.det)
			}
			t := time.Now()
			faces, err := v.p.det.inferBatch(ins, v.opts.DetectorScore)
			st.Detect += time.Since(t)
			if err != nil {
				v.fail(fmt.Errorf("faceswap: frames %d–%d: %w", batch[0].seq, batch[len(batch)-1].seq, err))
				return
			}
			for i, g := range batch {
				if err := v.detected(g, faces[i], st); err != nil {
					v.fail(fmt.Errorf("faceswap: frame %d: %w", g.seq, err))
					return
				}
				if !v.send(out, g) {
					v.fail(v.run.Err())
					return
				}
			}
		}
	})
}

// serialStage runs body, a stage that works on one goroutine, with Stats of its
// own, and closes out when body returns.
func (v *videoRun) serialStage(out chan<- *videoFrame, body func(st *Stats)) {
	st := &Stats{}
	v.stageStats = append(v.stageStats, st)
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		defer close(out)
		body(st)
	}()
}

// detected keeps what the options select of f's detected faces. Target indexes a
// frame does not have are skipped (lenient selection): a face leaving the picture
// for a while is no reason to fail the video.
func (v *videoRun) detected(f *videoFrame, faces []Face, st *Stats) error {
	t := time.Now()
	faces = v.p.afterDetect(f.seq, faces)
	if v.maps != nil {
		// Mapped: every face, each with its identity, which its track's
		// mean decides the mapping from (videotrack.go).
		st.Detect += time.Since(t)
		SortFaces(faces, OrderLeftRight)
		f.faces = append(f.faces[:0], faces...)
		var d time.Duration
		var err error
		f.embs, d, err = v.p.embedAll(f.frame, f.faces)
		st.Embed += d
		return err
	}
	faces, _, err := v.p.selectFaces(f.frame, faces, v.opts, true)
	st.Detect += time.Since(t)
	f.faces = append(f.faces[:0], faces...)
	return err
}

// swap swaps the source identity into f's selected faces, in place; in a
// mapped swap, it blurs the faces to blur and swaps each mapped face's own
// identity.
func (v *videoRun) swap(f *videoFrame, st *Stats) error {
	for _, face := range f.blur {
		t := time.Now()
		BlurFace(f.frame, face)
		st.Paste += time.Since(t)
	}
	if len(f.faces) == 0 {
		return nil
	}
	items := f.items
	if v.maps == nil {
		items = oneIdentity(f.faces, v.latent, v.src)
	}
	n := len(st.Similarity)
	err := v.p.swapInto(v.run, f.frame, items, v.opts, st)
	f.sim, f.hasSim = 0, len(st.Similarity) > n
	for i, s := range st.Similarity[n:] {
		if i == 0 || s < f.sim {
			f.sim = s
		}
	}
	st.Similarity = st.Similarity[:n] // kept per frame, not per stage worker
	return err
}

// enhance runs the enhancer, if any, over f's swapped faces, in place.
func (v *videoRun) enhance(f *videoFrame, st *Stats) error {
	return v.p.enhanceInto(v.run, f.frame, f.faces, v.opts, st)
}

// drain is the encoder drain: it writes the frames from in to w in sequence
// order, holding back those that overtook an earlier one, returns each written
// buffer to the pool and reports progress. It records whether the stream ended
// with every frame written and nothing failed.
func (v *videoRun) drain(w FrameWriter, in <-chan *videoFrame, progress func(done int)) {
	defer v.wg.Done()
	order := newReorder()
	for {
		f, ok := v.recv(in)
		if !ok {
			// The stream ended: complete when every frame read was written
			// and no stage failed or was cancelled.
			v.complete = v.run.Err() == nil && order.held() == 0
			return
		}
		order.add(f)
		for {
			g, ok := order.take()
			if !ok {
				break
			}
			if v.run.Err() != nil {
				return // cancelled or failed elsewhere: write nothing more
			}
			t := time.Now()
			err := w.Write(g.frame)
			v.written.Write += time.Since(t)
			if err != nil {
				v.fail(fmt.Errorf("faceswap: write frame %d: %w", g.seq, err))
				return
			}
			if len(g.faces) > 0 {
				v.written.FramesWithFaces++
				v.written.FacesSwapped += len(g.faces)
				if g.hasSim {
					v.frameSim = append(v.frameSim, g.sim)
				}
			}
			done := g.seq + 1 // g goes back to the pool: read it first
			v.written.Frames = done
			v.pool.put(g)
			if progress != nil {
				progress(done)
			}
		}
	}
}

// reorder restores sequence order to frames that concurrent stages pass on out
// of order: add holds a frame until every earlier one has been taken.
type reorder struct {
	pending map[int]*videoFrame
	next    int
}

func newReorder() *reorder { return &reorder{pending: map[int]*videoFrame{}} }

func (r *reorder) add(f *videoFrame) { r.pending[f.seq] = f }

// take returns the next frame in sequence, if it has arrived.
func (r *reorder) take() (*videoFrame, bool) {
	f, ok := r.pending[r.next]
	if ok {
		delete(r.pending, r.next)
		r.next++
	}
	return f, ok
}

// held is how many frames wait for an earlier one.
func (r *reorder) held() int { return len(r.pending) }

// result sums the stages' statistics once every goroutine has finished and
// decides the outcome: the first error, else ctx's error or a short-stream error
// when not every frame read was written, else success.
func (v *videoRun) result(ctx context.Context) (VideoStats, error) {
	var sum Stats
	for _, st := range v.stageStats {
		sum.add(*st)
	}
	vs := VideoStats{
		Frames:          v.written.Frames,
		FramesWithFaces: v.written.FramesWithFaces,
		FacesSwapped:    v.written.FacesSwapped,
		Detect:          sum.Detect + v.refDetect,
		Embed:           v.refEmbed + sum.Embed,
		Score:           sum.Score,
		Swap:            sum.Swap,
		Paste:           sum.Paste,
		Enhance:         sum.Enhance,
		Read:            v.readTime,
		Write:           v.written.Write,
	}
	vs.Similarity, vs.HasSimilarity = Summarize(v.frameSim)
	if v.firstErr != nil {
		return vs, v.firstErr
	}
	if !v.complete || vs.Frames != v.framesRead {
		if err := ctx.Err(); err != nil {
			return vs, err
		}
		return vs, fmt.Errorf("faceswap: video stopped after %d of %d frames", vs.Frames, v.framesRead)
	}
	return vs, nil
}

// videoFrame is one frame travelling through the stages.
type videoFrame struct {
	seq    int
	frame  media.Frame
	det    detInput // the letterboxed detector input; its blob is reused with the frame
	faces  []Face   // selected target faces, with landmarks from the original frame
	sim    float64  // the lowest identity similarity of the frame's swapped faces
	hasSim bool

	// Set by the tracking stage (videotrack.go), parallel to faces: each
	// face's track and whether it was held over (interpolated into a frame
	// where it was not detected). Landmarks are then the smoothed ones.
	tracks []*track
	held   []bool
	// Mapped swaps: every face's embedding (detect), then the swap items and
	// the faces to blur (tracking stage); faces becomes the swapped faces.
	embs  []Embedding
	items []swapItem
	blur  []Face
}

// framePool recycles frame buffers and bounds how many are in flight: get
// blocks while limit frames, plus one for each frame the tracking stage holds
// back (setHeld), are out. Held frames get their own allowance because the
// stage can release them only when later frames arrive, which need buffers of
// their own; a video without gaps never holds one, so it uses no more buffers
// than limit.
type framePool struct {
	mu    sync.Mutex
	free  []*videoFrame
	out   int // frames handed out and not yet put back
	limit int
	held  int
	wake  chan struct{} // signalled when a frame is put back or held grows
}

func newFramePool(limit int) *framePool {
	return &framePool{limit: limit, wake: make(chan struct{}, 1)}
}

func (fp *framePool) get(ctx context.Context) (*videoFrame, error) {
	for {
		fp.mu.Lock()
		if fp.out < fp.limit+fp.held {
			fp.out++
			var f *videoFrame
			if n := len(fp.free); n > 0 {
				f = fp.free[n-1]
				fp.free[n-1] = nil
				fp.free = fp.free[:n-1]
			} else {
				f = &videoFrame{}
			}
			fp.mu.Unlock()
			return f, nil
		}
		fp.mu.Unlock()
		select {
		case <-fp.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (fp *framePool) put(f *videoFrame) {
	f.faces = f.faces[:0]
	clear(f.tracks)
	f.tracks, f.held, f.embs, f.items, f.blur = f.tracks[:0], f.held[:0], nil, nil, nil
	fp.mu.Lock()
	fp.out--
	fp.free = append(fp.free, f)
	fp.mu.Unlock()
	fp.signal()
}

// setHeld sets how many frames the tracking stage holds back.
func (fp *framePool) setHeld(n int) {
	fp.mu.Lock()
	grew := n > fp.held
	fp.held = n
	fp.mu.Unlock()
	if grew {
		fp.signal()
	}
}

func (fp *framePool) signal() {
	select {
	case fp.wake <- struct{}{}:
	default:
	}
}
