package faceswap_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

// Benchmarks that tell the truth about model cost (issue #12). The cheap stand-ins
// cost almost nothing, so the other benchmarks measure swapd's own work; these put
// it next to a stand-in that costs what inswapper_128 costs (175 GMAC per face:
// onnxgen.FaithfulSwapper), and measure the CPU-side ceiling of the video
// pipeline when inference costs nothing, against libx264's on the same machine.
//
//	go test ./pkg/faceswap -run '^$' -bench 'SwapCost|VideoCost|VideoCPUCeiling' -benchtime 3x

// faithfulSwapper returns the FLOP-faithful stand-in of swapper name, generating
// it (inswapper_128: about 530 MB, a few seconds) into SWAPD_STANDIN_CACHE, else
// the user cache directory, the first time; never into the repository. It is
// named after the model, as the real file is, so the pipeline knows it by name.
func faithfulSwapper(b *testing.B, name string) string {
	b.Helper()
	return faithfulModel(b, name, func(path string) error { return onnxgen.WriteFaithfulSwapper(path, name, 1, 1) })
}

// faithfulModel returns the cached FLOP-faithful model name, written by write the
// first time.
func faithfulModel(b *testing.B, name string, write func(path string) error) string {
	b.Helper()
	dir := os.Getenv("SWAPD_STANDIN_CACHE")
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			b.Fatal(err)
		}
		dir = filepath.Join(c, "swapd", "standins")
	}
	dir = filepath.Join(dir, "faithful")
	path := filepath.Join(dir, name+".onnx")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	t := time.Now()
	if err := write(path); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %s in %v", path, time.Since(t).Round(time.Millisecond))
	return path
}

// faithfulPipeline opens a pipeline whose swapper name is the FLOP-faithful
// stand-in (its embedding converter, if any, is the cheap stand-in: a 512×512
// matrix, whose cost is nothing next to the generator's).
func faithfulPipeline(b *testing.B, name string) *faceswap.Pipeline {
	b.Helper()
	paths := faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: testSwapper(b),
		Swappers: map[string]string{name: faithfulSwapper(b, name)}}
	if faceswap.SwapperFileModel(paths.Swapper) == name { // the default's own name: it is the default
		paths.Swapper, paths.Swappers = paths.Swappers[name], nil
	}
	if conv := onnxgen.SwapperConverter(name); conv != "" {
		path := filepath.Join(b.TempDir(), conv+".onnx")
		if err := onnxgen.WriteStandinConverter(path, conv, 1); err != nil {
			b.Fatal(err)
		}
		paths.Converters = map[string]string{conv: path}
	}
	return newPipeline(b, paths)
}

// BenchmarkSwapCost is the per-face cost of a swap (crop, model, paste) with each
// FLOP-faithful stand-in (onnxgen.FaithfulSwappers) at its native size and at twice
// it (pixel boost: four runs of the model), next to the cheap inswapper stand-in.
// GMAC/s is the model's arithmetic rate on this device (its MACs × runs per second);
// model-% is the share of the face's time spent inside ONNX Runtime.
func BenchmarkSwapCost(b *testing.B) {
	ctx := context.Background()
	cheap := testPipeline(b)
	src, _, err := cheap.Embed(ctx, []media.Frame{loadFrame(b, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		b.Fatal(err)
	}
	target := loadFrame(b, "grace_hopper.jpg")
	faces, err := cheap.Detect(ctx, target, faceswap.Options{})
	if err != nil || len(faces) == 0 {
		b.Fatal("no face in the target", err)
	}
	// runs is the swapper's runs per face: 1, or k² with pixel boost (the
	// pipeline's session counters also count the recognizer's run for the
	// similarity report, so they cannot give the swapper's alone).
	measure := func(b *testing.B, p *faceswap.Pipeline, opts faceswap.Options, macs int64, runs int) {
		// One untimed swap first: ONNX Runtime sizes its buffers on a session's
		// first run at a shape, which is not the per-face cost.
		if _, _, err := p.SwapFaces(ctx, target, faces[:1], src, opts); err != nil {
			b.Fatal(err)
		}
		_, busy0 := p.InferenceStats()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, _, err := p.SwapFaces(ctx, target, faces[:1], src, opts); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		_, busy1 := p.InferenceStats()
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/face")
		b.ReportMetric(100*(busy1-busy0).Seconds()/b.Elapsed().Seconds(), "model-%")
		if macs > 0 {
			b.ReportMetric(float64(macs)*float64(runs*b.N)/(busy1-busy0).Seconds()/1e9, "GMAC/s")
		}
	}
	b.Run("cheap/inswapper_128/128", func(b *testing.B) { measure(b, cheap, faceswap.Options{}, 0, 1) })
	b.Run("faithful", func(b *testing.B) {
		for _, name := range onnxgen.FaithfulSwappers {
			// A sub-benchmark per model, so a -bench filter opens (and on first
			// use generates) only the models it names.
			b.Run(name, func(b *testing.B) {
				p := faithfulPipeline(b, name)
				macs, err := onnxgen.FaithfulSwapperMACs(name, 1)
				if err != nil {
					b.Fatal(err)
				}
				size := onnxgen.SwapperSize(name)
				for _, boost := range []int{size, 2 * size} {
					b.Run(fmt.Sprint(boost), func(b *testing.B) {
						opts := faceswap.Options{Swapper: name}
						if boost != size {
							opts.PixelBoost = boost
						}
						measure(b, p, opts, macs, (boost/size)*(boost/size))
					})
				}
			})
		}
	})
}

// BenchmarkEnhanceCost is the per-face cost of the enhancer with the
// FLOP-faithful GFPGAN 1.4 stand-in (onnxgen.FaithfulEnhancer, ≈ 198 GMAC): align
// to 512 px, normalise, the model, paste and blend (Stats.Enhance of a swap).
func BenchmarkEnhanceCost(b *testing.B) {
	ctx := context.Background()
	name := faceswap.EnhancerGFPGAN14
	path := faithfulModel(b, name, func(path string) error { return onnxgen.WriteFaithfulEnhancer(path, name, 1, 1) })
	p := newPipeline(b, faceswap.ModelPaths{Detector: detectorModel, Recognizer: recognizerPath, Swapper: testSwapper(b),
		Enhancers: map[string]string{name: path}})
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(b, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		b.Fatal(err)
	}
	target := loadFrame(b, "grace_hopper.jpg")
	faces, err := p.Detect(ctx, target, faceswap.Options{})
	if err != nil || len(faces) == 0 {
		b.Fatal("no face in the target", err)
	}
	opts := faceswap.Options{Enhancer: name}
	if _, _, err := p.SwapFaces(ctx, target, faces[:1], src, opts); err != nil { // untimed first run
		b.Fatal(err)
	}
	macs, _ := onnxgen.FaithfulEnhancerMACs(name, 1)
	var enhance time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, st, err := p.SwapFaces(ctx, target, faces[:1], src, opts)
		if err != nil {
			b.Fatal(err)
		}
		enhance += st.Enhance
	}
	b.StopTimer()
	b.ReportMetric(enhance.Seconds()*1000/float64(b.N), "enhance-ms/face")
	b.ReportMetric(float64(macs)*float64(b.N)/enhance.Seconds()/1e9, "GMAC/s")
}

// BenchmarkVideoCost is the video figure with the FLOP-faithful swapper: the first
// frames of the five-person clip, every face swapped (5 per frame), frames decoded
// beforehand and written nowhere, so the figure is the pipeline's own.
func BenchmarkVideoCost(b *testing.B) {
	ctx := context.Background()
	p := faithfulPipeline(b, "inswapper_128")
	frames := decodeClip(b, filepath.Join(testdata, "video", "five_people_640x480.mp4"), 0, 0, 4)
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(b, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		b.Fatal(err)
	}
	opts := faceswap.Options{FaceSelector: faceswap.SelectMany, Swapper: "inswapper_128"}
	var n, faces int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := p.SwapVideo(ctx, &loopReader{frames: frames, n: len(frames)}, discardWriter{}, src, opts, nil)
		if err != nil {
			b.Fatal(err)
		}
		n += st.Frames
		faces += st.FacesSwapped
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(faces), "ms/face")
}

// BenchmarkVideoCPUCeiling is the CPU side of the video pipeline at 720p, 1080p and
// 4K when inference costs nothing: a YOLOFace stand-in whose output is a constant
// (five faces; its run is a sum over the input) and the cheap swapper, so what is
// measured is letterbox, warp, tensor layout, mask and paste (frames are decoded
// beforehand and written nowhere). x264-fps is libx264 veryfast (swapd's default
// encoder) encoding the same frames on the same machine, the other CPU consumer of a
// video job; ratio = pipeline fps / x264 fps, above 1 when the pipeline's CPU side
// is not what limits a video job.
func BenchmarkVideoCPUCeiling(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	det := filepath.Join(dir, onnxgen.YOLOFaceFile)
	dets := rowOfFaces(5)
	if err := onnxgen.WriteYOLOFace(det, dets); err != nil {
		b.Fatal(err)
	}
	// No recognizer: the similarity report embeds every swapped crop, which is
	// inference too.
	p := newPipeline(b, faceswap.ModelPaths{Detector: det, Swapper: testSwapper(b)})
	src, _, err := testPipeline(b).Embed(ctx, []media.Frame{loadFrame(b, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		b.Fatal(err)
	}
	clip := filepath.Join(testdata, "video", "five_people_640x480.mp4")
	const perRun = 48
	for _, res := range []struct {
		name string
		w, h int
	}{{"720p", 1280, 720}, {"1080p", 1920, 1080}, {"4K", 3840, 2160}} {
		b.Run(res.name, func(b *testing.B) {
			frames := decodeClip(b, clip, res.w, res.h, 8)
			opts := faceswap.Options{FaceSelector: faceswap.SelectMany}
			var n, faces int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st, err := p.SwapVideo(ctx, &loopReader{frames: frames, n: perRun}, discardWriter{}, src, opts, nil)
				if err != nil {
					b.Fatal(err)
				}
				n += st.Frames
				faces += st.FacesSwapped
			}
			b.StopTimer()
			if faces < 4*n {
				b.Fatalf("%d faces swapped in %d frames, want 5 a frame", faces, n)
			}
			fps := float64(n) / b.Elapsed().Seconds()
			x264 := x264FPS(b, frames, perRun)
			b.ReportMetric(fps, "frames/s")
			b.ReportMetric(x264, "x264-fps")
			b.ReportMetric(fps/x264, "ratio")
		})
	}
}

// x264FPS encodes n frames (cycling through frames) with swapd's encoder defaults
// (libx264 veryfast) into a file and returns frames per second.
func x264FPS(b *testing.B, frames []media.Frame, n int) float64 {
	b.Helper()
	out := filepath.Join(b.TempDir(), "ceiling.mp4")
	info := media.VideoInfo{Width: frames[0].Width, Height: frames[0].Height, FPSRational: "25/1", FPS: 25}
	t := time.Now()
	enc, err := media.NewEncoder(context.Background(), out, info, media.EncodeOptions{}, "")
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if err := enc.Write(frames[i%len(frames)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		b.Fatal(err)
	}
	return float64(n) / time.Since(t).Seconds()
}

// decodeClip returns the first n frames of path, scaled to w×h when w > 0.
func decodeClip(b *testing.B, path string, w, h, n int) []media.Frame {
	b.Helper()
	if w > 0 {
		scaled := filepath.Join(b.TempDir(), fmt.Sprintf("clip_%dx%d.mp4", w, h))
		if out, err := exec.Command(media.FFmpegPath(), "-v", "error", "-i", path, "-frames:v", fmt.Sprint(n), "-vf", fmt.Sprintf("scale=%d:%d", w, h),
			"-c:v", "libx264", "-crf", "12", "-an", scaled).CombinedOutput(); err != nil {
			b.Fatalf("scale the clip: %v %s", err, out)
		}
		path = scaled
	}
	frames := decodeVideo(b, path)
	if len(frames) == 0 {
		b.Fatal("no frames decoded")
	}
	return frames[:min(n, len(frames))]
}

// loopReader hands out n frames, cycling through frames (copied, as a decoder
// would fill the pipeline's buffer).
type loopReader struct {
	frames []media.Frame
	n, i   int
}

func (r *loopReader) Next(dst *media.Frame) error {
	if r.i >= r.n {
		return io.EOF
	}
	src := r.frames[r.i%len(r.frames)]
	r.i++
	if cap(dst.Pix) < len(src.Pix) {
		dst.Pix = make([]byte, len(src.Pix))
	}
	dst.Pix = dst.Pix[:len(src.Pix)]
	copy(dst.Pix, src.Pix)
	dst.Width, dst.Height = src.Width, src.Height
	return nil
}

// discardWriter drops every frame.
type discardWriter struct{}

func (discardWriter) Write(media.Frame) error { return nil }
