package faceswap_test

import (
	"context"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

// Per-stage benchmarks on the CPU device. The swapper is the generated stand-in,
// whose network is trivial, so BenchmarkSwap measures swapd's own work around the
// model (alignment warp, tensor layout, latent projection, mask, paste-back).

func BenchmarkDetect(b *testing.B) {
	p := testPipeline(b)
	fr := loadFrame(b, "grace_hopper.jpg")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Detect(ctx, fr, faceswap.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEmbed(b *testing.B) {
	p := testPipeline(b)
	fr := loadFrame(b, "astronaut.png")
	faces, err := p.Detect(context.Background(), fr, faceswap.Options{})
	if err != nil || len(faces) == 0 {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.EmbedFace(fr, faces[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSwap(b *testing.B) {
	p := testPipeline(b)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(b, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		b.Fatal(err)
	}
	target := loadFrame(b, "grace_hopper.jpg")
	faces, err := p.Detect(ctx, target, faceswap.Options{})
	if err != nil || len(faces) == 0 {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := p.SwapFaces(ctx, target, faces, src, faceswap.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSwapFrame is a whole target frame: detect, swap, paste.
func BenchmarkSwapFrame(b *testing.B) {
	p := testPipeline(b)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(b, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		b.Fatal(err)
	}
	target := loadFrame(b, "grace_hopper.jpg")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := p.Swap(ctx, target, src, faceswap.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPasteBack(b *testing.B) {
	fr := loadFrame(b, "grace_hopper.jpg")
	m := faceswap.AlignTransform([5]faceswap.Point{{226, 195}, {305, 192}, {266, 240}, {233, 278}, {299, 276}}, faceswap.ArcFace128, 128)
	crop := make([]float32, 128*128*3)
	mask := faceswap.BoxMask(128, 0.3, [4]float64{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		faceswap.PasteBack(fr, crop, mask, 128, m)
	}
}
