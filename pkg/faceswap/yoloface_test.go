package faceswap_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

// yoloDetection turns a face in canvas pixels into a stand-in output column.
func yoloDetection(anchor int, f faceswap.Face, score float32) onnxgen.YOLOFaceDetection {
	d := onnxgen.YOLOFaceDetection{
		Anchor: anchor, Score: score, LandmarkConfidence: 0.95,
		CX: (f.Box[0] + f.Box[2]) / 2, CY: (f.Box[1] + f.Box[3]) / 2,
		W: f.Box[2] - f.Box[0], H: f.Box[3] - f.Box[1],
	}
	for i, l := range f.Landmarks {
		d.Landmarks[i] = [2]float32{l.X, l.Y}
	}
	return d
}

func scaleFace(f faceswap.Face, s float32) faceswap.Face {
	for i := range f.Box {
		f.Box[i] *= s
	}
	for i := range f.Landmarks {
		f.Landmarks[i].X *= s
		f.Landmarks[i].Y *= s
	}
	return f
}

func closeFaces(a, b faceswap.Face, tol float64) bool {
	for i := range a.Box {
		if math.Abs(float64(a.Box[i]-b.Box[i])) > tol {
			return false
		}
	}
	for i := range a.Landmarks {
		if math.Abs(float64(a.Landmarks[i].X-b.Landmarks[i].X)) > tol || math.Abs(float64(a.Landmarks[i].Y-b.Landmarks[i].Y)) > tol {
			return false
		}
	}
	return true
}

// TestYOLOFaceEndToEnd runs the YOLOFace path through ONNX Runtime with a
// stand-in whose output holds chosen detections: the pipeline must pick the
// YOLOFace decoder from the signature, drop the low-score and duplicate rows,
// map canvas coordinates back through FaceFusion's letterbox, and swap with the
// result exactly as with the same landmarks from SCRFD.
func TestYOLOFaceEndToEnd(t *testing.T) {
	ref := testPipeline(t)
	ctx := context.Background()
	dir := t.TempDir()
	for _, c := range []struct {
		image string
		scale float32 // frame → 640 canvas
	}{
		{"grace_hopper.jpg", 1},              // 512×600 fits: not resized
		{"pexels_4195444.jpg", 640.0 / 1080}, // shrunk to 640×640
	} {
		frame := loadFrame(t, c.image)
		want, err := ref.Detect(ctx, frame, faceswap.Options{})
		if err != nil || len(want) != 1 {
			t.Fatalf("%s: SCRFD found %d faces: %v", c.image, len(want), err)
		}
		canvas := scaleFace(want[0], c.scale)
		dup := canvas
		for i := range dup.Box {
			dup.Box[i] += 3
		}
		far := faceswap.Face{Box: [4]float32{10, 10, 60, 70}}
		path := filepath.Join(dir, c.image+".onnx")
		err = onnxgen.WriteYOLOFace(path, []onnxgen.YOLOFaceDetection{
			yoloDetection(4321, canvas, 0.88),
			yoloDetection(4322, dup, 0.70), // overlaps: removed by NMS
			yoloDetection(100, far, 0.30),  // below the 0.5 threshold
		})
		if err != nil {
			t.Fatal(err)
		}
		p := newPipeline(t, faceswap.ModelPaths{Detector: path, Recognizer: recognizerPath, Swapper: testSwapper(t)})
		if p.DetectorKind() != faceswap.DetectorYOLOFace || ref.DetectorKind() != faceswap.DetectorSCRFD {
			t.Fatalf("detector kinds %q / %q", p.DetectorKind(), ref.DetectorKind())
		}
		// The model's input is a fixed 640×640: DetectorSize does not apply.
		got, err := p.Detect(ctx, frame, faceswap.Options{DetectorSize: 320})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("%s: YOLOFace found %d faces, want 1: %+v", c.image, len(got), got)
		}
		if got[0].Score != 0.88 || !closeFaces(got[0], want[0], 0.01) {
			t.Errorf("%s: YOLOFace face %+v, want %+v", c.image, got[0], want[0])
		}
		// A lower threshold keeps the 0.3 row too.
		low, err := p.Detect(ctx, frame, faceswap.Options{DetectorScore: 0.2})
		if err != nil || len(low) != 2 {
			t.Errorf("%s: threshold 0.2 gave %d faces, want 2 (%v)", c.image, len(low), err)
		}
		if c.scale == 1 {
			src, _, err := ref.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
			if err != nil {
				t.Fatal(err)
			}
			a, _, err := p.Swap(ctx, frame, src, faceswap.Options{})
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := ref.Swap(ctx, frame, src, faceswap.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d := regionDiff(a, b, [4]float32{0, 0, float32(a.Width), float32(a.Height)}); d != 0 {
				t.Errorf("swap via YOLOFace differs from swap via SCRFD with the same landmarks: %v", d)
			}
			if d := regionDiff(a, frame, shrink(want[0].Box, 0.6)); d < 25 {
				t.Errorf("YOLOFace swap barely changed the face: %v", d)
			}
		}
	}
}
