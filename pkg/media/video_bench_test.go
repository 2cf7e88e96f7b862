package media

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// vtLoop is the sample video looped to 30 s, built once for the benchmark.
var vtLoop struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func vtLoopedSample(b *testing.B) string {
	b.Helper()
	vtRequireFFmpeg(b)
	sample := vtSampleVideo(b)
	vtLoop.once.Do(func() {
		vtLoop.dir, vtLoop.err = os.MkdirTemp("", "swapd-media-bench-")
		if vtLoop.err != nil {
			return
		}
		vtLoop.path = filepath.Join(vtLoop.dir, "looped_30s.mp4")
		// 1 + 9 loops of the 3 s clip, stream-copied: 900 frames of real H.264.
		vtLoop.err = vtRun("-stream_loop", "9", "-i", sample, "-c", "copy", vtLoop.path)
	})
	if vtLoop.err != nil {
		b.Fatalf("building the looped video: %v", vtLoop.err)
	}
	return vtLoop.path
}

// BenchmarkDecodeEncode measures the video pipeline with no face processing: 30 s of
// 640x480 H.264 decoded to RGB24 and re-encoded (libx264 veryfast, quality 80) with
// the audio copied. Its frames/s is the ceiling for a video job on this machine.
func BenchmarkDecodeEncode(b *testing.B) {
	in := vtLoopedSample(b)
	ctx := context.Background()
	info, err := Probe(ctx, in)
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "out.mp4")
	b.SetBytes(int64(info.Width * info.Height * 3 * info.Frames))
	b.ResetTimer()
	start := time.Now()
	frames := 0
	for i := 0; i < b.N; i++ {
		d, err := NewDecoder(ctx, in, info)
		if err != nil {
			b.Fatal(err)
		}
		e, err := NewEncoder(ctx, out, info, EncodeOptions{}, in)
		if err != nil {
			b.Fatal(err)
		}
		var f Frame
		for {
			if err := d.Next(&f); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			if err := e.Write(f); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
		d.Close()
		frames += d.Frames()
	}
	b.ReportMetric(float64(frames)/time.Since(start).Seconds(), "frames/s")
}
