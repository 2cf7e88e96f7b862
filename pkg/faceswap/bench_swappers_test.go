package faceswap_test

import (
	"fmt"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
)

// BenchmarkSwapperPixelBoost is the per-face cost of each swapper stand-in at
// each pixel-boost size it takes: warp at the boosted size, split, model runs
// (one per sub-image: the stand-ins, like the official files, have a batch of
// 1), re-interleave, box mask and paste-back. The stand-ins' networks are
// trivial, so this measures swapd's work around the model and how it grows with
// the boost (k² runs of the native size, a boost² crop and paste).
func BenchmarkSwapperPixelBoost(b *testing.B) {
	p := allSwappersPipeline(b)
	src := embedSource(b, p, "astronaut.png")
	target := loadFrame(b, "grace_hopper.jpg")
	face := largestFace(b, p, target)
	for _, name := range faceswap.SwapperModels {
		sw, _ := p.SwapperModel(name)
		latent, err := sw.Latent(src)
		if err != nil {
			b.Fatal(err)
		}
		for _, boost := range faceswap.PixelBoostSizes {
			if !faceswap.PixelBoostValid(name, boost) {
				continue
			}
			mask := faceswap.BoxMask(boost, faceswap.DefaultMaskBlur, [4]float64{})
			b.Run(fmt.Sprintf("%s/%d", name, boost), func(b *testing.B) {
				out := target.Clone()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					crop, m, err := sw.SwapFaceAt(out, face, latent, boost)
					if err != nil {
						b.Fatal(err)
					}
					faceswap.PasteBack(out, crop, mask, boost, m)
				}
			})
		}
	}
}
