package e2e

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/swapd/swapd/pkg/jobs"
)

// An image job's output carries the identity similarity report, one value per
// swapped face; min_similarity flags a low one, and with on_low_similarity=fail
// a threshold no swap reaches (1.0) fails the job with LOW_SIMILARITY.
func TestSimilarityReport(t *testing.T) {
	source := base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))
	target := base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))
	submit := func(opts map[string]any) string {
		var c created
		st.postJSON(t, "/v1/jobs", map[string]any{
			"source": map[string]string{"base64": source}, "target": map[string]string{"base64": target}, "options": opts,
		}, &c)
		return c.ID
	}

	id := submit(map[string]any{})
	j := st.waitStatus(t, id, jobs.Succeeded)
	o := j.Output
	if o == nil || o.Faces != 1 || len(o.Similarity) != o.Faces {
		t.Fatalf("output %+v: want one similarity per swapped face", o)
	}
	if s := o.Similarity[0]; math.IsNaN(s) || s < -1 || s > 1 || s == 0 {
		t.Errorf("similarity %v is not a cosine", s)
	}
	if o.LowSimilarity || o.VideoSimilarity != nil || o.FaceFramesShare != nil {
		t.Errorf("image output without a threshold: %+v", o)
	}
	// The JSON names the README documents.
	var raw struct {
		Output map[string]json.RawMessage `json:"output"`
	}
	if resp := st.do(t, http.MethodGet, "/v1/jobs/"+id, "", nil, &raw); resp.StatusCode != 200 {
		t.Fatalf("GET job: %d", resp.StatusCode)
	}
	if _, ok := raw.Output["similarity"]; !ok {
		t.Errorf("output JSON has no similarity: %v", raw.Output)
	}

	j = st.waitStatus(t, submit(map[string]any{"min_similarity": 1.0}), jobs.Succeeded)
	if j.Output == nil || !j.Output.LowSimilarity || len(j.Output.Similarity) != 1 {
		t.Errorf("min_similarity 1.0 (flag): output %+v, want low_similarity", j.Output)
	}

	j = st.waitStatus(t, submit(map[string]any{"min_similarity": 1.0, "on_low_similarity": "fail"}), jobs.Failed)
	if j.Error == nil || j.Error.Code != "LOW_SIMILARITY" || j.Attempts != 1 || j.Output != nil {
		t.Fatalf("min_similarity 1.0, fail: job %+v error %+v", j, j.Error)
	}
}

// A video job's output carries the summary over frames and the share of frames
// with a selected face: 30 frames, the first 10 painted over.
func TestVideoSimilarityReport(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.mp4")
	ffmpeg(t, "-i", filepath.Join(testdata(), "video/five_people_640x480.mp4"), "-frames:v", "30",
		"-vf", "drawbox=enable='lt(n,10)':x=0:y=0:w=iw:h=ih:color=gray:t=fill", "-c:v", "libx264", "-crf", "12", "-an", in)
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	j := st.waitStatus(t, submitVideo(t, data, `{"min_similarity":1.0}`), jobs.Succeeded)
	o := j.Output
	if o == nil || o.Frames != 30 || o.VideoSimilarity == nil || o.FaceFramesShare == nil || o.Similarity != nil {
		t.Fatalf("output %+v", o)
	}
	s := *o.VideoSimilarity
	if s.Min > s.P10 || s.P10 > s.Mean || s.Mean > 1 || s.Min < -1 || s.Mean == 0 {
		t.Errorf("video_similarity %+v is not min ≤ p10 ≤ mean within [-1, 1]", s)
	}
	if share := *o.FaceFramesShare; math.Abs(share-20.0/30) > 0.05 {
		t.Errorf("face_frames_share %v, want about 20/30", share)
	}
	if !o.LowSimilarity {
		t.Errorf("min_similarity 1.0: low_similarity not set (p10 %v)", s.P10)
	}
}
