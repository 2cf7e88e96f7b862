package faceswap_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

var (
	standinsOnce sync.Once
	standinsErr  error
	standinsDir  string
)

// standinPaths writes every swapper stand-in and both embedding converters once
// per test binary (under swapperDir, removed by TestMain) and returns their paths.
func standinPaths(t testing.TB) (swappers, converters map[string]string) {
	t.Helper()
	testSwapper(t) // creates swapperDir
	standinsOnce.Do(func() {
		standinsDir = filepath.Join(swapperDir, "standins")
		if standinsErr = os.MkdirAll(standinsDir, 0o755); standinsErr != nil {
			return
		}
		for _, name := range onnxgen.SwapperModels {
			if standinsErr = onnxgen.WriteStandinSwapper(filepath.Join(standinsDir, name+".onnx"), name, 1); standinsErr != nil {
				return
			}
		}
		for _, name := range onnxgen.ConverterModels {
			if standinsErr = onnxgen.WriteStandinConverter(filepath.Join(standinsDir, name+".onnx"), name, 1); standinsErr != nil {
				return
			}
		}
	})
	if standinsErr != nil {
		t.Fatal(standinsErr)
	}
	swappers, converters = map[string]string{}, map[string]string{}
	for _, name := range faceswap.SwapperModels {
		swappers[name] = filepath.Join(standinsDir, name+".onnx")
	}
	for _, name := range []string{faceswap.ConverterGhost, faceswap.ConverterSimswap} {
		converters[name] = filepath.Join(standinsDir, name+".onnx")
	}
	return swappers, converters
}

// allSwappersPipeline opens a pipeline with every swapper stand-in.
func allSwappersPipeline(t testing.TB) *faceswap.Pipeline {
	t.Helper()
	sw, conv := standinPaths(t)
	return newPipeline(t, faceswap.ModelPaths{
		Detector: detectorModel, Recognizer: recognizerPath, Swapper: sw[faceswap.SwapperInswapper128],
		Swappers: sw, Converters: conv,
	})
}

func embedSource(t testing.TB, p *faceswap.Pipeline, name string) faceswap.Embedding {
	t.Helper()
	e, _, err := p.Embed(context.Background(), []media.Frame{loadFrame(t, name)}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func largestFace(t testing.TB, p *faceswap.Pipeline, f media.Frame) faceswap.Face {
	t.Helper()
	faces, err := p.Detect(context.Background(), f, faceswap.Options{})
	if err != nil || len(faces) == 0 {
		t.Fatalf("detect: %d faces, %v", len(faces), err)
	}
	best := faces[0]
	for _, x := range faces[1:] {
		if x.Area() > best.Area() {
			best = x
		}
	}
	return best
}

func meanAbs(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		if d < 0 {
			d = -d
		}
		s += d
	}
	return s / float64(len(a))
}

// Every swapper, loaded from a file with its official signature through the
// same code as the real model, swaps end to end: the pasted frame changes inside
// the face, and the swapped crop depends on the source identity and on the target.
func TestEverySwapperRunsEndToEnd(t *testing.T) {
	p := allSwappersPipeline(t)
	if got := p.Swappers(); len(got) != len(faceswap.SwapperModels) {
		t.Fatalf("pipeline has swappers %v, want all of %v", got, faceswap.SwapperModels)
	}
	if p.DefaultSwapper() != faceswap.SwapperInswapper128 {
		t.Errorf("default swapper %q, want inswapper_128 (the file ModelPaths.Swapper names)", p.DefaultSwapper())
	}
	ctx := context.Background()
	srcA, srcB := embedSource(t, p, "astronaut.png"), embedSource(t, p, "newton_portrait.png")
	target, target2 := loadFrame(t, "grace_hopper.jpg"), loadFrame(t, "cameraman.png")
	face, face2 := largestFace(t, p, target), largestFace(t, p, target2)
	for _, name := range faceswap.SwapperModels {
		t.Run(name, func(t *testing.T) {
			sw, ok := p.SwapperModel(name)
			if !ok || sw.Name() != name || sw.Size() != faceswap.SwapperSize(name) {
				t.Fatalf("SwapperModel(%q) = %v, %v", name, sw, ok)
			}
			la, err := sw.Latent(srcA)
			if err != nil {
				t.Fatal(err)
			}
			lb, err := sw.Latent(srcB)
			if err != nil {
				t.Fatal(err)
			}
			ca, _, err := sw.SwapFace(target, face, la)
			if err != nil {
				t.Fatal(err)
			}
			if len(ca) != 3*sw.Size()*sw.Size() {
				t.Fatalf("crop of %d values, want %d", len(ca), 3*sw.Size()*sw.Size())
			}
			cb, _, _ := sw.SwapFace(target, face, lb)
			if d := meanAbs(ca, cb); d < 1 {
				t.Errorf("crop barely depends on the source: mean |a−b| = %.3f levels", d)
			}
			c2, _, _ := sw.SwapFace(target2, face2, la)
			if d := meanAbs(ca, c2); d < 5 {
				t.Errorf("crop barely depends on the target: mean |a−b| = %.3f levels", d)
			}
			out, st, err := p.Swap(ctx, target, srcA, faceswap.Options{Swapper: name})
			if err != nil {
				t.Fatal(err)
			}
			if st.SwappedFaces != 1 {
				t.Errorf("swapped %d faces", st.SwappedFaces)
			}
			if d := regionDiff(out, target, shrink(face.Box, 0.5)); d < 5 {
				t.Errorf("face region barely changed: %.2f levels", d)
			}
			outB, _, err := p.Swap(ctx, target, srcB, faceswap.Options{Swapper: name})
			if err != nil {
				t.Fatal(err)
			}
			if d := regionDiff(out, outB, shrink(face.Box, 0.5)); d < 0.5 {
				t.Errorf("output barely depends on the source: %.2f levels", d)
			}
		})
	}
}

// Pixel boost 256 on the inswapper stand-in is exactly split → model → interleave:
// the crop is warped once at 256, its four polyphase sub-images (a, b) (pixels
// (2y+a, 2x+b)) each go through the model at 128 by hand here, and the outputs
// are put back at their positions. The pipeline's crop must equal that bit for
// bit, and its pasted frame must equal the reference crop pasted through the
// 256-px box mask.
func TestPixelBoost256MatchesSplitModelInterleave(t *testing.T) {
	p := testPipeline(t)
	sw, _ := p.SwapperModel("")
	src := embedSource(t, p, "astronaut.png")
	target := loadFrame(t, "grace_hopper.jpg")
	face := largestFace(t, p, target)
	latent, err := sw.Latent(src)
	if err != nil {
		t.Fatal(err)
	}
	const boost, size, k = 256, 128, 2
	m := faceswap.AlignTransform(face.Landmarks, faceswap.ArcFace128, boost)
	warped := faceswap.WarpFrame(target, m, boost, boost)

	sess, err := p.Device().OpenSession(testSwapper(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	want := make([]float32, 3*boost*boost)
	for a := 0; a < k; a++ {
		for b := 0; b < k; b++ {
			in := make([]float32, 3*size*size)
			for c := 0; c < 3; c++ {
				for y := 0; y < size; y++ {
					for x := 0; x < size; x++ {
						v := warped.Pix[((y*k+a)*boost+(x*k+b))*3+c]
						in[c*size*size+y*size+x] = float32(v) * float32(1.0/255)
					}
				}
			}
			feeds := map[string]inference.Tensor{
				"target": {Shape: []int64{1, 3, size, size}, Data: in},
				"source": {Shape: []int64{1, 512}, Data: latent},
			}
			var ins []inference.Tensor
			for _, n := range sess.InputNames() {
				ins = append(ins, feeds[n])
			}
			outs, err := sess.RunFloat32(ins...)
			if err != nil {
				t.Fatal(err)
			}
			o := outs[0].Data
			for c := 0; c < 3; c++ {
				for y := 0; y < size; y++ {
					for x := 0; x < size; x++ {
						v := min(max(o[c*size*size+y*size+x], 0), 1)
						want[((y*k+a)*boost+(x*k+b))*3+c] = v * 255
					}
				}
			}
		}
	}
	got, gm, err := sw.SwapFaceAt(target, face, latent, boost)
	if err != nil {
		t.Fatal(err)
	}
	if gm != m {
		t.Fatalf("transform %v, want %v", gm, m)
	}
	if len(got) != len(want) {
		t.Fatalf("crop of %d values, want %d", len(got), len(want))
	}
	diffs := 0
	for i := range want {
		if got[i] != want[i] {
			diffs++
		}
	}
	if diffs != 0 {
		t.Fatalf("%d of %d crop values differ from split → model → interleave", diffs, len(want))
	}
	// Not a resize: the boosted crop differs from the native crop upscaled
	// (it carries 256 px of the target's detail).
	native, _, _ := sw.SwapFace(target, face, latent)
	var up float64
	for y := 0; y < boost; y++ {
		for x := 0; x < boost; x++ {
			for c := 0; c < 3; c++ {
				d := float64(got[(y*boost+x)*3+c] - native[((y/2)*size+x/2)*3+c])
				up += d * d
			}
		}
	}
	if up == 0 {
		t.Error("boosted crop equals the native crop upscaled")
	}

	out, _, err := p.Swap(context.Background(), target, src, faceswap.Options{PixelBoost: boost})
	if err != nil {
		t.Fatal(err)
	}
	ref := target.Clone()
	faceswap.PasteBack(ref, want, faceswap.BoxMask(boost, faceswap.DefaultMaskBlur, [4]float64{}), boost, m)
	for i := range ref.Pix {
		if out.Pix[i] != ref.Pix[i] {
			t.Fatalf("pasted frame differs from the reference at byte %d (%d vs %d)", i, out.Pix[i], ref.Pix[i])
		}
	}
}

// A model with a dynamic batch dimension gets all k² sub-images of a boosted face
// in one Run; a fixed-batch model one Run each. Both give the same crop.
func TestPixelBoostBatchesSubImages(t *testing.T) {
	m := testModels(t)
	fixed := testPipeline(t)
	batched := newPipeline(t, faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: m.SwapperDynamic})
	src := embedSource(t, fixed, "astronaut.png")
	target := loadFrame(t, "grace_hopper.jpg")
	face := largestFace(t, fixed, target)
	var crops [][]float32
	for _, c := range []struct {
		p    *faceswap.Pipeline
		runs int64
	}{{fixed, 16}, {batched, 1}} {
		sw, _ := c.p.SwapperModel("")
		l, err := sw.Latent(src)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := c.p.InferenceStats()
		crop, _, err := sw.SwapFaceAt(target, face, l, 512)
		if err != nil {
			t.Fatal(err)
		}
		after, _ := c.p.InferenceStats()
		if after-before != c.runs {
			t.Errorf("batched=%v: %d runs for pixel boost 512, want %d", sw.Batched(), after-before, c.runs)
		}
		crops = append(crops, crop)
	}
	if d := meanAbs(crops[0], crops[1]); d > 1e-3 {
		t.Errorf("batched and one-by-one crops differ by %v", d)
	}
}

func TestSwapperOptionsValidate(t *testing.T) {
	bad := []faceswap.Options{
		{Swapper: "no_such_model"},
		{PixelBoost: 200},
		{Swapper: faceswap.SwapperHyperswap1A, PixelBoost: 128},
		{Swapper: faceswap.SwapperHyperswap1A, PixelBoost: 384},
		{Swapper: faceswap.SwapperSimswap512, PixelBoost: 768}, // FaceFusion lists it; 768/512 is not whole
		{SwapperWeight: 1.5},
		{SwapperWeight: -0.1},
	}
	for _, o := range bad {
		if o.Validate() == nil {
			t.Errorf("%+v passes Validate", o)
		}
	}
	good := []faceswap.Options{
		{Swapper: faceswap.SwapperInswapper128, PixelBoost: 384},
		{Swapper: faceswap.SwapperSimswap512, PixelBoost: 1024},
		{Swapper: faceswap.SwapperGhost2, PixelBoost: 768},
		{SwapperWeight: faceswap.SwapperWeightNone},
		{SwapperWeight: 1},
	}
	for _, o := range good {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// A swapper the pipeline was not given is ErrSwapperUnavailable before anything
// runs; a boost that is not a multiple of the default model's size is refused.
func TestUnavailableSwapper(t *testing.T) {
	p := testPipeline(t)
	src := make(faceswap.Embedding, faceswap.EmbeddingSize)
	src[0] = 1
	target := loadFrame(t, "grace_hopper.jpg")
	_, _, err := p.Swap(context.Background(), target, src, faceswap.Options{Swapper: faceswap.SwapperGhost1})
	if !errors.Is(err, faceswap.ErrSwapperUnavailable) {
		t.Errorf("ghost_1_256 on an inswapper-only pipeline: %v", err)
	}
	sw, conv := standinPaths(t)
	_, err = faceswap.New(faceswap.ModelPaths{Detector: detectorModel, Swappers: map[string]string{faceswap.SwapperGhost1: sw[faceswap.SwapperGhost1]}}, p.Device())
	if err == nil {
		t.Error("ghost_1_256 without crossface_ghost opened")
	}
	_ = conv
}

// FaceFusion's weight rule: 0.5 leaves the latent alone; 0 gives
// 0.65·latent + 0.35·target; 1 gives 1.35·latent − 0.35·target. A weight other
// than 0.5 changes the swapped face.
func TestSwapperWeight(t *testing.T) {
	l := []float32{1, 0, 0}
	tgt := faceswap.Embedding{0, 2, 0} // normalised to (0,1,0)
	same, err := faceswap.Balance(l, tgt, 0.5)
	if err != nil || same[0] != 1 || same[1] != 0 {
		t.Fatalf("weight 0.5: %v %v", same, err)
	}
	lo, _ := faceswap.Balance(l, tgt, faceswap.SwapperWeightNone)
	hi, _ := faceswap.Balance(l, tgt, 1)
	near := func(a, b float32) bool { return a-b < 1e-6 && b-a < 1e-6 }
	if !near(lo[0], 0.65) || !near(lo[1], 0.35) || !near(hi[0], 1.35) || !near(hi[1], -0.35) {
		t.Errorf("weight 0 → %v, weight 1 → %v", lo, hi)
	}
	p := allSwappersPipeline(t)
	src := embedSource(t, p, "astronaut.png")
	target := loadFrame(t, "grace_hopper.jpg")
	face := largestFace(t, p, target)
	ctx := context.Background()
	def, _, err := p.Swap(ctx, target, src, faceswap.Options{Swapper: faceswap.SwapperHyperswap1A})
	if err != nil {
		t.Fatal(err)
	}
	w0, st, err := p.Swap(ctx, target, src, faceswap.Options{Swapper: faceswap.SwapperHyperswap1A, SwapperWeight: faceswap.SwapperWeightNone})
	if err != nil {
		t.Fatal(err)
	}
	if st.Embed <= 0 {
		t.Error("weight 0 did not embed the target face")
	}
	if d := regionDiff(def, w0, shrink(face.Box, 0.5)); d < 0.2 {
		t.Errorf("swapper weight 0 barely changes the swap: %.3f levels", d)
	}
}
