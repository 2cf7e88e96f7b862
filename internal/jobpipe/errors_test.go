package jobpipe

import (
	"errors"
	"fmt"
	"testing"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/faceswap"
)

func TestCodedErrors(t *testing.T) {
	other := errors.New("model failed")
	for _, c := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("%w (source image 0)", faceswap.ErrNoFaceInSource), errcode.NoFaceInSource},
		{faceswap.ErrNoFaceInTarget, errcode.NoFaceInTarget},
		{faceswap.ErrNoFaceSelected, errcode.NoFaceInTarget},
		{&faceswap.FaceIndexError{Target: true, Index: 3, Faces: 1}, errcode.NoFaceInTarget},
		{&faceswap.FaceIndexError{Index: 3, Faces: 1}, errcode.NoFaceInSource},
		{fmt.Errorf("faceswap: frame 0: %w", &faceswap.ReferenceFaceError{Position: 2, Faces: 1}), errcode.NoFaceInTarget},
		{fmt.Errorf("%w: assignment", faceswap.ErrFaceIndex), errcode.InvalidRequest},
	} {
		if got := errcode.Code(coded(c.err)); got != c.code {
			t.Errorf("%v: code %q, want %q", c.err, got, c.code)
		}
	}
	if coded(nil) != nil || coded(other) != other {
		t.Error("errors the client did not cause must pass unchanged")
	}
	want := "reference_face_position 2, but the reference frame has 1 faces"
	if e, _ := errcode.As(coded(&faceswap.ReferenceFaceError{Position: 2, Faces: 1})); e == nil || e.Message != want {
		t.Errorf("reference error message %v, want %q", e, want)
	}
}
