package jobpipe

import (
	"errors"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/faceswap"
)

// coded gives the pipeline's errors their client-facing codes; other errors (a
// model failing, a cancelled context) pass unchanged, for tasks to retry or report.
func coded(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, faceswap.ErrNoFaceInSource):
		return errcode.New(errcode.NoFaceInSource, "no face was found in a source image; use a clear, frontal photo of one face")
	case errors.Is(err, faceswap.ErrNoFaceSelected): // wraps ErrNoFaceInTarget: test it first
		return errcode.New(errcode.NoFaceInTarget, "no face in the target matched the face selection")
	case errors.Is(err, faceswap.ErrNoFaceInTarget):
		return errcode.New(errcode.NoFaceInTarget, "no face was found in the target image")
	case errors.Is(err, faceswap.ErrSwapperUnavailable), errors.Is(err, faceswap.ErrMaskUnavailable):
		return errcode.New(errcode.UnsupportedOption, "%v", err)
	}
	// An index beyond the faces found: the request was well formed, the image lacks
	// the face it names (the index range itself is checked at submit).
	var (
		fe *faceswap.FaceIndexError
		re *faceswap.ReferenceFaceError
	)
	switch {
	case errors.As(err, &re):
		return errcode.New(errcode.NoFaceInTarget, "reference_face_position %d, but the reference frame has %d faces", re.Position, re.Faces)
	case errors.As(err, &fe) && fe.Target:
		return errcode.New(errcode.NoFaceInTarget, "target_indexes names target face %d, but the target has %d face(s)", fe.Index, fe.Faces)
	case errors.As(err, &fe):
		return errcode.New(errcode.NoFaceInSource, "source_indexes names source face %d, but the source has %d face(s)", fe.Index, fe.Faces)
	case errors.Is(err, faceswap.ErrFaceIndex):
		return errcode.New(errcode.InvalidRequest, "%v", err)
	}
	return err
}
