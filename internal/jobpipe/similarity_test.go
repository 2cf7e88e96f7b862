package jobpipe

import (
	"testing"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/jobs"
)

func f64(v float64) *float64 { return &v }

func TestImageQuality(t *testing.T) {
	sims := []float64{0.712345, 0.31}
	q, err := imageQuality(jobs.Options{}, sims)
	if err != nil || q.LowSimilarity || len(q.Similarity) != 2 || q.Similarity[0] != 0.7123 || q.Similarity[1] != 0.31 {
		t.Errorf("no threshold: %+v, %v", q, err)
	}
	q, err = imageQuality(jobs.Options{MinSimilarity: f64(0.3)}, sims)
	if err != nil || q.LowSimilarity {
		t.Errorf("all faces above 0.3: %+v, %v", q, err)
	}
	q, err = imageQuality(jobs.Options{MinSimilarity: f64(0.5)}, sims)
	if err != nil || !q.LowSimilarity {
		t.Errorf("one face below 0.5, flag: %+v, %v", q, err)
	}
	q, err = imageQuality(jobs.Options{MinSimilarity: f64(0.5), OnLowSimilarity: jobs.LowSimilarityFail}, sims)
	if errcode.Code(err) != errcode.LowSimilarity || errcode.HTTPStatus(errcode.Code(err)) != 422 || !q.LowSimilarity {
		t.Errorf("one face below 0.5, fail: %+v, %v", q, err)
	}
	if _, err := imageQuality(jobs.Options{MinSimilarity: f64(0.3), OnLowSimilarity: jobs.LowSimilarityFail}, sims); err != nil {
		t.Errorf("fail mode above the threshold: %v", err)
	}
}

func TestVideoQuality(t *testing.T) {
	vs := faceswap.VideoStats{Frames: 8, FramesWithFaces: 6, HasSimilarity: true,
		Similarity: faceswap.SimilaritySummary{Min: 0.2, Mean: 0.6, P10: 0.4}}
	q, err := videoQuality(jobs.Options{}, vs)
	if err != nil || q.LowSimilarity || q.FaceFramesShare == nil || *q.FaceFramesShare != 0.75 ||
		q.VideoSimilarity == nil || *q.VideoSimilarity != (jobs.SimilarityStats{Min: 0.2, Mean: 0.6, P10: 0.4}) {
		t.Errorf("no threshold: %+v, %v", q, err)
	}
	// The p10 decides, not the minimum.
	if q, err := videoQuality(jobs.Options{MinSimilarity: f64(0.3), OnLowSimilarity: jobs.LowSimilarityFail}, vs); err != nil || q.LowSimilarity {
		t.Errorf("p10 above 0.3 (min below): %+v, %v", q, err)
	}
	if q, err := videoQuality(jobs.Options{MinSimilarity: f64(0.5)}, vs); err != nil || !q.LowSimilarity {
		t.Errorf("p10 below 0.5, flag: %+v, %v", q, err)
	}
	if _, err := videoQuality(jobs.Options{MinSimilarity: f64(0.5), OnLowSimilarity: jobs.LowSimilarityFail}, vs); errcode.Code(err) != errcode.LowSimilarity {
		t.Errorf("p10 below 0.5, fail: %v", err)
	}
	// No face in any frame: share 0, no summary, never low.
	q, err = videoQuality(jobs.Options{MinSimilarity: f64(1), OnLowSimilarity: jobs.LowSimilarityFail}, faceswap.VideoStats{Frames: 5})
	if err != nil || q.LowSimilarity || q.VideoSimilarity != nil || q.FaceFramesShare == nil || *q.FaceFramesShare != 0 {
		t.Errorf("no faces: %+v, %v", q, err)
	}
}

func TestSimilarityOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		o  jobs.Options
		ok bool
	}{
		{jobs.Options{MinSimilarity: f64(0)}, true},
		{jobs.Options{MinSimilarity: f64(1), OnLowSimilarity: "fail"}, true},
		{jobs.Options{MinSimilarity: f64(0.5), OnLowSimilarity: "flag"}, true},
		{jobs.Options{MinSimilarity: f64(1.01)}, false},
		{jobs.Options{MinSimilarity: f64(-0.1)}, false},
		{jobs.Options{MinSimilarity: f64(0.5), OnLowSimilarity: "abort"}, false},
		{jobs.Options{OnLowSimilarity: "fail"}, false},
	} {
		if err := c.o.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate = %v, want ok %v", c.o, err, c.ok)
		}
	}
}
