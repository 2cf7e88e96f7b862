package faceswap_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

// BenchmarkVideoFile is the end-to-end video figure: the shared five-person clip
// looped to 30 s, decoded by one ffmpeg, every face swapped (face_selector many), and
// encoded by another ffmpeg with the audio copied — exactly what a video job does
// between download and upload. Compare its frames/s with media's
// BenchmarkDecodeEncode, the same clip through ffmpeg alone: the ceiling.
//
// Reported: frames/s end to end; inference-ms/frame (time inside ONNX Runtime);
// overhead-% (wall time not spent in inference, as a share of the inference time);
// peak-RSS-MiB of the benchmark process.
func BenchmarkVideoFile(b *testing.B) {
	p := fullPipeline(b)
	ctx := context.Background()
	dir := b.TempDir()
	clip := filepath.Join(dir, "loop30.mp4")
	src := filepath.Join(testdata, "video", "five_people_640x480.mp4")
	if out, err := exec.Command(media.FFmpegPath(), "-v", "error", "-stream_loop", "-1", "-i", src, "-t", "30", "-c", "copy", clip).CombinedOutput(); err != nil {
		b.Fatalf("loop the clip: %v %s", err, out)
	}
	info, err := media.Probe(ctx, clip)
	if err != nil {
		b.Fatal(err)
	}
	emb, _, err := p.Embed(ctx, []media.Frame{loadFrame(b, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		b.Fatal(err)
	}
	opts := faceswap.Options{FaceSelector: faceswap.SelectMany}
	b.ResetTimer()
	var frames int
	var wall, infer time.Duration
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, "out.mp4")
		dec, err := media.NewDecoder(ctx, clip, info)
		if err != nil {
			b.Fatal(err)
		}
		enc, err := media.NewEncoder(ctx, out, info, media.EncodeOptions{}, clip)
		if err != nil {
			b.Fatal(err)
		}
		_, i0 := p.InferenceStats()
		t0 := time.Now()
		st, err := p.SwapVideo(ctx, dec, enc, emb, opts, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := enc.Close(); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(t0)
		_, i1 := p.InferenceStats()
		infer += i1 - i0
		frames += st.Frames
		dec.Close()
		os.Remove(out)
	}
	b.StopTimer()
	b.ReportMetric(float64(frames)/wall.Seconds(), "frames/s")
	b.ReportMetric(infer.Seconds()*1000/float64(frames), "inference-ms/frame")
	b.ReportMetric(100*(wall-infer).Seconds()/infer.Seconds(), "overhead-%")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}
