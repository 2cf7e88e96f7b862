package jobpipe

import (
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// track_hold: unset is the pipeline's default (0), an explicit 0 turns hold-over
// off, anything else passes through. An analysis detects every face.
func TestTrackHoldAndAnalyzeOptions(t *testing.T) {
	zero, ten := 0, 10
	for _, c := range []struct {
		hold *int
		want int
	}{{nil, 0}, {&zero, faceswap.TrackHoldNone}, {&ten, 10}} {
		if got := faceswapOptions(jobs.Options{TrackHold: c.hold}).TrackHold; got != c.want {
			t.Errorf("track_hold %v: pipeline TrackHold %d, want %d", c.hold, got, c.want)
		}
	}
	a := analyzeOptions(jobs.Options{FaceSelector: faceswap.SelectOne, Enhancer: "codeformer", DetectorScore: 0.6, TrackHold: &ten})
	if a.FaceSelector != faceswap.SelectMany || a.Enhancer != "" || a.DetectorScore != 0.6 || a.TrackHold != 10 {
		t.Errorf("analyzeOptions: %+v", a)
	}
}

// Mappings reach the pipeline in order, and unmapped faces are kept unless blur
// is asked for.
func TestMappingsToPipeline(t *testing.T) {
	id := tasks.Identity{Mappings: []tasks.Mapping{{Reference: []float32{1, 0}, Source: []float32{0, 1}}, {Reference: []float32{0, 1}, Source: []float32{1, 0}}}}
	m := mappings(id)
	if len(m) != 2 || m[0].Reference[0] != 1 || m[0].Source[1] != 1 || m[1].Reference[1] != 1 || m[1].Source[0] != 1 {
		t.Errorf("mappings: %+v", m)
	}
	for unmappedOpt, want := range map[string]string{"": faceswap.UnmappedKeep, jobs.UnmappedKeep: faceswap.UnmappedKeep, jobs.UnmappedBlur: faceswap.UnmappedBlur} {
		id.Unmapped = unmappedOpt
		if got := unmapped(id); got != want {
			t.Errorf("unmapped %q: %q, want %q", unmappedOpt, got, want)
		}
	}
}
