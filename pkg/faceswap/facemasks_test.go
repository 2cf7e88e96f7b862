package faceswap_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

var (
	maskModelsOnce sync.Once
	maskModelsErr  error
	maskModelsDir  string
)

// maskModelFiles writes every mask model stand-in once per test binary (under
// swapperDir, removed by TestMain) and returns name → path.
func maskModelFiles(t testing.TB) map[string]string {
	t.Helper()
	testSwapper(t) // creates swapperDir
	names := append(append(append([]string(nil), onnxgen.OccluderModels...), onnxgen.ParserModels...), onnxgen.LandmarkerModels...)
	maskModelsOnce.Do(func() {
		maskModelsDir = filepath.Join(swapperDir, "masks")
		if maskModelsErr = os.MkdirAll(maskModelsDir, 0o755); maskModelsErr != nil {
			return
		}
		for _, n := range names {
			if maskModelsErr = onnxgen.WriteMaskModel(filepath.Join(maskModelsDir, n+".onnx"), n); maskModelsErr != nil {
				return
			}
		}
	})
	if maskModelsErr != nil {
		t.Fatal(maskModelsErr)
	}
	files := map[string]string{}
	for _, n := range names {
		files[n] = filepath.Join(maskModelsDir, n+".onnx")
	}
	return files
}

// maskPipeline opens a pipeline with the inswapper stand-in and the named mask
// model stand-ins.
func maskPipeline(t testing.TB, names ...string) *faceswap.Pipeline {
	t.Helper()
	files := maskModelFiles(t)
	paths := faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: testSwapper(t),
		Occluders: map[string]string{}, Parsers: map[string]string{}, Landmarkers: map[string]string{}}
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "xseg"):
			paths.Occluders[n] = files[n]
		case strings.HasPrefix(n, "bisenet"):
			paths.Parsers[n] = files[n]
		default:
			paths.Landmarkers[n] = files[n]
		}
	}
	return newPipeline(t, paths)
}

type rect struct{ x0, y0, x1, y1 int }

func (r rect) inset(d int) rect { return rect{r.x0 + d, r.y0 + d, r.x1 - d, r.y1 - d} }
func (r rect) has(x, y int) bool {
	return x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1
}

// around returns the square of side 2·half centred on p.
func around(p faceswap.Point, half float64) rect {
	return rect{int(float64(p.X) - half), int(float64(p.Y) - half), int(float64(p.X) + half), int(float64(p.Y) + half)}
}

func paint(f media.Frame, r rect, rgb [3]uint8) {
	for y := max(r.y0, 0); y < min(r.y1, f.Height); y++ {
		for x := max(r.x0, 0); x < min(r.x1, f.Width); x++ {
			copy(f.Pix[(y*f.Width+x)*3:], rgb[:])
		}
	}
}

// changed counts the pixels of r (clipped to the frame) that differ between a
// and b, and returns the mean absolute channel difference over r.
func changed(a, b media.Frame, r rect) (n, total int, mean float64) {
	var sum float64
	for y := max(r.y0, 0); y < min(r.y1, a.Height); y++ {
		for x := max(r.x0, 0); x < min(r.x1, a.Width); x++ {
			i := (y*a.Width + x) * 3
			d := 0
			for c := range 3 {
				d += int(math.Abs(float64(a.Pix[i+c]) - float64(b.Pix[i+c])))
			}
			if d > 0 {
				n++
			}
			sum += float64(d) / 3
			total++
		}
	}
	if total > 0 {
		mean = sum / float64(total)
	}
	return n, total, mean
}

// changedOutside counts the pixels outside keep that differ between a and b.
func changedOutside(a, b media.Frame, keep rect) int {
	n := 0
	for y := range a.Height {
		for x := range a.Width {
			if keep.has(x, y) {
				continue
			}
			i := (y*a.Width + x) * 3
			if a.Pix[i] != b.Pix[i] || a.Pix[i+1] != b.Pix[i+1] || a.Pix[i+2] != b.Pix[i+2] {
				n++
			}
		}
	}
	return n
}

// maskScene is a target face with its landmarks and scale.
type maskScene struct {
	target media.Frame
	face   faceswap.Face
	eyeD   float64 // distance between the eyes, frame pixels
	src    faceswap.Embedding
}

func newMaskScene(t *testing.T, p *faceswap.Pipeline) maskScene {
	t.Helper()
	target := loadFrame(t, "grace_hopper.jpg")
	face := largestFace(t, p, target)
	l := face.Landmarks
	return maskScene{target: target, face: face, src: embedSource(t, p, "astronaut.png"),
		eyeD: math.Hypot(float64(l[1].X-l[0].X), float64(l[1].Y-l[0].Y))}
}

func (s maskScene) swap(t *testing.T, p *faceswap.Pipeline, target media.Frame, opts faceswap.Options) media.Frame {
	t.Helper()
	out, st, err := p.SwapFaces(context.Background(), target, []faceswap.Face{s.face}, s.src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.SwappedFaces != 1 {
		t.Fatalf("swapped %d faces, want 1", st.SwappedFaces)
	}
	return out
}

// checkOccluded asserts the patch's interior kept the target's pixels exactly
// while the eye region (away from the patch) changed.
func checkOccluded(t *testing.T, s maskScene, painted, out media.Frame, patch rect, what string) {
	t.Helper()
	inner := patch.inset(int(0.15 * s.eyeD))
	if n, total, _ := changed(painted, out, inner); n != 0 {
		t.Errorf("%s: %d of %d occluded pixels changed, want none", what, n, total)
	}
	eye := around(s.face.Landmarks[1], 0.15*s.eyeD)
	if _, _, mean := changed(painted, out, eye); mean < 10 {
		t.Errorf("%s: the eye region changed by %.1f levels on average, want a visible swap", what, mean)
	}
}

func checkSwappedPatch(t *testing.T, s maskScene, painted, out media.Frame, patch rect, what string) {
	t.Helper()
	inner := patch.inset(int(0.15 * s.eyeD))
	if _, _, mean := changed(painted, out, inner); mean < 10 {
		t.Errorf("%s: the patch changed by %.1f levels on average, want a visible swap", what, mean)
	}
}

func TestOcclusionMaskKeepsOccludedPixels(t *testing.T) {
	p := maskPipeline(t, onnxgen.OccluderXSeg1)
	s := newMaskScene(t, p)
	patch := around(s.face.Landmarks[2], 0.4*s.eyeD) // over the nose
	painted := s.target.Clone()
	paint(painted, patch, onnxgen.OccluderKey[onnxgen.OccluderXSeg1])

	box := s.swap(t, p, painted, faceswap.Options{})
	checkSwappedPatch(t, s, painted, box, patch, "box only")
	for _, boost := range []int{0, 256, 512} {
		out := s.swap(t, p, painted, faceswap.Options{MaskTypes: []string{faceswap.MaskBox, faceswap.MaskOcclusion}, PixelBoost: boost})
		checkOccluded(t, s, painted, out, patch, "box+occlusion, boost "+itoa(boost))
	}
	// Occlusion alone (no box): the patch is still kept, the face still swapped.
	out := s.swap(t, p, painted, faceswap.Options{MaskTypes: []string{faceswap.MaskOcclusion}})
	checkOccluded(t, s, painted, out, patch, "occlusion only")
}

func itoa(i int) string {
	if i == 0 {
		return "native"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestOcclusionManyIsMinimumOfOccluders(t *testing.T) {
	p := maskPipeline(t, onnxgen.OccluderXSeg1, onnxgen.OccluderXSeg2, onnxgen.OccluderXSeg3)
	s := newMaskScene(t, p)
	l := s.face.Landmarks
	green := around(faceswap.Point{X: l[0].X, Y: (l[0].Y + l[3].Y) / 2}, 0.35*s.eyeD) // left cheek
	blue := around(faceswap.Point{X: l[1].X, Y: (l[1].Y + l[4].Y) / 2}, 0.35*s.eyeD)  // right cheek
	painted := s.target.Clone()
	paint(painted, green, onnxgen.OccluderKey[onnxgen.OccluderXSeg1])
	paint(painted, blue, onnxgen.OccluderKey[onnxgen.OccluderXSeg2])
	types := []string{faceswap.MaskBox, faceswap.MaskOcclusion}

	one := s.swap(t, p, painted, faceswap.Options{MaskTypes: types, OccluderModel: faceswap.OccluderXSeg1})
	checkOccluded(t, s, painted, one, green, "xseg_1, green patch")
	checkSwappedPatch(t, s, painted, one, blue, "xseg_1, blue patch")

	two := s.swap(t, p, painted, faceswap.Options{MaskTypes: types, OccluderModel: faceswap.OccluderXSeg2})
	checkOccluded(t, s, painted, two, blue, "xseg_2, blue patch")
	checkSwappedPatch(t, s, painted, two, green, "xseg_2, green patch")

	many := s.swap(t, p, painted, faceswap.Options{MaskTypes: types, OccluderModel: faceswap.OccluderMany})
	checkOccluded(t, s, painted, many, green, "many, green patch")
	checkOccluded(t, s, painted, many, blue, "many, blue patch")

	// The "many" mask of a crop is at most each single occluder's mask (the
	// minimum is taken before the monotone smoothing).
	crop := faceswap.WarpFrame(painted, faceswap.AlignTransform(s.face.Landmarks, faceswap.ArcFace128, 128), 128, 128)
	var occ []*faceswap.Occluder
	for _, n := range faceswap.OccluderModels {
		o, err := faceswap.NewOccluder(n, openSession(t, p, maskModelFiles(t)[n]))
		if err != nil {
			t.Fatal(err)
		}
		occ = append(occ, o)
	}
	all, err := faceswap.OcclusionMask(crop, occ...)
	if err != nil {
		t.Fatal(err)
	}
	var zeroAll, zeroSingles int
	single := make([][]float32, len(occ))
	for i, o := range occ {
		if single[i], err = faceswap.OcclusionMask(crop, o); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range all {
		lo := float32(1)
		for _, m := range single {
			lo = min(lo, m[i])
		}
		if v > lo+1e-6 {
			t.Fatalf("pixel %d: many %v above the single occluders' minimum %v", i, v, lo)
		}
		if v == 0 {
			zeroAll++
		}
		if lo == 0 {
			zeroSingles++
		}
	}
	if zeroAll < zeroSingles || zeroSingles == 0 {
		t.Errorf("many masks %d pixels fully, the single occluders %d together", zeroAll, zeroSingles)
	}
}

func openSession(t *testing.T, p *faceswap.Pipeline, path string) *inference.Session {
	t.Helper()
	s, err := p.Device().OpenSession(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The parser stand-in calls greenish pixels of the swapped crop "nose". The
// inswapper stand-in maps a target colour t to about 0.8 − 0.5·t plus a
// source-dependent shift, so a magenta patch on the target comes out green.
var noseOnTarget = [3]uint8{255, 0, 255}

func TestRegionMaskChangesOnlySelectedRegions(t *testing.T) {
	p := maskPipeline(t, onnxgen.ParserBiSeNet34)
	s := newMaskScene(t, p)
	patch := around(s.face.Landmarks[2], 0.45*s.eyeD) // over the nose
	painted := s.target.Clone()
	paint(painted, patch, noseOnTarget)
	outer := patch.inset(-int(0.3 * s.eyeD))
	for _, boost := range []int{0, 256} {
		out := s.swap(t, p, painted, faceswap.Options{MaskTypes: []string{faceswap.MaskBox, faceswap.MaskRegion},
			MaskRegions: []string{faceswap.RegionNose}, PixelBoost: boost})
		checkSwappedPatch(t, s, painted, out, patch, "nose region, boost "+itoa(boost))
		if n := changedOutside(painted, out, outer); n != 0 {
			t.Errorf("nose region, boost %d: %d pixels away from the nose changed, want none", boost, n)
		}
	}
	// Skin only: the face changes, the "nose" patch keeps the target's pixels.
	out := s.swap(t, p, painted, faceswap.Options{MaskTypes: []string{faceswap.MaskBox, faceswap.MaskRegion},
		MaskRegions: []string{faceswap.RegionSkin}})
	checkOccluded(t, s, painted, out, patch, "skin region")
}

func TestMasksCombineByMinimum(t *testing.T) {
	p := maskPipeline(t, onnxgen.OccluderXSeg1, onnxgen.ParserBiSeNet18)
	s := newMaskScene(t, p)
	l := s.face.Landmarks
	nose := around(l[2], 0.45*s.eyeD)
	// An occluder over the lower half of the nose patch: the region mask keeps
	// the nose, the occlusion mask drops the occluder, their minimum keeps the
	// nose's upper half only.
	occluder := rect{nose.x0, (nose.y0 + nose.y1) / 2, nose.x1, nose.y1}
	upper := rect{nose.x0, nose.y0, nose.x1, (nose.y0 + nose.y1) / 2}
	painted := s.target.Clone()
	paint(painted, nose, noseOnTarget)
	paint(painted, occluder, onnxgen.OccluderKey[onnxgen.OccluderXSeg1])
	out := s.swap(t, p, painted, faceswap.Options{
		MaskTypes:   []string{faceswap.MaskBox, faceswap.MaskOcclusion, faceswap.MaskRegion},
		MaskRegions: []string{faceswap.RegionNose}, ParserModel: faceswap.ParserBiSeNet18,
	})
	if n := changedOutside(painted, out, nose.inset(-int(0.3*s.eyeD))); n != 0 {
		t.Errorf("%d pixels away from the nose changed, want none (region mask)", n)
	}
	inner := occluder.inset(int(0.15 * s.eyeD))
	if n, total, _ := changed(painted, out, inner); n != 0 {
		t.Errorf("%d of %d occluded nose pixels changed, want none (occlusion mask)", n, total)
	}
	top := rect{upper.x0 + int(0.15*s.eyeD), upper.y0 + int(0.1*s.eyeD), upper.x1 - int(0.15*s.eyeD), upper.y1 - int(0.2*s.eyeD)}
	if _, _, mean := changed(painted, out, top); mean < 10 {
		t.Errorf("the unoccluded nose changed by %.1f levels on average, want a visible swap", mean)
	}
}

func TestAreaMaskLowerFace(t *testing.T) {
	for _, lm := range []string{onnxgen.Landmarker2DFAN4, onnxgen.LandmarkerFAN68_5} {
		t.Run(lm, func(t *testing.T) {
			p := maskPipeline(t, lm)
			s := newMaskScene(t, p)
			l := s.face.Landmarks
			for _, boost := range []int{0, 256} {
				out := s.swap(t, p, s.target, faceswap.Options{MaskTypes: []string{faceswap.MaskBox, faceswap.MaskArea},
					MaskAreas: []string{faceswap.AreaLowerFace}, PixelBoost: boost})
				eyes := int(max(l[0].Y, l[1].Y))
				if n, total, _ := changed(s.target, out, rect{0, 0, s.target.Width, eyes}); n != 0 {
					t.Errorf("boost %d: %d of %d pixels above the eyes line changed, want none", boost, n, total)
				}
				mouth := faceswap.Point{X: (l[3].X + l[4].X) / 2, Y: (l[3].Y + l[4].Y) / 2}
				if _, _, mean := changed(s.target, out, around(mouth, 0.2*s.eyeD)); mean < 10 {
					t.Errorf("boost %d: the mouth changed by %.1f levels on average, want a visible swap", boost, mean)
				}
			}
			// The upper face is the complement: the eyes change, the chin does not.
			out := s.swap(t, p, s.target, faceswap.Options{MaskTypes: []string{faceswap.MaskArea}, MaskAreas: []string{faceswap.AreaUpperFace}})
			if _, _, mean := changed(s.target, out, around(l[0], 0.15*s.eyeD)); mean < 10 {
				t.Errorf("upper-face: the eye changed by %.1f levels on average, want a visible swap", mean)
			}
			chin := int(max(l[3].Y, l[4].Y) + float32(0.3*s.eyeD))
			if n, total, _ := changed(s.target, out, rect{0, chin, s.target.Width, s.target.Height}); n != 0 {
				t.Errorf("upper-face: %d of %d pixels below the mouth changed, want none", n, total)
			}
		})
	}
}

func TestLandmarkerStandins(t *testing.T) {
	p := maskPipeline(t, onnxgen.Landmarker2DFAN4)
	s := newMaskScene(t, p)
	lm, score, err := p.Landmarks68(s.target, s.face)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(score-0.9) > 1e-4 {
		t.Errorf("2dfan4 score %v, want 0.9 (heatmaps at 0.81)", score)
	}
	b := s.face.Box
	for i, q := range lm {
		if q.X < b[0]-0.1*(b[2]-b[0]) || q.X > b[2]+0.1*(b[2]-b[0]) || q.Y < b[1] || q.Y > b[3]+0.1*(b[3]-b[1]) {
			t.Fatalf("landmark %d %v outside the face box %v", i, q, b)
		}
	}
	// A deterministic function of the crop: a darker frame moves the points.
	dark := s.target.Clone()
	for i := range dark.Pix {
		dark.Pix[i] /= 2
	}
	lm2, _, err := p.Landmarks68(dark, s.face)
	if err != nil {
		t.Fatal(err)
	}
	if lm2 == lm {
		t.Error("2dfan4 stand-in gave the same landmarks for a different crop")
	}
	again, _, _ := p.Landmarks68(s.target, s.face)
	if again != lm {
		t.Error("2dfan4 stand-in is not deterministic")
	}

	// fan_68_5: the eye points surround the detected eyes.
	q := maskPipeline(t, onnxgen.LandmarkerFAN68_5)
	lm, score, err = q.Landmarks68(s.target, s.face)
	if err != nil || score != 1 {
		t.Fatalf("fan_68_5: score %v, %v", score, err)
	}
	for e, first := range []int{36, 42} {
		var cx, cy float32
		for _, p := range lm[first : first+6] {
			cx, cy = cx+p.X/6, cy+p.Y/6
		}
		if d := math.Hypot(float64(cx-s.face.Landmarks[e].X), float64(cy-s.face.Landmarks[e].Y)); d > 0.1*s.eyeD {
			t.Errorf("fan_68_5 eye %d centre %v,%v is %.1f px from the detected eye", e, cx, cy, d)
		}
	}
}

func TestMaskOptionErrors(t *testing.T) {
	for _, o := range []faceswap.Options{
		{MaskTypes: []string{"hull"}},
		{MaskTypes: []string{faceswap.MaskBox, faceswap.MaskBox}},
		{OccluderModel: "xseg_9"},
		{ParserModel: "bisenet_resnet_50"},
		{MaskRegions: []string{"ears"}},
		{MaskAreas: []string{"forehead"}},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: Validate accepted it", o)
		}
	}
	if err := (faceswap.Options{MaskTypes: faceswap.MaskTypeNames, OccluderModel: faceswap.OccluderMany,
		ParserModel: faceswap.ParserBiSeNet18, MaskRegions: faceswap.MaskRegions, MaskAreas: faceswap.MaskAreas}).Validate(); err != nil {
		t.Errorf("every mask option: %v", err)
	}

	p := maskPipeline(t, onnxgen.OccluderXSeg2)
	if got := p.MaskTypes(); len(got) != 2 || got[1] != faceswap.MaskOcclusion {
		t.Errorf("MaskTypes %v, want [box occlusion]", got)
	}
	if got := p.Occluders(); len(got) != 1 || got[0] != faceswap.OccluderXSeg2 {
		t.Errorf("Occluders %v", got)
	}
	s := newMaskScene(t, p)
	for _, o := range []faceswap.Options{
		{MaskTypes: []string{faceswap.MaskRegion}},
		{MaskTypes: []string{faceswap.MaskArea}},
		{MaskTypes: []string{faceswap.MaskOcclusion}, OccluderModel: faceswap.OccluderXSeg1},
	} {
		_, _, err := p.SwapFaces(context.Background(), s.target, []faceswap.Face{s.face}, s.src, o)
		if !errors.Is(err, faceswap.ErrMaskUnavailable) {
			t.Errorf("%v: err %v, want ErrMaskUnavailable", o.MaskTypes, err)
		}
	}
	// "" picks the one configured occluder; "many" takes all (here one).
	for _, name := range []string{"", faceswap.OccluderMany} {
		if _, _, err := p.SwapFaces(context.Background(), s.target, []faceswap.Face{s.face}, s.src,
			faceswap.Options{MaskTypes: []string{faceswap.MaskOcclusion}, OccluderModel: name}); err != nil {
			t.Errorf("occluder %q: %v", name, err)
		}
	}

	files := maskModelFiles(t)
	base := faceswap.ModelPaths{Detector: detectorModel, Swapper: testSwapper(t)}
	for _, c := range []struct {
		paths faceswap.ModelPaths
		want  string
	}{
		{faceswap.ModelPaths{Occluders: map[string]string{"xseg_9": files[onnxgen.OccluderXSeg1]}}, "unknown occluder"},
		{faceswap.ModelPaths{Parsers: map[string]string{"bisenet": files[onnxgen.ParserBiSeNet18]}}, "unknown parser"},
		{faceswap.ModelPaths{Landmarkers: map[string]string{"peppa_wutz": files[onnxgen.Landmarker2DFAN4]}}, "unknown landmarker"},
		{faceswap.ModelPaths{Occluders: map[string]string{onnxgen.OccluderXSeg1: files[onnxgen.ParserBiSeNet34]}}, "want float32 [1,256,256,3]"},
		{faceswap.ModelPaths{Parsers: map[string]string{onnxgen.ParserBiSeNet34: files[onnxgen.OccluderXSeg1]}}, "want float32 [1,3,512,512]"},
		{faceswap.ModelPaths{Landmarkers: map[string]string{onnxgen.Landmarker2DFAN4: files[onnxgen.LandmarkerFAN68_5]}}, "for 2dfan4"},
		{faceswap.ModelPaths{Landmarkers: map[string]string{onnxgen.LandmarkerFAN68_5: files[onnxgen.Landmarker2DFAN4]}}, "for fan_68_5"},
	} {
		paths := c.paths
		paths.Detector, paths.Swapper = base.Detector, base.Swapper
		q, err := faceswap.New(paths, p.Device())
		if err == nil {
			q.Close()
			t.Errorf("%+v: New accepted it", c.paths)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %q, want it to mention %q", c.paths, err, c.want)
		}
	}
}

// With an enhancer, the occluded pixels stay the target's too: FaceFusion's
// enhancer adds the occlusion mask to its box mask. The patch is a green the
// occluder stand-in keys on but the enhancer stand-in would change (its red and
// blue go to 0), so an enhancer pasting through the box mask alone would show.
func TestOcclusionMaskWithEnhancer(t *testing.T) {
	files := maskModelFiles(t)
	m := testModels(t)
	p := newPipeline(t, faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: testSwapper(t),
		Enhancers: map[string]string{faceswap.EnhancerGFPGAN14: m.Enhancers[faceswap.EnhancerGFPGAN14]},
		Occluders: map[string]string{onnxgen.OccluderXSeg1: files[onnxgen.OccluderXSeg1]}})
	s := newMaskScene(t, p)
	patch := around(s.face.Landmarks[2], 0.4*s.eyeD)
	painted := s.target.Clone()
	paint(painted, patch, [3]uint8{40, 200, 40})
	types := []string{faceswap.MaskBox, faceswap.MaskOcclusion}
	out := s.swap(t, p, painted, faceswap.Options{MaskTypes: types, Enhancer: faceswap.EnhancerGFPGAN14})
	checkOccluded(t, s, painted, out, patch, "box+occlusion with gfpgan_1.4")
	swapOnly := s.swap(t, p, painted, faceswap.Options{MaskTypes: types})
	if _, _, mean := changed(swapOnly, out, around(s.face.Landmarks[0], 0.15*s.eyeD)); mean < 2 {
		t.Errorf("the enhancer changed the eye by %.1f levels on average, want a visible change", mean)
	}
}

// 2dfan4's crop is turned upright by the face angle, as FaceFusion's is: on a
// frame turned 90° the landmarks are the upright ones turned with it.
func TestLandmarker2DFAN4FaceAngle(t *testing.T) {
	p := maskPipeline(t, onnxgen.Landmarker2DFAN4)
	s := newMaskScene(t, p)
	up, _, err := p.Landmarks68(s.target, s.face)
	if err != nil {
		t.Fatal(err)
	}
	w, h := s.target.Width, s.target.Height
	rot := media.NewFrame(h, w) // turned 90° clockwise: (x, y) → (h−1−y, x)
	for y := range h {
		for x := range w {
			copy(rot.Pix[(x*h+(h-1-y))*3:], s.target.Pix[(y*w+x)*3:(y*w+x)*3+3])
		}
	}
	turn := func(q faceswap.Point) faceswap.Point { return faceswap.Point{X: float32(h-1) - q.Y, Y: q.X} }
	face := s.face
	for i, q := range face.Landmarks {
		face.Landmarks[i] = turn(q)
	}
	a, b := turn(faceswap.Point{X: s.face.Box[0], Y: s.face.Box[1]}), turn(faceswap.Point{X: s.face.Box[2], Y: s.face.Box[3]})
	face.Box = [4]float32{min(a.X, b.X), min(a.Y, b.Y), max(a.X, b.X), max(a.Y, b.Y)}
	if got := faceswap.FaceAngle(face); got != 90 {
		t.Fatalf("FaceAngle of the turned face %d, want 90", got)
	}
	if got := faceswap.FaceAngle(s.face); got != 0 {
		t.Fatalf("FaceAngle of the upright face %d, want 0", got)
	}
	turned, _, err := p.Landmarks68(rot, face)
	if err != nil {
		t.Fatal(err)
	}
	for i := range up {
		want := turn(up[i])
		if d := math.Hypot(float64(turned[i].X-want.X), float64(turned[i].Y-want.Y)); d > 2 {
			t.Fatalf("point %d: %v on the turned frame, want %v (the upright one turned), %.1f px off", i, turned[i], want, d)
		}
	}
}
