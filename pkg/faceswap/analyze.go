package faceswap

import (
	"context"
	"errors"

	"github.com/swapd/swapd/pkg/media"
)

// This file is the contract of analyze jobs and mapped swaps (issue #10). The
// bodies are filled in by the tracking/clustering work; the service layer
// (pkg/jobs, tasks, pkg/api) is written against these types and signatures.

// errNotImplemented is returned by the entry points below until their bodies land.
var errNotImplemented = errors.New("faceswap: not implemented yet")

// AnalyzedFace is one face of an analysed image.
type AnalyzedFace struct {
	Index     int       // left to right, 0-based (the numbering TargetIndexes uses)
	Face      Face      // box, score, 5 landmarks in frame pixels
	Embedding Embedding // L2-normalised identity
	Identity  int       // index into ImageAnalysis.Identities
	Thumb     media.Frame
}

// ImageAnalysis is the result of AnalyzeImage: every face left to right. In one
// image every face is its own identity (two faces of one picture are two people),
// so Identities[i] is built from Faces[i].
type ImageAnalysis struct {
	Faces      []AnalyzedFace
	Identities []Identity
}

// Identity is one person found by an analysis.
type Identity struct {
	ID                    int       // 0-based, ordered by first appearance, then left to right
	FirstFrame, LastFrame int       // frame numbers in the video (0 for an image)
	Frames                int       // analysed frames in which the identity was seen
	Tracks                int       // how many tracks were joined into it
	Embedding             Embedding // mean of its faces' embeddings, L2-normalised
	Best                  Face      // its best face (score × size), in BestFrame
	BestFrame             int
	Thumb                 media.Frame // a small RGB crop around Best (ThumbSize on its long side)
}

// ThumbSize is the long side, in pixels, of an identity's or face's thumbnail.
const ThumbSize = 128

// VideoAnalysis is the result of AnalyzeVideo.
type VideoAnalysis struct {
	Frames         int // frames read
	FramesAnalysed int // frames detected on (every Stride-th)
	Stride         int
	Identities     []Identity
	Stats          VideoStats
}

// AnalyzeImage detects every face of frame, left to right, and embeds each.
func (p *Pipeline) AnalyzeImage(ctx context.Context, frame media.Frame, opts Options) (ImageAnalysis, Stats, error) {
	return ImageAnalysis{}, Stats{}, errNotImplemented
}

// AnalyzeVideo detects faces on every stride-th frame (stride ≤ 1: every frame),
// tracks them and clusters the tracks into identities. progress, if not nil, gets
// the number of frames read so far.
func (p *Pipeline) AnalyzeVideo(ctx context.Context, r FrameReader, opts Options, stride int, progress func(done int)) (VideoAnalysis, error) {
	return VideoAnalysis{}, errNotImplemented
}

// Mapping asks for the person whose identity is Reference (an analysis identity's
// mean embedding, or the embedding of a reference image's face) to get the
// identity Source (the sources' averaged embedding).
type Mapping struct {
	Reference Embedding
	Source    Embedding
}

// Unmapped values: what happens to faces no mapping picks.
const (
	UnmappedKeep = "keep" // left unchanged (the default)
	UnmappedBlur = "blur" // blurred beyond recognition
)

// SwapMapped swaps each mapped person in target with its own source; faces that
// match no mapping are kept or blurred (unmapped). A face matches the mapping
// whose Reference is nearest within opts.ReferenceDistance; each mapping takes at
// most one face of a frame.
func (p *Pipeline) SwapMapped(ctx context.Context, target media.Frame, maps []Mapping, unmapped string, opts Options) (media.Frame, Stats, error) {
	return media.Frame{}, Stats{}, errNotImplemented
}

// SwapVideoMapped is SwapVideo with mappings: each tracked face gets the source of
// the mapping its track matches; unmapped faces are kept or blurred.
func (p *Pipeline) SwapVideoMapped(ctx context.Context, r FrameReader, w FrameWriter, maps []Mapping, unmapped string, opts Options, progress func(done int)) (VideoStats, error) {
	return VideoStats{}, errNotImplemented
}
