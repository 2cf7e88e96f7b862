package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/swapd/swapd/pkg/errcode"
)

// vtTopLevelBoxes lists the top-level box types of an MP4/MOV file in order.
func vtTopLevelBoxes(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var boxes []string
	for off := 0; off+8 <= len(data); {
		size := int(binary.BigEndian.Uint32(data[off:]))
		boxes = append(boxes, string(data[off+4:off+8]))
		if size == 1 && off+16 <= len(data) {
			size = int(binary.BigEndian.Uint64(data[off+8:]))
		}
		if size < 8 {
			break
		}
		off += size
	}
	return boxes
}

// Decode → encode with no change keeps every frame, the exact frame rate and the audio
// bit for bit, and the pictures stay close to the source.
func TestPassthroughKeepsFramesFPSAndAudio(t *testing.T) {
	vtRequireFFmpeg(t)
	for _, in := range []string{vtSampleVideo(t), vtFixture(t, vtMP4), vtFixture(t, vtMOV)} {
		name := filepath.Base(in)
		out := filepath.Join(t.TempDir(), "out"+filepath.Ext(in))
		n, enc := vtTranscode(t, in, out, EncodeOptions{}, nil)
		src, got := vtProbe(t, in), vtProbe(t, out)
		if n != src.Frames || got.Frames != src.Frames {
			t.Errorf("%s: %d frames decoded, %d in the output, want %d", name, n, got.Frames, src.Frames)
		}
		if got.FPSRational != src.FPSRational {
			t.Errorf("%s: output fps %s, want %s", name, got.FPSRational, src.FPSRational)
		}
		if got.Container != src.Container || got.Codec != "h264" || got.PixFmt != "yuv420p" {
			t.Errorf("%s: output %s %s %s", name, got.Container, got.Codec, got.PixFmt)
		}
		if !enc.AudioCopied || vtAudioHash(t, in) != vtAudioHash(t, out) {
			t.Errorf("%s: audio copied=%v, hashes %s vs %s", name, enc.AudioCopied, vtAudioHash(t, in), vtAudioHash(t, out))
		}
		if boxes := vtTopLevelBoxes(t, out); slices.Index(boxes, "moov") > slices.Index(boxes, "mdat") {
			t.Errorf("%s: no faststart, boxes %v", name, boxes)
		}
		a, _ := vtDecodeAll(t, in)
		b, _ := vtDecodeAll(t, out)
		worst := 0.0
		for i := range min(len(a), len(b)) {
			worst = max(worst, vtMeanAbsDiff(a[i], b[i]))
		}
		// Quality 80 is crf 10: close to lossless. A colour-matrix mismatch between
		// the RGB conversions would show as a shift of 5 or more.
		if worst > 2.5 {
			t.Errorf("%s: frames differ from the source by up to %.2f per byte", name, worst)
		}
		t.Logf("%s: %d frames at %s, worst mean abs diff %.2f", name, n, got.FPSRational, worst)
	}
}

// WebM (VP9/Opus) to MP4: Opus is copied (MP4 takes it); frames kept.
// MKV with Vorbis to MP4: Vorbis is re-encoded to AAC.
func TestTranscodeWebMAndMKVToMP4(t *testing.T) {
	cases := []struct {
		in, audio string
		copied    bool
	}{
		{vtFixture(t, vtWebM), "opus", true},
		{vtFixture(t, vtMKV), "aac", false},
	}
	for _, c := range cases {
		out := filepath.Join(t.TempDir(), "out.mp4")
		n, enc := vtTranscode(t, c.in, out, EncodeOptions{}, nil)
		got := vtProbe(t, out)
		if n != 50 || got.Frames != 50 || got.FPSRational != "25/1" {
			t.Errorf("%s: %d frames decoded, output %d at %s; want 50 at 25/1", filepath.Base(c.in), n, got.Frames, got.FPSRational)
		}
		if got.Container != ContainerMP4 || got.AudioCodec != c.audio || enc.AudioCopied != c.copied {
			t.Errorf("%s: output %s audio %s copied=%v; want mp4 %s copied=%v", filepath.Base(c.in), got.Container, got.AudioCodec, enc.AudioCopied, c.audio, c.copied)
		}
		if c.copied && vtAudioHash(t, c.in) != vtAudioHash(t, out) {
			t.Errorf("%s: copied audio differs", filepath.Base(c.in))
		}
	}
}

// MP4 (AAC) to WebM: VP9 by default, AAC re-encoded to Opus.
func TestTranscodeMP4ToWebM(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.webm")
	n, enc := vtTranscode(t, vtFixture(t, vtMP4), out, EncodeOptions{}, nil)
	got := vtProbe(t, out)
	if n != 50 || got.Frames != 50 || got.Container != ContainerWebM || got.Codec != "vp9" || got.AudioCodec != "opus" || enc.AudioCopied {
		t.Errorf("webm output: %d frames decoded, %+v, copied=%v", n, got, enc.AudioCopied)
	}
}

// Changed pixels come out changed: a white square drawn on every frame is in every
// frame of the output.
func TestModifiedFramesComeOut(t *testing.T) {
	const x0, y0, side = 40, 40, 64
	white := func(f *Frame) {
		for y := y0; y < y0+side; y++ {
			row := f.Pix[(y*f.Width+x0)*3 : (y*f.Width+x0+side)*3]
			for i := range row {
				row[i] = 255
			}
		}
	}
	in := vtFixture(t, vtMP4)
	out := filepath.Join(t.TempDir(), "white.mp4")
	vtTranscode(t, in, out, EncodeOptions{}, white)
	frames, _ := vtDecodeAll(t, out)
	src, _ := vtDecodeAll(t, in)
	if len(frames) != 50 {
		t.Fatalf("%d frames, want 50", len(frames))
	}
	for i, f := range frames {
		var sum, n int
		for y := y0 + 4; y < y0+side-4; y++ { // chroma subsampling blurs the edge
			for _, v := range f.Pix[(y*f.Width+x0+4)*3 : (y*f.Width+x0+side-4)*3] {
				sum += int(v)
				n++
			}
		}
		if mean := float64(sum) / float64(n); mean < 245 {
			t.Fatalf("frame %d: the square's mean is %.1f, want white", i, mean)
		}
		// Outside the square the picture is the source's.
		far := 200 * 3 * f.Width
		if d := vtMeanAbsDiff(Frame{Pix: f.Pix[far:]}, Frame{Pix: src[i].Pix[far:]}); d > 3 {
			t.Fatalf("frame %d: rows below the square differ by %.2f", i, d)
		}
	}
}

func TestEncoderAbortRemovesOutput(t *testing.T) {
	in := vtFixture(t, vtMP4)
	info := vtProbe(t, in)
	out := filepath.Join(t.TempDir(), "partial.mp4")
	e, err := NewEncoder(context.Background(), out, info, EncodeOptions{}, in)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFrame(info.Width, info.Height)
	for range 10 {
		if err := e.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	e.Abort()
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output after Abort: %v, want it gone", err)
	}
	if e.cmd.ProcessState == nil {
		t.Error("ffmpeg not reaped by Abort")
	}
	if err := e.Write(f); err == nil {
		t.Error("Write after Abort succeeded")
	}
	if err := e.Close(); err == nil {
		t.Error("Close after Abort succeeded")
	}
	e.Abort() // twice is fine
}

// Abort after a successful Close (a deferred Abort) keeps the finished file.
func TestEncoderAbortAfterCloseKeepsOutput(t *testing.T) {
	in := vtFixture(t, vtMP4)
	info := vtProbe(t, in)
	out := filepath.Join(t.TempDir(), "done.mp4")
	e, err := NewEncoder(context.Background(), out, info, EncodeOptions{}, "")
	if err != nil {
		t.Fatal(err)
	}
	f := NewFrame(info.Width, info.Height)
	for range 5 {
		if err := e.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e.Abort()
	got := vtProbe(t, out)
	if got.Frames != 5 || got.HasAudio {
		t.Errorf("output %d frames, audio %v; want 5 frames, no audio", got.Frames, got.HasAudio)
	}
	if err := e.Write(f); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func TestEncoderContextCancel(t *testing.T) {
	in := vtFixture(t, vtMP4)
	info := vtProbe(t, in)
	out := filepath.Join(t.TempDir(), "cancelled.mp4")
	ctx, cancel := context.WithCancel(context.Background())
	e, err := NewEncoder(ctx, out, info, EncodeOptions{}, in)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Abort()
	f := NewFrame(info.Width, info.Height)
	if err := e.Write(f); err != nil {
		t.Fatal(err)
	}
	cancel()
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ { // the pipe holds a few frames
		werr = e.Write(f)
	}
	if !errors.Is(werr, context.Canceled) {
		t.Fatalf("Write after cancel: %v, want context.Canceled", werr)
	}
	if err := e.Close(); !errors.Is(err, context.Canceled) {
		t.Errorf("Close after cancel: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output after a cancelled encode: %v, want it gone", err)
	}
}

func TestEncoderNoFramesAndWrongSize(t *testing.T) {
	in := vtFixture(t, vtMP4)
	info := vtProbe(t, in)
	out := filepath.Join(t.TempDir(), "empty.mp4")
	e, err := NewEncoder(context.Background(), out, info, EncodeOptions{}, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Write(NewFrame(10, 10)); err == nil {
		t.Error("a 10x10 frame was accepted by a 320x240 encoder")
	}
	if err := e.Close(); err == nil {
		t.Error("Close with no frames succeeded")
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output with no frames: %v, want it gone", err)
	}
}

// Odd sizes are padded to even, which yuv420p needs.
func TestEncoderOddSize(t *testing.T) {
	vtRequireFFmpeg(t)
	out := filepath.Join(t.TempDir(), "odd.mkv")
	info := VideoInfo{Width: 321, Height: 241, FPSRational: "24000/1001"}
	e, err := NewEncoder(context.Background(), out, info, EncodeOptions{}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Abort()
	for range 3 {
		if err := e.Write(NewFrame(321, 241)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	got := vtProbe(t, out)
	if got.Width != 322 || got.Height != 242 || got.Frames != 3 || got.FPSRational != "24000/1001" {
		t.Errorf("output %dx%d, %d frames at %s", got.Width, got.Height, got.Frames, got.FPSRational)
	}
}

// libx265 in MP4 is tagged hvc1, which Apple players require.
func TestEncoderX265TagsHVC1(t *testing.T) {
	in := vtFixture(t, vtMP4)
	info := vtProbe(t, in)
	out := filepath.Join(t.TempDir(), "hevc.mp4")
	e, err := NewEncoder(context.Background(), out, info, EncodeOptions{Encoder: EncoderX265, Quality: 50}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Abort()
	for range 5 {
		if err := e.Write(NewFrame(info.Width, info.Height)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	tag, err := exec.Command(FFprobePath(), "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_tag_string,codec_name", "-of", "csv=p=0", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(tag)); s != "hevc,hvc1" {
		t.Errorf("codec,tag = %q, want hevc,hvc1", s)
	}
}

func TestEncodeOptions(t *testing.T) {
	vtRequireFFmpeg(t)
	ctx := context.Background()
	bad := []struct {
		opts      EncodeOptions
		container string
	}{
		{EncodeOptions{Encoder: "mpeg2video"}, ContainerMP4},
		{EncodeOptions{Encoder: EncoderX264}, ContainerWebM},
		{EncodeOptions{Encoder: EncoderVP9}, ContainerMOV},
		{EncodeOptions{Quality: 101}, ContainerMP4},
		{EncodeOptions{Quality: -1}, ContainerMP4},
	}
	for _, c := range bad {
		if _, err := c.opts.resolve(ctx, c.container); errcode.Code(err) != errcode.InvalidRequest {
			t.Errorf("%+v into %s: %v, want %s", c.opts, c.container, err, errcode.InvalidRequest)
		}
	}
	for q, crf := range map[int]string{0: "10", 80: "10", 100: "0", 1: "50", 50: "26"} {
		o, err := EncodeOptions{Quality: q}.resolve(ctx, ContainerMP4)
		if err != nil {
			t.Fatal(err)
		}
		args := o.args(ContainerMP4)
		if i := slices.Index(args, "-crf"); i < 0 || args[i+1] != crf || !slices.Contains(args, "veryfast") || o.Encoder != EncoderX264 {
			t.Errorf("quality %d: %v, want libx264 crf %s veryfast", q, args, crf)
		}
	}
	if o, _ := (EncodeOptions{}).resolve(ctx, ContainerWebM); o.Encoder != EncoderVP9 || !slices.Contains(o.args(ContainerWebM), "13") {
		t.Errorf("webm default: %s %v, want libvpx-vp9 crf 13", o.Encoder, o.args(ContainerWebM))
	}
	nv := EncodeOptions{Encoder: EncoderNVENCHEVC, Quality: 100}.args(ContainerMP4)
	if i := slices.Index(nv, "-cq"); i < 0 || nv[i+1] != "1" || !slices.Contains(nv, "hvc1") {
		t.Errorf("hevc_nvenc at quality 100: %v, want cq 1 and hvc1", nv)
	}
}

func TestAvailableEncoders(t *testing.T) {
	vtRequireFFmpeg(t)
	names, err := AvailableEncoders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"libx264", "aac"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s missing from %d encoders", want, len(names))
		}
	}
	table := []byte("Encoders:\n V..... = Video\n A..... = Audio\n ------\n V....D libx264              libx264 H.264\n V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)\n A....D aac                  AAC\n")
	if got := parseFFmpegEncoders(table); !slices.Equal(got, []string{"libx264", "h264_nvenc", "aac"}) {
		t.Errorf("parseFFmpegEncoders = %v", got)
	}
}

func TestVideoAudioRules(t *testing.T) {
	for _, c := range []struct {
		container, codec string
		copied           bool
		encoder          string
	}{
		{ContainerMP4, "aac", true, "copy"},
		{ContainerMP4, "opus", true, "copy"},
		{ContainerMP4, "vorbis", false, "aac"},
		{ContainerMP4, "flac", false, "aac"},
		{ContainerMOV, "opus", false, "aac"},
		{ContainerMOV, "pcm_s16le", true, "copy"},
		{ContainerWebM, "aac", false, "libopus"},
		{ContainerWebM, "vorbis", true, "copy"},
		{ContainerMKV, "flac", true, "copy"},
	} {
		args, copied := videoAudioArgs(c.container, c.codec)
		if copied != c.copied || args[1] != c.encoder {
			t.Errorf("%s audio in %s: %v copied=%v", c.codec, c.container, args, copied)
		}
	}
}

func TestVideoStderrKeepsTail(t *testing.T) {
	var s videoStderr
	s.Write(bytes.Repeat([]byte("x"), videoStderrMax))
	s.Write([]byte("\n[h264 @ 0x55d1c0a8e2c0] broken at /tmp/job/in.mp4\nlast line"))
	got := s.Tail(videoHide("/tmp/job/in.mp4"))
	if !strings.HasSuffix(got, "[h264] broken at input ; last line") || len(got) > videoStderrMax {
		t.Errorf("tail %q", got[max(0, len(got)-80):])
	}
}
