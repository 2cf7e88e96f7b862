package faceswap_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
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

// BenchmarkDetectSizes runs SCRFD at the detector sizes FaceFusion offers.
func BenchmarkDetectSizes(b *testing.B) {
	p := testPipeline(b)
	fr := loadFrame(b, "grace_hopper.jpg")
	ctx := context.Background()
	for _, size := range []int{320, 480, 640} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := p.Detect(ctx, fr, faceswap.Options{DetectorSize: size}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAlign is the similarity estimate plus the bilinear warp of one face
// crop at the sizes the pipeline uses: 112 (recognizer), 128 (swapper), 256 and
// 512 (enhancers).
func BenchmarkAlign(b *testing.B) {
	fr := loadFrame(b, "grace_hopper.jpg")
	lm := [5]faceswap.Point{{226, 195}, {305, 192}, {266, 240}, {233, 278}, {299, 276}}
	for _, size := range []int{112, 128, 256, 512} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				m := faceswap.AlignTransform(lm, faceswap.ArcFace128, size)
				faceswap.WarpFrame(fr, m, size, size)
			}
		})
	}
}

// BenchmarkEnhance is one face through the GFPGAN-signature stand-in (512 px):
// align, normalise, inference, paste and blend. The stand-in is a 3×3 blur, far
// cheaper than GFPGAN, so this is mostly swapd's own work around the model.
func BenchmarkEnhance(b *testing.B) {
	p := fullPipeline(b)
	ctx := context.Background()
	target := loadFrame(b, "grace_hopper.jpg")
	faces, err := p.Detect(ctx, target, faceswap.Options{})
	if err != nil || len(faces) == 0 {
		b.Fatal(err)
	}
	for _, name := range []string{faceswap.EnhancerGFPGAN14, faceswap.EnhancerGPEN256} {
		b.Run(name, func(b *testing.B) {
			src, _, err := p.Embed(ctx, []media.Frame{loadFrame(b, "astronaut.png")}, faceswap.Options{})
			if err != nil {
				b.Fatal(err)
			}
			// Swap with blend ≈ 0 skips the enhancer: the difference is the enhancer.
			var enhance time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_, st, err := p.SwapFaces(ctx, target, faces, src, faceswap.Options{Enhancer: name})
				if err != nil {
					b.Fatal(err)
				}
				enhance += st.Enhance
			}
			b.ReportMetric(float64(enhance.Nanoseconds())/float64(b.N), "enhance-ns/op")
		})
	}
}

// BenchmarkSwapVideo runs SwapVideo over 16 frames of a real face (alternating
// with blank frames in the "mixed" case) and compares it with the models alone:
//
//	frames/s       SwapVideo throughput
//	seq-frames/s   the same frames through Swap one after another (no pipelining)
//	infer-ms/frame  time inside ONNX Runtime Run calls per frame, measured on the
//	                sequential pass (nothing else competing for the cores)
//	gowork-ms/frame the sequential pass's time outside Run calls per frame:
//	                swapd's own work (letterbox, warps, masks, paste, copies)
//	overhead-%      (SwapVideo wall time − inference time) / inference time: what
//	                the pipeline adds on top of running the models back to back
//
// The _1thread case runs on a CPU device with IntraOpThreads = 1, where SwapVideo
// works on GOMAXPROCS frames at once (its overhead-% compares with one-thread
// inference, so the ideal is −50 % on two cores).
//
// With the stand-in swapper and enhancer (trivial networks) inference is almost
// all SCRFD detection; with the real 554 MB inswapper and GFPGAN it is larger and
// the share of swapd's own work smaller.
func BenchmarkSwapVideo(b *testing.B) {
	p := fullPipeline(b)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(b, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		b.Fatal(err)
	}
	// A second CPU device whose sessions use one intra-op thread each, so that
	// SwapVideo runs GOMAXPROCS frames at once instead of one frame on all cores.
	devs, err := inference.ParseDevices("cpu:7", 1)
	if err != nil {
		b.Fatal(err)
	}
	devs[0].IntraOpThreads = 1
	defer devs[0].Close()
	perFrame, err := faceswap.New(faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: testSwapper(b),
		Enhancers: testModels(b).Enhancers}, devs[0])
	if err != nil {
		b.Fatal(err)
	}
	defer perFrame.Close()
	const n = 16
	cases := []struct {
		name  string
		image string
		mixed bool
		opts  faceswap.Options
		p     *faceswap.Pipeline
	}{
		{"grace_512x600", "grace_hopper.jpg", false, faceswap.Options{}, p},
		{"pexels_1080x1080", "pexels_4195444.jpg", false, faceswap.Options{}, p},
		{"mixed_512x600", "grace_hopper.jpg", true, faceswap.Options{}, p},
		{"mouth_enhance_512x600", "grace_hopper.jpg", false, faceswap.Options{MouthMask: true, Enhancer: faceswap.EnhancerGFPGAN14}, p},
		{"grace_512x600_1thread", "grace_hopper.jpg", false, faceswap.Options{}, perFrame},
	}
	for _, c := range cases {
		p := c.p
		b.Run(c.name, func(b *testing.B) {
			face := loadFrame(b, c.image)
			var frames []media.Frame
			if c.mixed {
				frames = videoFrames(b, n, face)
			} else {
				for k := 0; k < n; k++ {
					frames = append(frames, face.Clone())
				}
			}
			// Sequential baseline: the same model runs, one frame at a time.
			_, i0 := p.InferenceStats()
			t0 := time.Now()
			for _, f := range frames {
				if _, _, err := p.Swap(ctx, f, src, c.opts); err != nil && !errors.Is(err, faceswap.ErrNoFaceInTarget) {
					b.Fatal(err)
				}
			}
			seqWall := time.Since(t0)
			_, i1 := p.InferenceStats()
			infer := (i1 - i0).Seconds() / n

			sink := writerFunc(func(media.Frame) error { return nil })
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := p.SwapVideo(ctx, &sliceReader{frames: frames}, sink, src, c.opts, nil); err != nil {
					b.Fatal(err)
				}
			}
			perFrame := time.Since(start).Seconds() / float64(n*b.N)
			b.StopTimer()
			b.ReportMetric(1/perFrame, "frames/s")
			b.ReportMetric(n/seqWall.Seconds(), "seq-frames/s")
			b.ReportMetric(infer*1000, "infer-ms/frame")
			b.ReportMetric((seqWall.Seconds()/n-infer)*1000, "gowork-ms/frame")
			b.ReportMetric(100*(perFrame-infer)/infer, "overhead-%")
		})
	}
}
