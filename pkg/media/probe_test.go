package media

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
)

func TestProbeSampleVideo(t *testing.T) {
	vtRequireFFmpeg(t)
	info := vtProbe(t, vtSampleVideo(t))
	if info.Width != 640 || info.Height != 480 {
		t.Errorf("size %dx%d, want 640x480", info.Width, info.Height)
	}
	if info.FPSRational != "30000/1001" || info.FPS < 29.97 || info.FPS > 29.971 {
		t.Errorf("fps %q = %v, want 30000/1001", info.FPSRational, info.FPS)
	}
	if info.Frames != 90 {
		t.Errorf("frames %d, want 90", info.Frames)
	}
	if d := info.Duration - 3*time.Second; d < -100*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("duration %v, want about 3s", info.Duration)
	}
	if info.Container != ContainerMP4 || info.Codec != "h264" || info.PixFmt != "yuv420p" || info.Rotation != 0 {
		t.Errorf("container %q codec %q pix_fmt %q rotation %d", info.Container, info.Codec, info.PixFmt, info.Rotation)
	}
	if !info.HasAudio || info.AudioCodec != "aac" {
		t.Errorf("audio %v %q, want aac", info.HasAudio, info.AudioCodec)
	}
	if st, _ := os.Stat(vtSampleVideo(t)); info.Size != st.Size() {
		t.Errorf("size %d bytes, want %d", info.Size, st.Size())
	}
}

// WebM keeps no frame count, so Probe counts packets.
func TestProbeWebMCountsPackets(t *testing.T) {
	info := vtProbe(t, vtFixture(t, vtWebM))
	if info.Container != ContainerWebM || info.Codec != "vp9" || info.AudioCodec != "opus" {
		t.Errorf("got %q %q %q, want webm vp9 opus", info.Container, info.Codec, info.AudioCodec)
	}
	if info.Frames != 50 || info.FPSRational != "25/1" || info.FPS != 25 {
		t.Errorf("frames %d fps %q, want 50 at 25/1", info.Frames, info.FPSRational)
	}
	if info.Width != 320 || info.Height != 240 {
		t.Errorf("size %dx%d", info.Width, info.Height)
	}
	for _, name := range []string{vtMOV, vtMKV} {
		info := vtProbe(t, vtFixture(t, name))
		if info.Frames != 50 {
			t.Errorf("%s: frames %d, want 50", name, info.Frames)
		}
	}
}

// A display matrix makes Probe report upright dimensions, and the Decoder returns
// upright frames of that size.
func TestProbeAndDecodeRotation(t *testing.T) {
	vtRequireFFmpeg(t)
	dir := t.TempDir()
	plain, rotated := filepath.Join(dir, "plain.mp4"), filepath.Join(dir, "rotated.mp4")
	// A white 40x40 box in the top-left corner of a black 320x240 frame.
	vtFFmpeg(t, "-f", "lavfi", "-i", "color=black:size=320x240:rate=25:duration=0.2,drawbox=x=0:y=0:w=40:h=40:color=white:t=fill",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", plain)
	// rotate=90 here makes a display matrix ffprobe reports as rotation 90
	// (counter-clockwise), which players and ffmpeg show turned 90° counter-clockwise.
	vtFFmpeg(t, "-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated)
	frames, info := vtDecodeAll(t, rotated)
	if info.Rotation != 270 || info.Width != 240 || info.Height != 320 {
		t.Fatalf("rotation %d size %dx%d, want 270 and 240x320", info.Rotation, info.Width, info.Height)
	}
	if len(frames) != 5 {
		t.Fatalf("%d frames, want 5", len(frames))
	}
	f := frames[0]
	at := func(x, y int) byte { return f.Pix[(y*f.Width+x)*3] }
	if at(5, f.Height-5) < 200 || at(5, 5) > 50 {
		t.Errorf("turned counter-clockwise, the box belongs bottom-left: bottom-left %d, top-left %d", at(5, f.Height-5), at(5, 5))
	}
}

func TestProbeRejectsBadInput(t *testing.T) {
	vtRequireFFmpeg(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mp4, err := os.ReadFile(vtFixture(t, vtMP4))
	if err != nil {
		t.Fatal(err)
	}
	audioOnly := filepath.Join(dir, "tone.m4a")
	vtFFmpeg(t, "-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac", audioOnly)
	cases := []struct {
		name, path, code string
	}{
		{"empty", write("empty.mp4", nil), errcode.EmptyInput},
		{"text", write("notes.mp4", []byte("just some text, not a video at all")), errcode.UnsupportedMedia},
		{"truncated mp4", write("truncated.mp4", mp4[:len(mp4)/3]), errcode.CorruptInput},
		{"ebml garbage", write("garbage.mkv", append([]byte{0x1A, 0x45, 0xDF, 0xA3}, make([]byte, 5000)...)), errcode.CorruptInput},
		{"audio only", audioOnly, errcode.UnsupportedMedia},
	}
	for _, c := range cases {
		_, err := Probe(context.Background(), c.path)
		if got := errcode.Code(err); got != c.code {
			t.Errorf("%s: code %s (%v), want %s", c.name, got, err, c.code)
			continue
		}
		if strings.Contains(err.Error(), dir) {
			t.Errorf("%s: the message shows a server path: %v", c.name, err)
		}
		t.Logf("%s: %v", c.name, err)
	}
	if _, err := Probe(context.Background(), filepath.Join(dir, "missing.mp4")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}

func TestProbeMissingFFprobe(t *testing.T) {
	fixture := vtFixture(t, vtMP4)
	t.Setenv(FFmpegEnv, filepath.Join(t.TempDir(), "ffmpeg"))
	_, err := Probe(context.Background(), fixture)
	if errcode.Code(err) != errcode.Unavailable {
		t.Errorf("Probe without ffprobe: %v, want %s", err, errcode.Unavailable)
	}
}

func TestFFprobePath(t *testing.T) {
	for bin, want := range map[string]string{
		"":                        "ffprobe",
		"ffmpeg":                  "ffprobe",
		"/usr/bin/ffmpeg":         "/usr/bin/ffprobe",
		"/opt/ff6/bin/ffmpeg-6.1": "/opt/ff6/bin/ffprobe-6.1",
		"/opt/x/transcoder":       "/opt/x/ffprobe",
	} {
		t.Setenv(FFmpegEnv, bin)
		if got := FFprobePath(); got != want {
			t.Errorf("%s=%q: FFprobePath %q, want %q", FFmpegEnv, bin, got, want)
		}
	}
}

func TestParseRational(t *testing.T) {
	for s, want := range map[string]float64{"30000/1001": 30000.0 / 1001, "25/1": 25, "24": 24, "60000/1001": 60000.0 / 1001} {
		if got, ok := parseRational(s); !ok || got != want {
			t.Errorf("parseRational(%q) = %v, %v", s, got, ok)
		}
	}
	for _, s := range []string{"0/0", "", "N/A", "25/0", "-25/1", "x/y"} {
		if _, ok := parseRational(s); ok {
			t.Errorf("parseRational(%q) accepted", s)
		}
	}
}
