package faceswap_test

import (
	"context"
	"math"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

func maxDiff(a, b media.Frame, box [4]float32) int {
	m := 0
	for y := max(int(box[1]), 0); y < min(int(box[3]), a.Height); y++ {
		for x := max(int(box[0]), 0); x < min(int(box[2]), a.Width); x++ {
			for c := 0; c < 3; c++ {
				i := (y*a.Width+x)*3 + c
				d := int(a.Pix[i]) - int(b.Pix[i])
				if d < 0 {
					d = -d
				}
				m = max(m, d)
			}
		}
	}
	return m
}

func whole(f media.Frame) [4]float32 { return [4]float32{0, 0, float32(f.Width), float32(f.Height)} }

func TestMouthMaskShape(t *testing.T) {
	l, r := faceswap.Point{X: 49.5, Y: 92.4}, faceswap.Point{X: 78.7, Y: 92.2}
	m := faceswap.MouthMask(128, l, r)
	at := func(x, y int) float32 { return m[y*128+x] }
	mx, my := 64, 92
	if v := at(mx, my); v < 0.999 {
		t.Errorf("mask at the mouth centre %v, want ~1", v)
	}
	if v := at(mx, my+10); v < 0.99 {
		t.Errorf("mask on the lower lip %v, want ~1", v)
	}
	for _, p := range [][2]int{{0, 0}, {64, 40}, {10, 92}, {118, 92}, {64, 127}} {
		if v := at(p[0], p[1]); v > 0.01 {
			t.Errorf("mask at %v = %v, want ~0 away from the mouth", p, v)
		}
	}
	// Feathered: between the centre and the outside there are partial values.
	partial := 0
	for _, v := range m {
		if v < 0 || v > 1 {
			t.Fatalf("mask value %v outside [0,1]", v)
		}
		if v > 0.05 && v < 0.95 {
			partial++
		}
	}
	if partial < 50 {
		t.Errorf("only %d feathered pixels", partial)
	}
	// Extends further towards the chin than towards the nose.
	down, up := 0, 0
	for y := my; y < 128 && at(mx, y) > 0.5; y++ {
		down++
	}
	for y := my; y >= 0 && at(mx, y) > 0.5; y-- {
		up++
	}
	if down <= up {
		t.Errorf("mouth region reaches %d px down and %d up; want more downwards", down, up)
	}
	if got := faceswap.MouthMask(128, l, l); len(got) != 128*128 || got[92*128+50] != 0 {
		t.Error("degenerate corners should give an empty mask")
	}
}

// TestMouthMaskKeepsMouth: with MouthMask the target's mouth comes through
// unchanged (within rounding) while the rest of the face is swapped.
func TestMouthMaskKeepsMouth(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"grace_hopper.jpg", "pexels_5709614.jpg"} {
		target := loadFrame(t, name)
		faces, err := p.Detect(ctx, target, faceswap.Options{})
		if err != nil || len(faces) != 1 {
			t.Fatalf("%s: %d faces %v", name, len(faces), err)
		}
		lm := faces[0].Landmarks
		l, r := lm[3], lm[4]
		d := float32(math.Hypot(float64(r.X-l.X), float64(r.Y-l.Y)))
		mx, my := (l.X+r.X)/2, (l.Y+r.Y)/2
		mouth := [4]float32{mx - 0.25*d, my - 0.1*d, mx + 0.25*d, my + 0.2*d}
		eyes := [4]float32{lm[0].X - 0.1*d, min(lm[0].Y, lm[1].Y) - 0.1*d, lm[1].X + 0.1*d, max(lm[0].Y, lm[1].Y) + 0.1*d}

		kept, _, err := p.Swap(ctx, target, src, faceswap.Options{MouthMask: true})
		if err != nil {
			t.Fatal(err)
		}
		plain, _, err := p.Swap(ctx, target, src, faceswap.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if m := maxDiff(kept, target, mouth); m > 2 {
			t.Errorf("%s: mouth region differs from the original by up to %d levels with MouthMask", name, m)
		}
		if dm := regionDiff(plain, target, mouth); dm < 15 {
			t.Errorf("%s: without MouthMask the mouth changes only %.1f", name, dm)
		}
		if de := regionDiff(kept, target, eyes); de < 15 {
			t.Errorf("%s: with MouthMask the eyes changed only %.1f", name, de)
		}
		if m := maxDiff(kept, plain, eyes); m > 0 {
			t.Errorf("%s: MouthMask changed the eyes by %d levels", name, m)
		}
		t.Logf("%s: mouth max diff %d (kept), mean %.1f (plain)", name, maxDiff(kept, target, mouth), regionDiff(plain, target, mouth))
	}
}

func TestEnhancers(t *testing.T) {
	p := fullPipeline(t)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	target := loadFrame(t, "grace_hopper.jpg")
	faces, err := p.Detect(ctx, target, faceswap.Options{})
	if err != nil || len(faces) != 1 {
		t.Fatal(len(faces), err)
	}
	core := shrink(faces[0].Box, 0.6)
	base, _, err := p.Swap(ctx, target, src, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	corners := [][4]float32{{0, 0, 40, 40}, {float32(target.Width) - 40, float32(target.Height) - 40, float32(target.Width), float32(target.Height)}}
	for _, name := range faceswap.EnhancerModels {
		out, st, err := p.Swap(ctx, target, src, faceswap.Options{Enhancer: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st.EnhancedFaces != 1 || st.Enhance <= 0 {
			t.Errorf("%s: stats %+v", name, st)
		}
		d := regionDiff(out, base, core)
		t.Logf("%s: enhanced face differs from the swapped one by %.1f levels", name, d)
		if d < 5 {
			t.Errorf("%s: enhancer barely changed the face (%.1f)", name, d)
		}
		for _, c := range corners {
			if m := maxDiff(out, target, c); m != 0 {
				t.Errorf("%s: background corner %v changed by %d", name, c, m)
			}
		}
	}
	// Blend 0 leaves the swapped frame exactly; blend 50 is halfway to blend 100.
	none, st, err := p.Swap(ctx, target, src, faceswap.Options{Enhancer: faceswap.EnhancerGFPGAN14, EnhancerBlend: faceswap.EnhancerBlendNone})
	if err != nil {
		t.Fatal(err)
	}
	if m := maxDiff(none, base, whole(base)); m != 0 || st.EnhancedFaces != 0 {
		t.Errorf("blend 0: differs from the swapped frame by %d (stats %+v)", m, st)
	}
	full, _, err := p.Swap(ctx, target, src, faceswap.Options{Enhancer: faceswap.EnhancerGFPGAN14, EnhancerBlend: 100})
	if err != nil {
		t.Fatal(err)
	}
	half, _, err := p.Swap(ctx, target, src, faceswap.Options{Enhancer: faceswap.EnhancerGFPGAN14, EnhancerBlend: 50})
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range half.Pix {
		want := (float64(base.Pix[i]) + float64(full.Pix[i])) / 2
		worst = math.Max(worst, math.Abs(float64(half.Pix[i])-want))
	}
	if worst > 1.01 {
		t.Errorf("blend 50 is off the midpoint of blend 0 and 100 by up to %v levels", worst)
	}
	def, _, err := p.Swap(ctx, target, src, faceswap.Options{Enhancer: faceswap.EnhancerGFPGAN14})
	if err != nil {
		t.Fatal(err)
	}
	if d80, d100 := regionDiff(def, base, core), regionDiff(full, base, core); math.Abs(d80-0.8*d100) > 0.05*d100+0.5 {
		t.Errorf("default blend: mean change %.2f, want about 80%% of %.2f", d80, d100)
	}
	// CodeFormer's weight reaches the model.
	w1, _, err := p.Swap(ctx, target, src, faceswap.Options{Enhancer: faceswap.EnhancerCodeFormer, EnhancerWeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	w0, _, err := p.Swap(ctx, target, src, faceswap.Options{Enhancer: faceswap.EnhancerCodeFormer, EnhancerWeight: faceswap.EnhancerWeightNone})
	if err != nil {
		t.Fatal(err)
	}
	if d := regionDiff(w0, w1, core); d < 2 {
		t.Errorf("CodeFormer weight 0 and 1 give nearly the same face (%.2f)", d)
	}
	// An enhancer the pipeline does not have is an error before any work.
	if _, _, err := testPipeline(t).Swap(ctx, target, src, faceswap.Options{Enhancer: faceswap.EnhancerGFPGAN14}); err == nil {
		t.Error("unconfigured enhancer accepted")
	}
	if got := p.Enhancers(); len(got) != len(faceswap.EnhancerModels) {
		t.Errorf("Enhancers() = %v", got)
	}
}

func TestEnhancerModelChecks(t *testing.T) {
	m := testModels(t)
	dev := testPipeline(t).Device()
	// A GPEN-256 file configured as GFPGAN (512) is rejected by its input size.
	if _, err := faceswap.New(faceswap.ModelPaths{Detector: detectorModel, Enhancers: map[string]string{
		faceswap.EnhancerGFPGAN14: m.Enhancers[faceswap.EnhancerGPEN256]}}, dev); err == nil {
		t.Error("256 px model accepted as gfpgan_1.4")
	}
	if _, err := faceswap.New(faceswap.ModelPaths{Detector: detectorModel, Enhancers: map[string]string{
		faceswap.EnhancerCodeFormer: m.Enhancers[faceswap.EnhancerGFPGAN14]}}, dev); err == nil {
		t.Error("model without a weight input accepted as codeformer")
	}
	if _, err := faceswap.New(faceswap.ModelPaths{Detector: detectorModel, Enhancers: map[string]string{
		"restoreformer": m.Enhancers[faceswap.EnhancerGFPGAN14]}}, dev); err == nil {
		t.Error("unknown enhancer name accepted")
	}
}

// TestBatchedSwapper: with a dynamic-batch swapper all faces of a frame go
// through one Run, and the result equals swapping them one by one.
func TestBatchedSwapper(t *testing.T) {
	fixed := testPipeline(t)
	batched := newPipeline(t, faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: testModels(t).SwapperDynamic})
	ctx := context.Background()
	src, _, err := fixed.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	group := loadFrame(t, "group_test3.jpg")
	for _, opts := range []faceswap.Options{{FaceSelector: faceswap.SelectMany}, {FaceSelector: faceswap.SelectMany, MouthMask: true}} {
		r0, _ := batched.InferenceStats()
		b, st, err := batched.Swap(ctx, group, src, opts)
		if err != nil {
			t.Fatal(err)
		}
		r1, _ := batched.InferenceStats()
		f0, _ := fixed.InferenceStats()
		a, _, err := fixed.Swap(ctx, group, src, opts)
		if err != nil {
			t.Fatal(err)
		}
		f1, _ := fixed.InferenceStats()
		if st.SwappedFaces != 3 {
			t.Fatalf("swapped %d faces", st.SwappedFaces)
		}
		// Each swapped face is also embedded once for the similarity report
		// (the recognizer has a fixed batch of 1): 3 runs on either side.
		if r1-r0 != 2+3 || f1-f0 != 4+3 {
			t.Errorf("runs: batched %d (want detect + 1 swap + 3 embeds), fixed %d (want detect + 3 swaps + 3 embeds)", r1-r0, f1-f0)
		}
		if m := maxDiff(a, b, whole(a)); m > 1 {
			t.Errorf("batched result differs from one-by-one by up to %d levels", m)
		}
	}
}
