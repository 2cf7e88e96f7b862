package faceswap_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

// stamp writes k into the top-left 6×6 pixels, far from any face, so a frame's
// position in the stream can be read back from the output.
func stamp(f media.Frame, k int) {
	for y := 0; y < 6; y++ {
		for x := 0; x < 6; x++ {
			i := (y*f.Width + x) * 3
			f.Pix[i], f.Pix[i+1], f.Pix[i+2] = uint8(k), uint8(k>>8), 77
		}
	}
}

func stampOf(f media.Frame) int { return int(f.Pix[0]) | int(f.Pix[1])<<8 }

// sliceReader serves copies of frames (cycling through them until total frames
// have been served, when total > 0), then io.EOF. onNext, if set, runs before
// each frame is served (k is the frame about to be served).
type sliceReader struct {
	frames []media.Frame
	total  int
	n      int
	onNext func(k int) error
}

func (r *sliceReader) Next(dst *media.Frame) error {
	if r.onNext != nil {
		if err := r.onNext(r.n); err != nil {
			return err
		}
	}
	if total := max(r.total, len(r.frames)); r.n >= total {
		return io.EOF
	}
	src := r.frames[r.n%len(r.frames)]
	r.n++
	if cap(dst.Pix) < len(src.Pix) {
		dst.Pix = make([]byte, len(src.Pix))
	}
	dst.Width, dst.Height, dst.Pix = src.Width, src.Height, dst.Pix[:len(src.Pix)]
	copy(dst.Pix, src.Pix)
	return nil
}

// collector keeps clones of what it is given; failAt ≥ 0 makes that write fail.
type collector struct {
	frames []media.Frame
	failAt int
	err    error
}

func (c *collector) Write(f media.Frame) error {
	if c.failAt >= 0 && len(c.frames) == c.failAt {
		return c.err
	}
	c.frames = append(c.frames, f.Clone())
	return nil
}

// videoFrames alternates stamped face frames (even k) and gray frames whose level
// also encodes k (odd k).
func videoFrames(t testing.TB, n int, face media.Frame) []media.Frame {
	out := make([]media.Frame, n)
	for k := range out {
		if k%2 == 0 {
			out[k] = face.Clone()
		} else {
			out[k] = grayFrame(face.Width, face.Height)
			for i := range out[k].Pix {
				out[k].Pix[i] = uint8(40 + k)
			}
		}
		stamp(out[k], k)
	}
	return out
}

func checkNoLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after SwapVideo, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestSwapVideo(t *testing.T) {
	for _, opts := range []faceswap.Options{
		{},
		{MouthMask: true, Enhancer: faceswap.EnhancerGFPGAN14},
	} {
		t.Run(fmt.Sprintf("mouth=%v,enhancer=%q", opts.MouthMask, opts.Enhancer), func(t *testing.T) {
			p := fullPipeline(t)
			ctx := context.Background()
			src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
			if err != nil {
				t.Fatal(err)
			}
			face := loadFrame(t, "grace_hopper.jpg")
			in := videoFrames(t, 14, face)
			before := runtime.NumGoroutine()
			w := &collector{failAt: -1}
			var progress []int
			st, err := p.SwapVideo(ctx, &sliceReader{frames: in}, w, src, opts, func(done int) { progress = append(progress, done) })
			if err != nil {
				t.Fatal(err)
			}
			checkNoLeak(t, before)
			t.Logf("stats %+v", st)
			if st.Frames != len(in) || st.FramesWithFaces != len(in)/2 || st.FacesSwapped != len(in)/2 {
				t.Errorf("stats %+v", st)
			}
			if st.Detect <= 0 || st.Swap <= 0 || st.Paste <= 0 || st.Read <= 0 || st.Write <= 0 || (opts.Enhancer != "") != (st.Enhance > 0) {
				t.Errorf("stage times %+v", st)
			}
			if len(w.frames) != len(in) || len(progress) != len(in) {
				t.Fatalf("wrote %d frames, %d progress calls, want %d", len(w.frames), len(progress), len(in))
			}
			for k, f := range w.frames {
				if progress[k] != k+1 {
					t.Errorf("progress call %d reported %d", k, progress[k])
				}
				if got := stampOf(f); got != k {
					t.Errorf("output frame %d carries frame %d", k, got)
				}
				if k%2 == 1 {
					if m := maxDiff(f, in[k], whole(f)); m != 0 {
						t.Errorf("gray frame %d changed by %d", k, m)
					}
					continue
				}
				// What each face frame must become: the image path's result.
				want, _, err := p.Swap(ctx, in[k], src, opts)
				if err != nil {
					t.Fatal(err)
				}
				if m := maxDiff(f, want, whole(f)); m != 0 {
					t.Errorf("face frame %d differs from the image pipeline's result by %d", k, m)
				}
			}
		})
	}
}

func TestSwapVideoReference(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	grace := loadFrame(t, "grace_hopper.jpg")
	ref, _, err := p.Embed(ctx, []media.Frame{grace}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Grace, then the group (other people, another frame size), alternating.
	group := loadFrame(t, "group_test3.jpg")
	in := []media.Frame{grace, group, grace, group}
	w := &collector{failAt: -1}
	st, err := p.SwapVideo(ctx, &sliceReader{frames: in}, w, src, faceswap.Options{FaceSelector: faceswap.SelectReference, Reference: ref}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 4 || st.FramesWithFaces != 2 || st.FacesSwapped != 2 {
		t.Errorf("stats %+v", st)
	}
	for k, f := range w.frames {
		m := maxDiff(f, in[k], whole(f))
		if k%2 == 1 && m != 0 {
			t.Errorf("frame %d without the reference person changed by %d", k, m)
		}
		if k%2 == 0 && m == 0 {
			t.Errorf("frame %d with the reference person unchanged", k)
		}
	}
	// "many" and indexes work per frame too: index 2 exists only in the group.
	w = &collector{failAt: -1}
	st, err = p.SwapVideo(ctx, &sliceReader{frames: in}, w, src, faceswap.Options{TargetIndexes: []int{2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.FramesWithFaces != 2 || maxDiff(w.frames[0], in[0], whole(in[0])) != 0 || maxDiff(w.frames[1], in[1], whole(in[1])) == 0 {
		t.Errorf("TargetIndexes [2] in video: stats %+v", st)
	}
}

func TestSwapVideoCancel(t *testing.T) {
	p := testPipeline(t)
	src, _, err := p.Embed(context.Background(), []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	face := loadFrame(t, "grace_hopper.jpg")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// An endless stream, cancelled once three frames have been written.
	r := &sliceReader{frames: videoFrames(t, 2, face), total: 1 << 30}
	w := &collector{failAt: -1}
	before := runtime.NumGoroutine()
	var cancelled time.Time
	st, err := p.SwapVideo(ctx, r, w, src, faceswap.Options{}, func(done int) {
		if done == 3 {
			cancelled = time.Now()
			cancel()
		}
	})
	stopped := time.Since(cancelled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v", err)
	}
	checkNoLeak(t, before)
	t.Logf("SwapVideo returned %v after the cancel, having written %d frames; the reader served %d", stopped, len(w.frames), r.n)
	if stopped > time.Second || r.n > 3+20 {
		t.Errorf("cancel took %v to stop SwapVideo; reader served %d frames", stopped, r.n)
	}
	if st.Frames != len(w.frames) || st.Frames != 3 {
		t.Errorf("stats %+v after cancel, %d written", st, len(w.frames))
	}
	for k, f := range w.frames {
		if stampOf(f) != k%2 {
			t.Errorf("frame %d out of order after cancel", k)
		}
	}
	// An already-cancelled context does nothing.
	if _, err := p.SwapVideo(ctx, r, w, src, faceswap.Options{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("SwapVideo with a cancelled context: %v", err)
	}
}

func TestSwapVideoErrors(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	face := loadFrame(t, "grace_hopper.jpg")

	// The writer fails at frame 3: that error comes back, nothing after it is
	// written, and the reader stops soon after.
	diskFull := errors.New("disk full")
	r := &sliceReader{frames: videoFrames(t, 2, face), total: 200}
	w := &collector{failAt: 3, err: diskFull}
	before := runtime.NumGoroutine()
	st, err := p.SwapVideo(ctx, r, w, src, faceswap.Options{}, nil)
	if !errors.Is(err, diskFull) {
		t.Fatalf("writer error: got %v", err)
	}
	checkNoLeak(t, before)
	if len(w.frames) != 3 || st.Frames != 3 {
		t.Errorf("wrote %d frames (stats %d), want 3", len(w.frames), st.Frames)
	}
	if r.n > 30 {
		t.Errorf("reader kept going: %d frames read", r.n)
	}

	// A reader error comes back too (the first error wins over the cancellation
	// it causes).
	broken := errors.New("corrupt packet")
	r = &sliceReader{frames: videoFrames(t, 20, face), onNext: func(k int) error {
		if k == 5 {
			return broken
		}
		return nil
	}}
	w = &collector{failAt: -1}
	if _, err := p.SwapVideo(ctx, r, w, src, faceswap.Options{}, nil); !errors.Is(err, broken) {
		t.Errorf("reader error: got %v", err)
	}
	if len(w.frames) > 5 {
		t.Errorf("%d frames written past a reader error at frame 5", len(w.frames))
	}
	// A malformed frame is an error, not a crash.
	bad := &sliceReader{frames: []media.Frame{{Width: 10, Height: 10, Pix: make([]byte, 7)}}}
	if _, err := p.SwapVideo(ctx, bad, &collector{failAt: -1}, src, faceswap.Options{}, nil); err == nil {
		t.Error("malformed frame accepted")
	}
	// An empty video is fine.
	st, err = p.SwapVideo(ctx, &sliceReader{}, &collector{failAt: -1}, src, faceswap.Options{}, nil)
	if err != nil || st.Frames != 0 {
		t.Errorf("empty video: %+v %v", st, err)
	}
	if _, err := p.SwapVideo(ctx, &sliceReader{}, &collector{failAt: -1}, src, faceswap.Options{Enhancer: faceswap.EnhancerGFPGAN14}, nil); err == nil {
		t.Error("unconfigured enhancer accepted")
	}
	if _, err := p.SwapVideo(ctx, &sliceReader{}, &collector{failAt: -1}, src[:3], faceswap.Options{}, nil); err == nil {
		t.Error("short embedding accepted")
	}
}

// A reader that runs concurrently with the stages must not race with them: the
// pipeline hands each buffer to one stage at a time (run with -race).
func TestSwapVideoBufferReuse(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := videoFrames(t, 30, grayFrame(64, 48))
	var mu sync.Mutex
	seen := map[*byte]int{}
	r := &sliceReader{frames: in}
	w := &collector{failAt: -1}
	wrap := writerFunc(func(f media.Frame) error {
		mu.Lock()
		seen[&f.Pix[0]]++
		mu.Unlock()
		return w.Write(f)
	})
	if _, err := p.SwapVideo(ctx, r, wrap, src, faceswap.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	if len(seen) > 8 {
		t.Errorf("%d distinct frame buffers for 30 frames; the pool should bound them", len(seen))
	}
	for k, f := range w.frames {
		if maxDiff(f, in[k], whole(f)) != 0 {
			t.Errorf("frame %d changed", k)
		}
	}
}

type writerFunc func(media.Frame) error

func (f writerFunc) Write(fr media.Frame) error { return f(fr) }
