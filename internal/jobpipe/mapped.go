package jobpipe

import (
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// A mapped swap (options.mappings) reaches the pipeline as tasks.Identity.Mappings:
// SwapImage and SwapVideo hand them to SwapMapped and SwapVideoMapped instead of
// swapping one identity into the selected faces.

// mappings are a mapped swap's people in the pipeline's terms.
func mappings(id tasks.Identity) []faceswap.Mapping {
	out := make([]faceswap.Mapping, len(id.Mappings))
	for i, m := range id.Mappings {
		out[i] = faceswap.Mapping{Reference: m.Reference, Source: m.Source}
	}
	return out
}

// unmapped is what the pipeline does with the faces no mapping picks.
func unmapped(id tasks.Identity) string {
	if id.Unmapped == jobs.UnmappedBlur {
		return faceswap.UnmappedBlur
	}
	return faceswap.UnmappedKeep
}
