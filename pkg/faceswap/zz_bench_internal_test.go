package faceswap
import "testing"
func BenchmarkZZWarp(b *testing.B) {
	src := texture(600, 600)
	lm := [5]Point{{226, 195}, {305, 192}, {266, 240}, {233, 278}, {299, 276}}
	m := AlignTransform(lm, FFHQ512, 512)
	dst := make([]float32, 3*512*512)
	b.Run("nchw", func(b *testing.B) { for i := 0; i < b.N; i++ { warpNCHW(src, m, 512, dst, 1, 0) } })
	b.Run("frame", func(b *testing.B) { for i := 0; i < b.N; i++ { WarpFrame(src, m, 512, 512) } })
	crop := make([]float32, 512*512*3)
	mask := BoxMask(512, 0.3, [4]float64{})
	f := texture(600,600)
	b.Run("paste512", func(b *testing.B) { for i := 0; i < b.N; i++ { pasteBack(f, crop, mask, 512, m, 0.8) } })
}
