package faceswap_test

import (
	"context"
	"errors"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/media"
)

// Reference mode without a Reference takes the target's own face at ReferenceFace
// (after ordering): the same result as passing that face's embedding, and a
// position beyond the faces found is a ReferenceFaceError.
func TestReferenceFaceFromTarget(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	group, faces := groupFaces(t, p)
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	picked := faceswap.Options{FaceSelector: faceswap.SelectReference, Order: faceswap.OrderLeftRight, ReferenceFace: 1}
	out := swapsOnlyFace1(t, p, group, faces, src, picked)
	ref, err := p.EmbedFace(group, faces[1])
	if err != nil {
		t.Fatal(err)
	}
	given := picked
	given.Reference = ref
	want, _, err := p.Swap(ctx, group, src, given)
	if err != nil {
		t.Fatal(err)
	}
	if m := maxDiff(out, want, whole(out)); m != 0 {
		t.Errorf("picked reference differs from the same face passed as Reference by %d", m)
	}

	picked.ReferenceFace = 5
	_, _, err = p.Swap(ctx, group, src, picked)
	var re *faceswap.ReferenceFaceError
	if !errors.As(err, &re) || re.Position != 5 || re.Faces != len(faces) || !errors.Is(err, faceswap.ErrFaceIndex) {
		t.Errorf("reference face 5 of %d: %v", len(faces), err)
	}
}

// A video takes its reference from the first frame, reads that frame once, and
// swaps the same frames as when given that face's embedding.
func TestSwapVideoReferenceFromFirstFrame(t *testing.T) {
	p := testPipeline(t)
	ctx := context.Background()
	src, _, err := p.Embed(ctx, []media.Frame{loadFrame(t, "astronaut.png")}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	grace, group := loadFrame(t, "grace_hopper.jpg"), loadFrame(t, "group_test3.jpg")
	in := []media.Frame{grace, group, grace, group}
	ref, _, err := p.Embed(ctx, []media.Frame{grace}, faceswap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	given := &collector{failAt: -1}
	if _, err := p.SwapVideo(ctx, &sliceReader{frames: in}, given, src, faceswap.Options{FaceSelector: faceswap.SelectReference, Reference: ref}, nil); err != nil {
		t.Fatal(err)
	}

	r, w := &sliceReader{frames: in}, &collector{failAt: -1}
	st, err := p.SwapVideo(ctx, r, w, src, faceswap.Options{FaceSelector: faceswap.SelectReference}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.n != len(in) || st.Frames != len(in) || st.FramesWithFaces != 2 || st.Embed <= 0 {
		t.Errorf("read %d of %d frames, stats %+v", r.n, len(in), st)
	}
	for k := range w.frames {
		if m := maxDiff(w.frames[k], given.frames[k], whole(in[k])); m != 0 {
			t.Errorf("frame %d differs from the run given the reference by %d", k, m)
		}
	}

	w = &collector{failAt: -1}
	_, err = p.SwapVideo(ctx, &sliceReader{frames: in}, w, src, faceswap.Options{FaceSelector: faceswap.SelectReference, ReferenceFace: 3}, nil)
	var re *faceswap.ReferenceFaceError
	if !errors.As(err, &re) || re.Position != 3 || re.Faces != 1 || len(w.frames) != 0 {
		t.Errorf("reference face 3 of a one-face first frame: %v, %d frames written", err, len(w.frames))
	}
}
