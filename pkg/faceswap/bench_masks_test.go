package faceswap_test

import (
	"fmt"
	"testing"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/faceswap"
)

// BenchmarkMaskModel is the per-face cost of each mask model stand-in at the
// native crop (128, inswapper) and at a 512 px pixel boost: for an occluder the
// target crop's warp, the resize to 256, the run, the resize back and the
// smoothing (many: all three runs and their minimum); for a parser the resize of
// the swapped crop to 512, the run, the argmax and the smoothing; for a
// landmarker its run on the face and the area mask (hull fill and smoothing).
// The stand-ins' networks are trivial (the real XSeg, BiSeNet and 2dfan4 are
// 67–98 MB networks), so this measures swapd's work around each model, which
// the real ones add to their own inference; the smoothing's σ 5 blur grows with
// the crop.
func BenchmarkMaskModel(b *testing.B) {
	files := maskModelFiles(b)
	p := maskPipeline(b, append(append(append([]string(nil), onnxgen.OccluderModels...), onnxgen.ParserModels...), onnxgen.LandmarkerModels...)...)
	src := embedSource(b, p, "astronaut.png")
	target := loadFrame(b, "grace_hopper.jpg")
	face := largestFace(b, p, target)
	sw, _ := p.SwapperModel("")
	latent, err := sw.Latent(src)
	if err != nil {
		b.Fatal(err)
	}
	occ := map[string]*faceswap.Occluder{}
	var all []*faceswap.Occluder
	for _, n := range faceswap.OccluderModels {
		s, err := p.Device().OpenSession(files[n])
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if occ[n], err = faceswap.NewOccluder(n, s); err != nil {
			b.Fatal(err)
		}
		all = append(all, occ[n])
	}
	parsers := map[string]*faceswap.Parser{}
	for _, n := range faceswap.ParserModels {
		s, err := p.Device().OpenSession(files[n])
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if parsers[n], err = faceswap.NewParser(n, s); err != nil {
			b.Fatal(err)
		}
	}
	lms := map[string]*faceswap.Landmarker{}
	for _, n := range faceswap.LandmarkerModels {
		s, err := p.Device().OpenSession(files[n])
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if lms[n], err = faceswap.NewLandmarker(n, s); err != nil {
			b.Fatal(err)
		}
	}
	for _, size := range []int{128, 512} {
		boost := size
		if size == sw.Size() {
			boost = 0
		}
		crop, m, err := sw.SwapFaceAt(target, face, latent, boost)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range append(append([]string(nil), faceswap.OccluderModels...), faceswap.OccluderMany) {
			use := all
			if n != faceswap.OccluderMany {
				use = []*faceswap.Occluder{occ[n]}
			}
			b.Run(fmt.Sprintf("occluder/%s/%d", n, size), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := faceswap.OcclusionMask(faceswap.WarpFrame(target, m, size, size), use...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		for _, n := range faceswap.ParserModels {
			b.Run(fmt.Sprintf("parser/%s/%d", n, size), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := parsers[n].RegionMask(crop, size, []string{faceswap.RegionSkin, faceswap.RegionNose}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		for _, n := range faceswap.LandmarkerModels {
			b.Run(fmt.Sprintf("landmarker/%s/%d", n, size), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					lm, _, err := lms[n].Landmarks(target, face)
					if err != nil {
						b.Fatal(err)
					}
					for j, q := range lm {
						lm[j] = m.Apply(q)
					}
					if _, err := faceswap.AreaMask(size, lm, faceswap.MaskAreas); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
