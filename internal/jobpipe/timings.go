package jobpipe

import (
	"time"

	"github.com/swapd/swapd/pkg/faceswap"
)

// addTimes adds an image call's busy time per stage to stages, under the names
// the job's timings and metrics use.
func addTimes(stages map[string]time.Duration, st faceswap.Stats) {
	stages["detect"] += st.Detect
	stages["embed"] += st.Embed
	stages["score"] += st.Score
	stages["swap"] += st.Swap
	stages["paste"] += st.Paste
	stages["enhance"] += st.Enhance
}

// addVideoTimes is addTimes for a video, whose reading and writing of frames are
// stages of the pipeline too (decode, encode). Embedding happens only when the
// reference face is taken from the first frame; a video job without one reports no
// embed stage of its own.
func addVideoTimes(stages map[string]time.Duration, vs faceswap.VideoStats) {
	for stage, d := range map[string]time.Duration{
		"detect": vs.Detect, "score": vs.Score, "swap": vs.Swap, "paste": vs.Paste, "enhance": vs.Enhance,
		"decode": vs.Read, "encode": vs.Write,
	} {
		stages[stage] += d
	}
	if vs.Embed > 0 {
		stages["embed"] += vs.Embed
	}
}
