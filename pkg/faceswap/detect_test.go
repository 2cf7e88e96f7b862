package faceswap_test

import (
	"context"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
)

func inside(p faceswap.Point, box [4]float32) bool {
	return p.X >= box[0] && p.X <= box[2] && p.Y >= box[1] && p.Y <= box[3]
}

func TestDetectAstronaut(t *testing.T) {
	p := testPipeline(t)
	faces, err := p.Detect(context.Background(), loadFrame(t, "astronaut.png"), faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) != 1 {
		t.Fatalf("found %d faces, want 1: %+v", len(faces), faces)
	}
	f := faces[0]
	t.Logf("astronaut: %+v", f)
	if f.Score < 0.5 {
		t.Errorf("score %v", f.Score)
	}
	// The face is in the upper middle of the 512×512 image.
	if w, h := f.Box[2]-f.Box[0], f.Box[3]-f.Box[1]; w < 60 || w > 250 || h < 80 || h > 300 {
		t.Errorf("implausible box size %vx%v", w, h)
	}
	for i, l := range f.Landmarks {
		if !inside(l, f.Box) {
			t.Errorf("landmark %d %v outside box %v", i, l, f.Box)
		}
	}
	lm := f.Landmarks
	if lm[0].X >= lm[1].X {
		t.Errorf("left eye x %v not left of right eye x %v", lm[0].X, lm[1].X)
	}
	if lm[3].X >= lm[4].X {
		t.Errorf("mouth corners out of order: %v %v", lm[3], lm[4])
	}
	eyeY := (lm[0].Y + lm[1].Y) / 2
	if lm[2].Y <= eyeY || lm[3].Y <= lm[2].Y || lm[4].Y <= lm[2].Y {
		t.Errorf("vertical order eyes < nose < mouth violated: %v", lm)
	}
}

func TestDetectGroup(t *testing.T) {
	p := testPipeline(t)
	faces, err := p.Detect(context.Background(), loadFrame(t, "group_test3.jpg"), faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("group_test3: %d faces", len(faces))
	if len(faces) < 3 {
		t.Fatalf("found %d faces, want at least 3", len(faces))
	}
	for i := 1; i < len(faces); i++ {
		if faces[i].Score > faces[i-1].Score {
			t.Errorf("faces not sorted by score")
		}
	}
	// NMS: no two kept boxes overlap by more than the threshold.
	for i := range faces {
		for j := i + 1; j < len(faces); j++ {
			if iou(faces[i].Box, faces[j].Box) > faceswap.NMSThreshold+0.01 {
				t.Errorf("faces %d and %d overlap (IoU %.2f)", i, j, iou(faces[i].Box, faces[j].Box))
			}
		}
	}
}

func TestDetectBlank(t *testing.T) {
	p := testPipeline(t)
	faces, err := p.Detect(context.Background(), grayFrame(400, 300), faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) != 0 {
		t.Fatalf("found %d faces in a blank frame", len(faces))
	}
}

func TestDetectSizesAgree(t *testing.T) {
	p := testPipeline(t)
	fr := loadFrame(t, "grace_hopper.jpg") // 512×600: exercises the tall letterbox
	a, err := p.Detect(context.Background(), fr, faceswap.Options{DetectorSize: 640})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Detect(context.Background(), fr, faceswap.Options{DetectorSize: 320})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("grace_hopper: %d faces at 640, %d at 320", len(a), len(b))
	}
	if v := iou(a[0].Box, b[0].Box); v < 0.7 {
		t.Errorf("boxes at 640 and 320 disagree: IoU %.2f (%v vs %v)", v, a[0].Box, b[0].Box)
	}
	if _, err := p.Detect(context.Background(), fr, faceswap.Options{DetectorSize: 100}); err == nil {
		t.Error("DetectorSize 100 accepted")
	}
}

func iou(a, b [4]float32) float32 {
	iw := min(a[2], b[2]) - max(a[0], b[0])
	ih := min(a[3], b[3]) - max(a[1], b[1])
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	return inter / ((a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter)
}
