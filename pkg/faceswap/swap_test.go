package faceswap_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

// regionDiff is the mean absolute per-channel difference of a and b inside box.
func regionDiff(a, b media.Frame, box [4]float32) float64 {
	var s, n float64
	for y := max(int(box[1]), 0); y < min(int(box[3]), a.Height); y++ {
		for x := max(int(box[0]), 0); x < min(int(box[2]), a.Width); x++ {
			for c := 0; c < 3; c++ {
				i := (y*a.Width+x)*3 + c
				s += math.Abs(float64(a.Pix[i]) - float64(b.Pix[i]))
				n++
			}
		}
	}
	return s / n
}

// shrink returns the central part of box (fraction f of its width and height).
func shrink(box [4]float32, f float32) [4]float32 {
	cx, cy := (box[0]+box[2])/2, (box[1]+box[3])/2
	hw, hh := (box[2]-box[0])*f/2, (box[3]-box[1])*f/2
	return [4]float32{cx - hw, cy - hh, cx + hw, cy + hh}
}

func TestSwapGraceWithAstronaut(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	target := loadFrame(t, "grace_hopper.jpg")
	orig := target.Clone()
	out, st, err := p.Swap(ctx, target, src, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats %+v", st)
	if st.TargetFaces != 1 || st.SwappedFaces != 1 || st.Detect <= 0 || st.Swap <= 0 || st.Paste <= 0 {
		t.Errorf("stats %+v", st)
	}
	for i := range target.Pix {
		if target.Pix[i] != orig.Pix[i] {
			t.Fatal("Swap modified its input frame")
		}
	}
	if out.Width != target.Width || out.Height != target.Height || len(out.Pix) != len(target.Pix) {
		t.Fatalf("output %dx%d", out.Width, out.Height)
	}
	faces, err := p.Detect(ctx, target, faceswap.Options{})
	if err != nil || len(faces) != 1 {
		t.Fatalf("target faces %d %v", len(faces), err)
	}
	core := shrink(faces[0].Box, 0.6)
	d := regionDiff(out, target, core)
	t.Logf("mean abs diff in the face core: %.1f levels", d)
	if d < 25 {
		t.Errorf("face region barely changed: %.1f", d)
	}
	// Far from the face nothing changes at all: 40 px corners.
	for _, c := range [][2]int{{0, 0}, {target.Width - 40, 0}, {0, target.Height - 40}, {target.Width - 40, target.Height - 40}} {
		box := [4]float32{float32(c[0]), float32(c[1]), float32(c[0] + 40), float32(c[1] + 40)}
		if d := regionDiff(out, target, box); d != 0 {
			t.Errorf("corner %v changed by %.3f", c, d)
		}
	}

	// A different identity gives a different face.
	other, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "group_test3.jpg")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out2, _, err := p.Swap(ctx, target, other, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d2 := regionDiff(out, out2, core)
	t.Logf("mean abs diff between two sources in the face core: %.1f levels", d2)
	if d2 < 5 {
		t.Errorf("different sources give nearly the same face: %.1f", d2)
	}
	// Same inputs, same output: the pipeline is deterministic.
	out3, _, err := p.Swap(ctx, target, src, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if regionDiff(out, out3, [4]float32{0, 0, float32(out.Width), float32(out.Height)}) != 0 {
		t.Error("repeated Swap differs")
	}
}

func TestSwapMany(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	group := loadFrame(t, "group_test3.jpg")
	faces, err := p.Detect(ctx, group, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	one, st1, err := p.Swap(ctx, group, src, faceswap.Options{FaceSelector: faceswap.SelectOne})
	if err != nil {
		t.Fatal(err)
	}
	many, stN, err := p.Swap(ctx, group, src, faceswap.Options{FaceSelector: faceswap.SelectMany})
	if err != nil {
		t.Fatal(err)
	}
	if st1.SwappedFaces != 1 || stN.SwappedFaces != len(faces) || stN.TargetFaces != len(faces) {
		t.Fatalf("one: %+v many: %+v (faces %d)", st1, stN, len(faces))
	}
	var largest faceswap.Face
	for _, f := range faces {
		if f.Area() > largest.Area() {
			largest = f
		}
	}
	for _, f := range faces {
		core := shrink(f.Box, 0.6)
		if d := regionDiff(many, group, core); d < 20 {
			t.Errorf("many: face at %v changed only %.1f", f.Box, d)
		}
		d := regionDiff(one, group, core)
		if f.Box == largest.Box && d < 20 {
			t.Errorf("one: largest face changed only %.1f", d)
		}
		if f.Box != largest.Box && d != 0 {
			t.Errorf("one: other face at %v changed by %.1f", f.Box, d)
		}
	}
}

func TestSwapErrors(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Swap(ctx, grayFrame(320, 240), src, faceswap.Options{}); !errors.Is(err, faceswap.ErrNoFaceInTarget) {
		t.Errorf("blank target: %v", err)
	}
	if _, _, err := p.Embed(ctx, []media.Frame{grayFrame(320, 240)}, faceswap.Options{}); !errors.Is(err, faceswap.ErrNoFaceInSource) {
		t.Errorf("blank source: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := p.Swap(cancelled, loadFrame(t, "grace_hopper.jpg"), src, faceswap.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if _, _, err := p.Swap(ctx, loadFrame(t, "grace_hopper.jpg"), src, faceswap.Options{FaceSelector: "all"}); err == nil {
		t.Error("bad FaceSelector accepted")
	}
	if _, _, err := p.Swap(ctx, loadFrame(t, "grace_hopper.jpg"), src[:10], faceswap.Options{}); err == nil {
		t.Error("short embedding accepted")
	}
	if _, _, err := p.Swap(ctx, media.Frame{Width: 10, Height: 10}, src, faceswap.Options{}); err == nil {
		t.Error("frame without pixels accepted")
	}
}

func TestSwapConcurrent(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	target := loadFrame(t, "grace_hopper.jpg")
	want, _, err := p.Swap(ctx, target, src, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			got, _, err := p.Swap(ctx, target, src, faceswap.Options{})
			if err == nil && regionDiff(got, want, [4]float32{0, 0, float32(want.Width), float32(want.Height)}) != 0 {
				err = errors.New("concurrent Swap gave a different result")
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	initORT(t)
	devs, _ := inference.ParseDevices("cpu", 1)
	dev := devs[0]
	defer dev.Close()
	if _, err := faceswap.New(faceswap.ModelPaths{}, dev); err == nil {
		t.Error("no detector accepted")
	}
	// Models in the wrong roles are rejected by signature.
	if _, err := faceswap.New(faceswap.ModelPaths{Detector: recognizerPath}, dev); err == nil {
		t.Error("recognizer accepted as detector")
	}
	if _, err := faceswap.New(faceswap.ModelPaths{Detector: detectorModel, Swapper: recognizerPath}, dev); err == nil {
		t.Error("recognizer accepted as swapper")
	}
	if _, err := faceswap.New(faceswap.ModelPaths{Detector: detectorModel, Recognizer: testSwapper(t)}, dev); err == nil {
		t.Error("swapper accepted as recognizer")
	}
	// A detector-only pipeline detects but cannot embed or swap.
	p, err := faceswap.New(faceswap.ModelPaths{Detector: detectorModel}, dev)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, _, err := p.Embed(context.Background(), []media.Frame{grayFrame(64, 64)}, faceswap.Options{}); err == nil {
		t.Error("Embed without recognizer succeeded")
	}
}

func TestOptions(t *testing.T) {
	d := faceswap.Options{}.WithDefaults()
	if d.FaceSelector != "one" || d.DetectorSize != 640 || d.DetectorScore != 0.5 || d.MaskBlur != 0.3 || d.MaskPadding != [4]float64{} {
		t.Fatalf("defaults %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []faceswap.Options{
		{FaceSelector: "reference", Reference: make(faceswap.Embedding, 3)},
		{FaceSelector: "nearest"},
		{DetectorSize: 100},
		{DetectorSize: 4096},
		{DetectorScore: 1.5},
		{DetectorScore: -0.1},
		{MaskBlur: 2},
		{MaskPadding: [4]float64{0, 101, 0, 0}},
		{MaskPadding: [4]float64{0, 0, 0, -1}},
	}
	for _, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if err := (faceswap.Options{MaskPadding: [4]float64{0, 0, 0, -1}}).Validate(); err == nil || !contains(err.Error(), "left") {
		t.Errorf("padding error does not name the side: %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
