package media

import (
	"os"
	"path/filepath"
	"testing"
)

// vtCut writes the first percent of src's bytes to a new file and returns its path.
func vtCut(t testing.TB, src string, percent int) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "cut-"+filepath.Base(src))
	if err := os.WriteFile(out, b[:len(b)*percent/100], 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// A video cut short (a partial upload) still announces its whole length in its
// header: MP4 with the index first (+faststart) by nb_frames, Matroska by its
// duration. Probe reports that as ExpectedFrames, and Truncated tells the decoded
// count apart from it; the whole file is not truncated.
func TestProbeExpectedFramesOfTruncatedVideo(t *testing.T) {
	vtRequireFFmpeg(t)
	dir := t.TempDir()
	fast := filepath.Join(dir, "faststart.mp4")
	mkv := filepath.Join(dir, "whole.mkv")
	vtFFmpeg(t, "-i", vtSampleVideo(t), "-c", "copy", "-movflags", "+faststart", fast)
	vtFFmpeg(t, "-i", vtSampleVideo(t), "-c", "copy", mkv)
	for _, whole := range []string{fast, mkv} {
		t.Run(filepath.Ext(whole), func(t *testing.T) {
			frames, info := vtDecodeAll(t, whole)
			if len(frames) != 90 || info.ExpectedFrames < 89 || info.ExpectedFrames > 92 || info.Truncated(len(frames)) {
				t.Fatalf("whole file: %d frames decoded, %d expected, truncated %v", len(frames), info.ExpectedFrames, info.Truncated(len(frames)))
			}
			cut := vtCut(t, whole, 40)
			frames, info = vtDecodeAll(t, cut)
			if len(frames) == 0 || len(frames) > 60 {
				t.Fatalf("cut file decoded %d frames; the test needs a partial decode", len(frames))
			}
			if info.ExpectedFrames < 89 || info.ExpectedFrames > 92 || !info.Truncated(len(frames)) {
				t.Fatalf("cut file: %d frames decoded, %d expected (header), truncated %v", len(frames), info.ExpectedFrames, info.Truncated(len(frames)))
			}
		})
	}
}

func TestTruncatedSlack(t *testing.T) {
	for _, c := range []struct {
		expected, decoded int
		want              bool
	}{
		{0, 5, false}, // unknown: never truncated
		{90, 90, false},
		{90, 88, false}, // two frames of estimation slack
		{90, 87, true},
		{18000, 17821, false}, // 1% of a long video
		{18000, 17819, true},
		{90, 95, false},
	} {
		if got := (VideoInfo{ExpectedFrames: c.expected}).Truncated(c.decoded); got != c.want {
			t.Errorf("expected %d, decoded %d: truncated %v, want %v", c.expected, c.decoded, got, c.want)
		}
	}
}

func TestProbeClock(t *testing.T) {
	for s, want := range map[string]float64{"00:00:03.036000000": 3.036, "01:02:03.5": 3723.5, "": 0, "3.0": 0, "aa:00:01": 0} {
		d, ok := probeClock(s)
		if ok != (want > 0) || (ok && d.Seconds() != want) {
			t.Errorf("probeClock(%q) = %v %v, want %v", s, d, ok, want)
		}
	}
}
