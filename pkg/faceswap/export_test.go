package faceswap

// Test hooks for the external tests (package faceswap_test).

// TrackedFace is trackedFace, for tests.
type TrackedFace = trackedFace

// SetDropDetections makes p drop detections on video frames: fn gets each
// analysed or swapped frame's detections and returns those to keep.
func SetDropDetections(p *Pipeline, fn func(seq int, faces []Face) []Face) { p.dropDetections = fn }

// SetOnTracked makes p report every video frame's faces as they leave the
// tracking stage.
func SetOnTracked(p *Pipeline, fn func(seq int, faces []TrackedFace)) { p.onTracked = fn }

// ClusterMinCosine is clusterMinCosine, for tests to log against.
const ClusterMinCosine = clusterMinCosine
