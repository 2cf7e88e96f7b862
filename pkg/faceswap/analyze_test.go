package faceswap_test

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

// fivePeople is the test video: 640×480, 3 s at 30 fps, five people in every frame.
var fivePeople = filepath.Join(testdata, "video", "five_people_640x480.mp4")

// decodeVideo decodes every frame of path.
func decodeVideo(t testing.TB, path string) []media.Frame {
	t.Helper()
	ctx := context.Background()
	info, err := media.Probe(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := media.NewDecoder(ctx, path, info)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out []media.Frame
	for {
		var f media.Frame
		if err := d.Next(&f); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

var (
	fiveOnce   sync.Once
	fiveFrames []media.Frame
)

// fivePeopleFrames is the decoded test video, decoded once per test binary.
func fivePeopleFrames(t testing.TB) []media.Frame {
	t.Helper()
	fiveOnce.Do(func() { fiveFrames = decodeVideo(t, fivePeople) })
	if len(fiveFrames) == 0 {
		t.Fatal("test video decoded to no frames")
	}
	return fiveFrames
}

var (
	fiveAnalysisOnce sync.Once
	fiveAnalysis     faceswap.VideoAnalysis
	fiveAnalysisErr  error
)

// fivePeopleAnalysis is AnalyzeVideo of the test video with default options,
// computed once.
func fivePeopleAnalysis(t testing.TB) faceswap.VideoAnalysis {
	t.Helper()
	p := testPipeline(t)
	frames := fivePeopleFrames(t)
	fiveAnalysisOnce.Do(func() {
		fiveAnalysis, fiveAnalysisErr = p.AnalyzeVideo(context.Background(), &sliceReader{frames: frames}, faceswap.Options{}, 1, nil)
	})
	if fiveAnalysisErr != nil {
		t.Fatal(fiveAnalysisErr)
	}
	return fiveAnalysis
}

// checkIdentities checks that an analysis of frames video frames found five
// distinct people, each in most analysed frames (the small detector misses the
// smallest face in a quarter of them), and logs the cosines between
// their mean embeddings.
func checkIdentities(t *testing.T, a faceswap.VideoAnalysis, minShare float64) {
	t.Helper()
	if len(a.Identities) != 5 {
		for _, id := range a.Identities {
			t.Logf("identity %d: frames %d–%d, seen %d, tracks %d", id.ID, id.FirstFrame, id.LastFrame, id.Frames, id.Tracks)
		}
		t.Fatalf("%d identities, want 5", len(a.Identities))
	}
	for i, id := range a.Identities {
		if id.ID != i {
			t.Errorf("identity %d has ID %d", i, id.ID)
		}
		if float64(id.Frames) < minShare*float64(a.FramesAnalysed) {
			t.Errorf("identity %d seen in %d of %d analysed frames", i, id.Frames, a.FramesAnalysed)
		}
		if id.Thumb.Width != faceswap.ThumbSize && id.Thumb.Height != faceswap.ThumbSize {
			t.Errorf("identity %d thumbnail %dx%d, want long side %d", i, id.Thumb.Width, id.Thumb.Height, faceswap.ThumbSize)
		}
		if len(id.Embedding) != faceswap.EmbeddingSize {
			t.Errorf("identity %d embedding of %d values", i, len(id.Embedding))
		}
		for j := i + 1; j < len(a.Identities); j++ {
			c := faceswap.Cosine(id.Embedding, a.Identities[j].Embedding)
			t.Logf("identities %d,%d: cosine %.3f", i, j, c)
			if c >= faceswap.ClusterMinCosine && id.Frames+a.Identities[j].Frames <= a.FramesAnalysed {
				t.Errorf("identities %d and %d (cosine %.3f) could have been merged", i, j, c)
			}
		}
	}
}

// The image analysis lists every face left to right, each its own identity.
func TestAnalyzeImage(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		frame media.Frame
		want  int
	}{
		{"group_test3.jpg", loadFrame(t, "group_test3.jpg"), 0},
		{"video frame 0", fivePeopleFrames(t)[0], 5},
	} {
		a, st, err := p.AnalyzeImage(ctx, tc.frame, faceswap.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		t.Logf("%s: %d faces, detect %v, embed %v", tc.name, len(a.Faces), st.Detect, st.Embed)
		if len(a.Faces) < 2 || (tc.want > 0 && len(a.Faces) != tc.want) || len(a.Identities) != len(a.Faces) {
			t.Fatalf("%s: %d faces, %d identities (want %d faces)", tc.name, len(a.Faces), len(a.Identities), tc.want)
		}
		for i, f := range a.Faces {
			if f.Index != i || f.Identity != i || a.Identities[i].ID != i {
				t.Errorf("%s: face %d: index %d, identity %d", tc.name, i, f.Index, f.Identity)
			}
			if i > 0 && f.Face.Box[0] < a.Faces[i-1].Face.Box[0] {
				t.Errorf("%s: face %d left of face %d", tc.name, i, i-1)
			}
			if max(f.Thumb.Width, f.Thumb.Height) != faceswap.ThumbSize || len(f.Thumb.Pix) != f.Thumb.Width*f.Thumb.Height*3 {
				t.Errorf("%s: face %d thumbnail %dx%d", tc.name, i, f.Thumb.Width, f.Thumb.Height)
			}
			for j := i + 1; j < len(a.Faces); j++ {
				if c := faceswap.Cosine(f.Embedding, a.Faces[j].Embedding); c > 0.8 {
					t.Errorf("%s: faces %d and %d have near-identical embeddings (%.3f)", tc.name, i, j, c)
				}
			}
		}
	}
}

// The test video has five people; the analysis finds five identities, each in
// nearly every frame, also when analysing every third frame.
func TestAnalyzeVideo(t *testing.T) {
	a := fivePeopleAnalysis(t)
	t.Logf("frames %d, analysed %d, stats %+v", a.Frames, a.FramesAnalysed, a.Stats)
	if a.Frames != 90 || a.FramesAnalysed != 90 || a.Stride != 1 {
		t.Errorf("frames %d analysed %d stride %d", a.Frames, a.FramesAnalysed, a.Stride)
	}
	checkIdentities(t, a, 0.6)
	for _, id := range a.Identities {
		t.Logf("identity %d: frames %d–%d, seen in %d, %d tracks, best %v in frame %d",
			id.ID, id.FirstFrame, id.LastFrame, id.Frames, id.Tracks, id.Best.Box, id.BestFrame)
		if id.FirstFrame != 0 || id.LastFrame != a.Frames-1 {
			t.Errorf("identity %d spans frames %d–%d, want the whole video", id.ID, id.FirstFrame, id.LastFrame)
		}
	}

	p := testPipeline(t)
	var progress int
	s, err := p.AnalyzeVideo(context.Background(), &sliceReader{frames: fivePeopleFrames(t)}, faceswap.Options{}, 3, func(done int) { progress = done })
	if err != nil {
		t.Fatal(err)
	}
	if s.FramesAnalysed != 30 || progress != 90 {
		t.Errorf("stride 3: analysed %d frames, progress %d", s.FramesAnalysed, progress)
	}
	checkIdentities(t, s, 0.6)
}

// The video followed by itself reversed (built with ffmpeg, so re-encoded) still
// has five people. With a blank gap between the two halves, longer than the
// hold, every person's track breaks in two: the two tracks, a second apart, must
// join one identity.
func TestAnalyzeVideoReversed(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	clip := filepath.Join(t.TempDir(), "there_and_back.mp4")
	cmd := exec.Command(media.FFmpegPath(), "-loglevel", "error", "-i", fivePeople,
		"-filter_complex", "[0:v]split[a][b];[b]reverse[r];[a][r]concat=n=2:v=1:a=0[v]",
		"-map", "[v]", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", "-y", clip)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	frames := decodeVideo(t, clip)
	a, err := p.AnalyzeVideo(ctx, &sliceReader{frames: frames}, faceswap.Options{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("there and back: %d frames", a.Frames)
	if a.Frames < 175 || a.Frames > 185 {
		t.Errorf("%d frames, want about 180", a.Frames)
	}
	checkIdentities(t, a, 0.6)

	orig := fivePeopleFrames(t)
	gapped := append([]media.Frame(nil), orig...)
	for range 12 {
		gapped = append(gapped, grayFrame(orig[0].Width, orig[0].Height))
	}
	for i := len(orig) - 1; i >= 0; i-- {
		gapped = append(gapped, orig[i])
	}
	// Every other frame: the 12 blank frames are 6 analysed ones, more than
	// the default hold of 5.
	a, err = p.AnalyzeVideo(ctx, &sliceReader{frames: gapped}, faceswap.Options{}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkIdentities(t, a, 0.6)
	for _, id := range a.Identities {
		t.Logf("with a gap: identity %d: frames %d–%d, seen in %d, %d tracks", id.ID, id.FirstFrame, id.LastFrame, id.Frames, id.Tracks)
		if id.Tracks < 2 || id.LastFrame < len(orig)+12 {
			t.Errorf("identity %d: %d tracks, last seen in frame %d: the second half's track was not joined", id.ID, id.Tracks, id.LastFrame)
		}
	}
}
