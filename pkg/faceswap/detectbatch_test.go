package faceswap_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

// A detector with a dynamic batch dimension detects a video's frames several per
// Run, each frame getting its own result: the gated YOLOFace stand-in finds five
// faces in a real frame and none in a black one, and a video alternating them in
// runs of different lengths comes out byte for byte as it does through the same
// model with a batch of 1, in fewer detector Runs, with every black frame
// untouched and every real one swapped.
func TestVideoBatchedDetection(t *testing.T) {
	dir := t.TempDir()
	dets := rowOfFaces(5)
	open := func(dynamic bool) *faceswap.Pipeline {
		path := filepath.Join(dir, map[bool]string{true: "dynamic", false: "static"}[dynamic]+"_"+onnxgen.YOLOFaceFile)
		if err := onnxgen.WriteYOLOFaceGated(path, dets, dynamic); err != nil {
			t.Fatal(err)
		}
		return newPipeline(t, faceswap.ModelPaths{Detector: path, Swapper: testSwapper(t)})
	}
	batched, single := open(true), open(false)
	if !faceswap.DetectorBatched(batched) || faceswap.DetectorBatched(single) {
		t.Fatalf("Batched: dynamic model %v, static model %v", faceswap.DetectorBatched(batched), faceswap.DetectorBatched(single))
	}

	real := loadFrame(t, "group_test3.jpg")
	real = scaleTo(t, real, 640, 480)
	black := media.NewFrame(640, 480)
	// Runs of real and black frames of different lengths, so batches mix them.
	pattern := []bool{true, false, true, true, false, false, true, false, true, true, true, false, true, false, false, true, true, false, true, true}
	var frames []media.Frame
	for _, isReal := range pattern {
		if isReal {
			frames = append(frames, real)
		} else {
			frames = append(frames, black)
		}
	}
	src, _, err := testPipeline(t).Embed(context.Background(), []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := faceswap.Options{FaceSelector: faceswap.SelectMany, TrackHold: faceswap.TrackHoldNone}
	run := func(p *faceswap.Pipeline) ([]media.Frame, int64, faceswap.VideoStats) {
		out := &collector{failAt: -1}
		before := faceswap.DetectorRuns(p)
		st, err := p.SwapVideo(context.Background(), &sliceReader{frames: frames}, out, src, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out.frames, faceswap.DetectorRuns(p) - before, st
	}
	got, runsBatched, st := run(batched)
	want, runsSingle, _ := run(single)
	if runsSingle != int64(len(frames)) {
		t.Fatalf("batch-1 model: %d detector runs for %d frames", runsSingle, len(frames))
	}
	if runsBatched >= runsSingle {
		t.Errorf("batched detector: %d runs for %d frames, want fewer", runsBatched, len(frames))
	}
	t.Logf("%d frames: %d detector runs batched, %d one at a time", len(frames), runsBatched, runsSingle)
	if len(got) != len(frames) || len(want) != len(frames) {
		t.Fatalf("wrote %d and %d frames, want %d", len(got), len(want), len(frames))
	}
	for k, isReal := range pattern {
		if !bytes.Equal(got[k].Pix, want[k].Pix) {
			t.Errorf("frame %d differs between the batched and the batch-1 detector", k)
		}
		if changed := !bytes.Equal(got[k].Pix, frames[k].Pix); changed != isReal {
			t.Errorf("frame %d (real %v): changed %v", k, isReal, changed)
		}
	}
	if want := 5 * countTrue(pattern); st.FacesSwapped != want {
		t.Errorf("%d faces swapped, want %d", st.FacesSwapped, want)
	}
}

// rowOfFaces is n YOLOFace stand-in detections side by side across the 640×640
// canvas, face-sized for a 640-wide frame.
func rowOfFaces(n int) []onnxgen.YOLOFaceDetection {
	var dets []onnxgen.YOLOFaceDetection
	for i := range n {
		cx := float32(70 + 125*i)
		f := faceswap.Face{Box: [4]float32{cx - 30, 250, cx + 30, 330}, Landmarks: [5]faceswap.Point{
			{X: cx - 12, Y: 280}, {X: cx + 12, Y: 280}, {X: cx, Y: 295}, {X: cx - 10, Y: 312}, {X: cx + 10, Y: 312}}}
		dets = append(dets, yoloDetection(100+i*1000, f, 0.9))
	}
	return dets
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// scaleTo resizes f to w×h (nearest neighbour: the test only needs a real,
// non-dark picture of that size).
func scaleTo(t *testing.T, f media.Frame, w, h int) media.Frame {
	t.Helper()
	out := media.NewFrame(w, h)
	for y := range h {
		for x := range w {
			sx, sy := x*f.Width/w, y*f.Height/h
			copy(out.Pix[(y*w+x)*3:(y*w+x)*3+3], f.Pix[(sy*f.Width+sx)*3:])
		}
	}
	return out
}
