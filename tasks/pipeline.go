package tasks

import (
	"context"
	"time"

	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
)

// Pipeline is the face pipeline of one device, seen from a job. The worker adapts
// pkg/faceswap to it; keeping the interface in job terms keeps this package (which
// the API imports to enqueue tasks) free of ONNX Runtime. Methods add their busy time
// per stage (detect, embed, swap, enhance, paste) to stages. Errors the client caused
// carry an errcode (NO_FACE_IN_SOURCE …).
type Pipeline interface {
	// EmbedLargest returns the normalised embedding of the largest face of src.
	EmbedLargest(ctx context.Context, src media.Frame, opts jobs.Options, stages map[string]time.Duration) ([]float32, error)
	// EmbedFaces returns every face's embedding of src, left to right.
	EmbedFaces(ctx context.Context, src media.Frame, opts jobs.Options, stages map[string]time.Duration) ([][]float32, error)
	// Average combines several sources' embeddings into one identity.
	Average(embs [][]float32) ([]float32, error)
	// SwapImage swaps id into target's selected faces and returns the new frame and
	// the number of faces swapped.
	SwapImage(ctx context.Context, target media.Frame, id Identity, opts jobs.Options, stages map[string]time.Duration) (media.Frame, int, error)
	// SwapVideo streams frames from r through the pipeline to w, calling progress with
	// the frames written so far.
	SwapVideo(ctx context.Context, r FrameReader, w FrameWriter, id Identity, opts jobs.Options, progress func(done int), stages map[string]time.Duration) (VideoResult, error)
}

// Identity is what a job swaps in.
type Identity struct {
	Embedding []float32   // the sources' largest faces, averaged
	Faces     [][]float32 // every face of the first source, left to right (source_indexes)
	Reference []float32   // reference mode: the face to look for; nil picks it from the target

	// Mappings make a mapped swap (options.mappings): each person, picked by a
	// reference embedding, gets a source of its own; the fields above are unused.
	// Unmapped says what happens to the other faces (jobs.UnmappedKeep or Blur).
	Mappings []Mapping
	Unmapped string
}

// Mapping is one person of a mapped swap: the faces nearest Reference get Source.
type Mapping struct {
	Reference []float32 // the person: an analysis identity's mean embedding, or a reference image's face
	Source    []float32 // the mapping's sources, averaged
}

// FrameReader and FrameWriter are what media.Decoder and media.Encoder offer.
type (
	FrameReader interface{ Next(dst *media.Frame) error }
	FrameWriter interface{ Write(f media.Frame) error }
)

// VideoResult counts what a video job did.
type VideoResult struct {
	Frames, FramesWithFaces, FacesSwapped int
}
