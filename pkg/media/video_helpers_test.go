package media

import (
	"bytes"
	"context"
	"fmt"
	"github.com/swapd/swapd/internal/fixtures"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The video tests run the real ffmpeg and ffprobe. They never skip when those are
// missing: a build without them is not a working swapd, so the tests fail and say so.

// vtRequireFFmpeg fails the test when ffmpeg or ffprobe cannot be found.
func vtRequireFFmpeg(t testing.TB) {
	t.Helper()
	for _, bin := range []string{FFmpegPath(), FFprobePath()} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("the video tests need ffmpeg and ffprobe (Debian: apt-get install ffmpeg), or %s pointing at an ffmpeg with ffprobe beside it: %v", FFmpegEnv, err)
		}
	}
}

// vtTestdata returns the shared test data directory (see package fixtures).
func vtTestdata() string { return fixtures.Dir() }

// vtSampleVideo returns the path of the real test video (3 s, 640x480, 30000/1001
// fps, H.264 + AAC), failing the test when it is missing.
func vtSampleVideo(t testing.TB) string {
	t.Helper()
	p := filepath.Join(vtTestdata(), "video", "five_people_640x480.mp4")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test video missing (set SWAPD_TESTDATA; see shared/testdata/MANIFEST.md): %v", err)
	}
	return p
}

// vtFFmpeg runs ffmpeg with args and fails the test on error.
func vtFFmpeg(t testing.TB, args ...string) {
	t.Helper()
	if err := vtRun(args...); err != nil {
		t.Fatal(err)
	}
}

func vtRun(args ...string) error {
	full := append([]string{"-nostdin", "-hide_banner", "-v", "error", "-y"}, args...)
	out, err := exec.Command(FFmpegPath(), full...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// vtFixtures are short synthetic videos built once per test binary:
// 2 s of testsrc at 25 fps, 320x240, with a 440 Hz tone.
var vtFixtures struct {
	once sync.Once
	dir  string
	err  error
}

// Fixture names, each a (container, video codec, audio codec) the tests need.
const (
	vtMP4  = "h264_aac.mp4"    // the common case
	vtMOV  = "h264_aac.mov"    // QuickTime brand
	vtWebM = "vp9_opus.webm"   // WebM: no frame count in the container
	vtMKV  = "h264_vorbis.mkv" // Matroska, with audio MP4 cannot take
)

// vtFixture returns the path of a fixture, building all of them on first use.
func vtFixture(t testing.TB, name string) string {
	t.Helper()
	vtRequireFFmpeg(t)
	vtFixtures.once.Do(func() {
		vtFixtures.dir, vtFixtures.err = os.MkdirTemp("", "swapd-media-video-")
		if vtFixtures.err != nil {
			return
		}
		src := []string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2"}
		h264 := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
		jobs := map[string][]string{
			vtMP4:  append(append(append([]string{}, src...), h264...), "-c:a", "aac", "-f", "mp4"),
			vtMOV:  append(append(append([]string{}, src...), h264...), "-c:a", "aac", "-f", "mov"),
			vtWebM: append(append([]string{}, src...), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k", "-c:a", "libopus", "-f", "webm"),
			vtMKV:  append(append(append([]string{}, src...), h264...), "-c:a", "libvorbis", "-f", "matroska"),
		}
		for name, args := range jobs {
			if err := vtRun(append(args, filepath.Join(vtFixtures.dir, name))...); err != nil {
				vtFixtures.err = err
				return
			}
		}
	})
	if vtFixtures.err != nil {
		t.Fatalf("building video fixtures: %v", vtFixtures.err)
	}
	return filepath.Join(vtFixtures.dir, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if vtFixtures.dir != "" {
		os.RemoveAll(vtFixtures.dir)
	}
	if vtLoop.dir != "" {
		os.RemoveAll(vtLoop.dir)
	}
	os.Exit(code)
}

// vtProbe probes path and fails the test on error.
func vtProbe(t testing.TB, path string) VideoInfo {
	t.Helper()
	info, err := Probe(context.Background(), path)
	if err != nil {
		t.Fatalf("Probe(%s): %v", filepath.Base(path), err)
	}
	return info
}

// vtDecodeAll decodes every frame of path.
func vtDecodeAll(t testing.TB, path string) ([]Frame, VideoInfo) {
	t.Helper()
	info := vtProbe(t, path)
	d, err := NewDecoder(context.Background(), path, info)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var frames []Frame
	for {
		var f Frame
		err := d.Next(&f)
		if err == io.EOF {
			return frames, info
		}
		if err != nil {
			t.Fatalf("decoding %s after %d frames: %v", filepath.Base(path), len(frames), err)
		}
		frames = append(frames, f)
	}
}

// vtTranscode decodes in and encodes every frame, through edit (when not nil), to out
// with in's audio. It returns the number of frames and the Encoder.
func vtTranscode(t testing.TB, in, out string, opts EncodeOptions, edit func(*Frame)) (int, *Encoder) {
	t.Helper()
	ctx := context.Background()
	info := vtProbe(t, in)
	d, err := NewDecoder(ctx, in, info)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	e, err := NewEncoder(ctx, out, info, opts, in)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Abort()
	var f Frame
	for {
		err := d.Next(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(&f)
		}
		if err := e.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return d.Frames(), e
}

// vtAudioHash returns the MD5 of path's audio packets, copied without decoding: equal
// hashes mean the audio was carried over bit for bit.
func vtAudioHash(t testing.TB, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, FFmpegPath(), "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0", "-c", "copy", "-f", "md5", "-")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("hashing the audio of %s: %v: %s", filepath.Base(path), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// vtMeanAbsDiff is the mean absolute difference of two frames' bytes.
func vtMeanAbsDiff(a, b Frame) float64 {
	var sum int
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return float64(sum) / float64(len(a.Pix))
}
