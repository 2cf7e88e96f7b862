package faceswap_test

import (
	"context"
	"math"
	"reflect"
	"runtime"
	"sort"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

// trackedVideo swaps frames with "many" (every face) and returns, per frame, the
// faces the tracking stage handed to the swap. drop, if not nil, is the
// detector wrapper.
func trackedVideo(t *testing.T, frames []media.Frame, opts faceswap.Options, drop func(seq int, faces []faceswap.Face) []faceswap.Face) (map[int][]faceswap.TrackedFace, faceswap.VideoStats) {
	t.Helper()
	p := newPipeline(t, faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: testSwapper(t)})
	got, st, _ := trackedVideoOn(t, p, frames, opts, drop)
	return got, st
}

// trackedVideoOn is trackedVideo on p, which it sets hooks on; it also returns
// the frames written.
func trackedVideoOn(t *testing.T, p *faceswap.Pipeline, frames []media.Frame, opts faceswap.Options, drop func(seq int, faces []faceswap.Face) []faceswap.Face) (map[int][]faceswap.TrackedFace, faceswap.VideoStats, []media.Frame) {
	t.Helper()
	src, _, err := p.Embed(context.Background(), []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int][]faceswap.TrackedFace{}
	faceswap.SetOnTracked(p, func(seq int, faces []faceswap.TrackedFace) { got[seq] = faces })
	if drop != nil {
		faceswap.SetDropDetections(p, drop)
	}
	opts.FaceSelector = faceswap.SelectMany
	w := &collector{failAt: -1}
	st, err := p.SwapVideo(context.Background(), &sliceReader{frames: frames}, w, src, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(frames) || len(w.frames) != len(frames) {
		t.Fatalf("tracking stage reported %d, writer got %d of %d frames", len(got), len(w.frames), len(frames))
	}
	return got, st, w.frames
}

// alignedJitter is the frame-to-frame jitter of the aligned crops: for each
// track and each three consecutive frames it is in, the mean distance of the
// second difference of where the crop's five template points fall in the frame
// (the inverse of the alignment fitted to the landmarks), in pixels. True
// motion over three frames is nearly linear and contributes little; detector
// noise contributes its full amplitude.
func alignedJitter(frames map[int][]faceswap.TrackedFace) float64 {
	type sample struct {
		seq int
		pts [5]faceswap.Point
	}
	tracks := map[int][]sample{}
	tmpl := faceswap.ArcFace128.Scaled(128)
	for seq, faces := range frames {
		for _, f := range faces {
			m := faceswap.AlignTransform(f.Face.Landmarks, faceswap.ArcFace128, 128)
			inv, ok := m.Invert()
			if !ok {
				continue
			}
			var s sample
			s.seq = seq
			for i, p := range tmpl {
				s.pts[i] = inv.Apply(p)
			}
			tracks[f.Track] = append(tracks[f.Track], s)
		}
	}
	var sum float64
	var n int
	for _, ss := range tracks {
		sort.Slice(ss, func(i, j int) bool { return ss[i].seq < ss[j].seq })
		for i := 2; i < len(ss); i++ {
			if ss[i].seq != ss[i-1].seq+1 || ss[i-1].seq != ss[i-2].seq+1 {
				continue
			}
			for k := range 5 {
				dx := float64(ss[i].pts[k].X - 2*ss[i-1].pts[k].X + ss[i-2].pts[k].X)
				dy := float64(ss[i].pts[k].Y - 2*ss[i-1].pts[k].Y + ss[i-2].pts[k].Y)
				sum += math.Hypot(dx, dy)
				n++
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Smoothing the landmarks over each track reduces the jitter of the aligned
// crops on the test video.
func TestSmoothingReducesJitter(t *testing.T) {
	frames := fivePeopleFrames(t)
	raw, _ := trackedVideo(t, frames, faceswap.Options{NoSmoothing: true}, nil)
	smooth, _ := trackedVideo(t, frames, faceswap.Options{}, nil)
	before, after := alignedJitter(raw), alignedJitter(smooth)
	t.Logf("aligned-crop landmark jitter (mean |second difference|, px): %.3f without smoothing, %.3f with", before, after)
	if !(after < 0.7*before) {
		t.Errorf("smoothing took jitter from %.3f to %.3f px, want at least 30%% less", before, after)
	}
}

// droppedFrames counts frames in which fewer than people faces were handed to
// the swap, and the held-over faces.
func droppedFrames(frames map[int][]faceswap.TrackedFace, people int) (dropped, held int) {
	for _, faces := range frames {
		if len(faces) < people {
			dropped++
		}
		for _, f := range faces {
			if f.Held {
				held++
			}
		}
	}
	return dropped, held
}

// dropLeftmost is a detector wrapper dropping the leftmost face on the frames of at.
func dropLeftmost(at map[int]bool) func(seq int, faces []faceswap.Face) []faceswap.Face {
	return func(seq int, faces []faceswap.Face) []faceswap.Face {
		if !at[seq] || len(faces) == 0 {
			return faces
		}
		left := 0
		for i, f := range faces {
			if f.Box[0] < faces[left].Box[0] {
				left = i
			}
		}
		return append(append([]faceswap.Face(nil), faces[:left]...), faces[left+1:]...)
	}
}

// With several detect and swap workers, frames reach the tracking stage out of
// order: it restores the order, so tracking, hold-over and the output are those
// of a single worker.
func TestTrackingWithSeveralWorkers(t *testing.T) {
	frames := fivePeopleFrames(t)[:36]
	drop := dropLeftmost(map[int]bool{10: true, 11: true, 12: true})
	one, _, outOne := trackedVideoOn(t, newPipeline(t, faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: testSwapper(t)}), frames, faceswap.Options{}, drop)

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	devs, err := inference.ParseDevices("cpu:9", 1)
	if err != nil {
		t.Fatal(err)
	}
	devs[0].IntraOpThreads = 1 // four frames at once (videoWorkers)
	defer devs[0].Close()
	p, err := faceswap.New(faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: testSwapper(t)}, devs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	many, _, outMany := trackedVideoOn(t, p, frames, faceswap.Options{}, drop)
	for seq := range frames {
		if !reflect.DeepEqual(one[seq], many[seq]) {
			t.Errorf("frame %d: one worker tracked %+v, four %+v", seq, one[seq], many[seq])
		}
		if m := maxDiff(outOne[seq], outMany[seq], whole(outOne[seq])); m != 0 {
			t.Errorf("frame %d: outputs differ by %d", seq, m)
		}
	}
	if d, held := droppedFrames(many, 5); d != 0 || held < 3 {
		t.Errorf("four workers: %d frames lost a face, %d held over", d, held)
	}
}

// A detector wrapper drops the leftmost face on chosen frames (on top of the
// small detector's own misses): without hold-over those frames lose a swapped
// face, with it none does, and each person keeps one track.
func TestHoldOverBridgesDroppedDetections(t *testing.T) {
	frames := fivePeopleFrames(t)
	dropAt := map[int]bool{20: true, 21: true, 22: true, 50: true, 51: true, 52: true, 53: true, 70: true}
	drop := dropLeftmost(dropAt)
	none, stNone := trackedVideo(t, frames, faceswap.Options{TrackHold: faceswap.TrackHoldNone}, drop)
	hold, stHold := trackedVideo(t, frames, faceswap.Options{}, drop)
	dNone, _ := droppedFrames(none, 5)
	dHold, held := droppedFrames(hold, 5)
	t.Logf("frames with a selected face dropped: %d without hold-over, %d with (TrackHold %d, %d faces held over); faces swapped %d → %d",
		dNone, dHold, faceswap.DefaultTrackHold, held, stNone.FacesSwapped, stHold.FacesSwapped)
	if dNone < len(dropAt) {
		t.Errorf("without hold-over only %d frames lost a face; the wrapper alone drops %d", dNone, len(dropAt))
	}
	if dHold != 0 {
		t.Errorf("with hold-over %d frames still lost a face", dHold)
	}
	if stHold.FacesSwapped != 5*len(frames) {
		t.Errorf("with hold-over %d faces swapped, want %d", stHold.FacesSwapped, 5*len(frames))
	}
	// Hold-over keeps one track per person.
	ids := map[int]bool{}
	for _, faces := range hold {
		for _, f := range faces {
			ids[f.Track] = true
		}
	}
	if len(ids) != 5 {
		t.Errorf("%d tracks with hold-over, want one per person (5)", len(ids))
	}
}
