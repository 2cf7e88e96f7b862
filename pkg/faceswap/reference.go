package faceswap

import (
	"fmt"
	"time"

	"github.com/swapd/swapd/pkg/media"
)

// ReferenceFaceError is the ErrFaceIndex error of reference mode without a
// Reference: Options.ReferenceFace named face Position of a target (a video's
// first frame) with only Faces faces. errors.Is(err, ErrFaceIndex) holds for it.
// The job adapter reports it as NO_FACE_IN_TARGET: the request was well formed, the
// target lacks the face.
type ReferenceFaceError struct {
	Position, Faces int
}

func (e *ReferenceFaceError) Error() string {
	return fmt.Sprintf("%v: reference face %d, but the reference frame has %d", ErrFaceIndex, e.Position, e.Faces)
}

// Unwrap makes errors.Is(err, ErrFaceIndex) hold.
func (e *ReferenceFaceError) Unwrap() error { return ErrFaceIndex }

// reference returns the identity reference mode looks for in frame: opts.Reference
// when set, else the embedding of faces[opts.ReferenceFace], where faces are
// frame's faces already ranked by opts.Order. It also returns the time spent
// embedding. The face is embedded on its own (not in a batch with the others), as
// a caller embedding it with EmbedFace would.
func (p *Pipeline) reference(frame media.Frame, faces []Face, opts Options) (Embedding, time.Duration, error) {
	if len(opts.Reference) > 0 {
		return opts.Reference, 0, nil
	}
	if opts.ReferenceFace >= len(faces) {
		return nil, 0, &ReferenceFaceError{Position: opts.ReferenceFace, Faces: len(faces)}
	}
	t := time.Now()
	e, err := p.EmbedFace(frame, faces[opts.ReferenceFace])
	return e, time.Since(t), err
}
