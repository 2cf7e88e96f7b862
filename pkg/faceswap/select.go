package faceswap

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/swapd/swapd/pkg/media"
)

// ErrFaceIndex is returned (wrapped, with the offending index) when TargetIndexes
// or SourceIndexes name a face the image does not have.
var ErrFaceIndex = errors.New("faceswap: face index out of range")

// FaceIndexError is the ErrFaceIndex error PairFaces and the selection return: which
// side's list (Target false: SourceIndexes) named face Index of an image with Faces
// faces. errors.Is(err, ErrFaceIndex) holds for it. The job adapter reports a target
// index beyond the target's faces as NO_FACE_IN_TARGET, a source index beyond the
// source's as NO_FACE_IN_SOURCE: the request was well formed, the image lacks the face.
type FaceIndexError struct {
	Target       bool
	Index, Faces int
}

func (e *FaceIndexError) Error() string {
	side := "source"
	if e.Target {
		side = "target"
	}
	return fmt.Sprintf("%v: %s face %d, but the %s has %d", ErrFaceIndex, side, e.Index, side, e.Faces)
}

// Unwrap makes errors.Is(err, ErrFaceIndex) hold.
func (e *FaceIndexError) Unwrap() error { return ErrFaceIndex }

// ErrNoFaceSelected is returned by the image calls when the target has faces but
// the selection keeps none of them (reference mode with no face within
// ReferenceDistance). It wraps ErrNoFaceInTarget, so errors.Is(err,
// ErrNoFaceInTarget) holds for it too. Video frames where nothing is selected
// pass through unchanged instead.
var ErrNoFaceSelected = fmt.Errorf("%w matching the face selection", ErrNoFaceInTarget)

// SortFaces orders faces in place by one of the Order* constants ("" is the
// default large-small) and returns them. The sort is stable, so faces that tie
// keep their detection (score) order.
func SortFaces(faces []Face, order string) []Face {
	var less func(a, b *Face) bool
	switch order {
	case OrderLeftRight:
		less = func(a, b *Face) bool { return a.Box[0] < b.Box[0] }
	case OrderRightLeft:
		less = func(a, b *Face) bool { return a.Box[0] > b.Box[0] }
	case OrderTopBottom:
		less = func(a, b *Face) bool { return a.Box[1] < b.Box[1] }
	case OrderBottomTop:
		less = func(a, b *Face) bool { return a.Box[1] > b.Box[1] }
	case OrderSmallLarge:
		less = func(a, b *Face) bool { return a.Area() < b.Area() }
	case OrderBestWorst:
		less = func(a, b *Face) bool { return a.Score > b.Score }
	case OrderWorstBest:
		less = func(a, b *Face) bool { return a.Score < b.Score }
	default: // OrderLargeSmall
		less = func(a, b *Face) bool { return a.Area() > b.Area() }
	}
	sort.SliceStable(faces, func(i, j int) bool { return less(&faces[i], &faces[j]) })
	return faces
}

// FaceDistance is FaceFusion's face distance (facts §4): 1 − ⟨n1, n2⟩ of the
// L2-normalised embeddings, mapped from [0,2] to [0,1], i.e. (1 − cos)/2. Two
// faces match in reference mode when the distance is below ReferenceDistance
// (default 0.3, i.e. cosine above 0.4).
func FaceDistance(a, b Embedding) float64 {
	return math.Min(math.Max((1-Cosine(a, b))/2, 0), 1)
}

// Pair is one swap of PairFaces: source face Source into target face Target, both
// 0-based indexes in left-to-right order.
type Pair struct{ Source, Target int }

// PairFaces decides which source face goes into which target face, following the
// RunPod inswapper worker (facts §11). Indexes count faces from left to right;
// nil, empty or [-1] index lists are automatic:
//
//   - both automatic: source i into target i for i < min(sources, targets), so a
//     single source face replaces only the leftmost target face;
//   - automatic sources, listed targets: source 0 into every listed target;
//   - listed sources, automatic targets: listed source i into target i, for as
//     many as there are targets;
//   - both listed: pairwise; the lists must have the same length. (The worker
//     returns the image unchanged when they differ; swapd rejects the request in
//     Options.Validate instead, so a client learns about the mistake.)
//
// An index beyond the faces found is an error wrapping ErrFaceIndex; no faces at
// all are ErrNoFaceInSource / ErrNoFaceInTarget.
func PairFaces(sources, targets int, sourceIndexes, targetIndexes []int) ([]Pair, error) {
	if sources <= 0 {
		return nil, ErrNoFaceInSource
	}
	if targets <= 0 {
		return nil, ErrNoFaceInTarget
	}
	autoS, autoT := autoIndexes(sourceIndexes), autoIndexes(targetIndexes)
	if err := checkIndexes("SourceIndexes", sourceIndexes, false); err != nil {
		return nil, err
	}
	if err := checkIndexes("TargetIndexes", targetIndexes, true); err != nil {
		return nil, err
	}
	var pairs []Pair
	switch {
	case autoS && autoT:
		for i := 0; i < min(sources, targets); i++ {
			pairs = append(pairs, Pair{i, i})
		}
	case autoS:
		for _, t := range targetIndexes {
			pairs = append(pairs, Pair{0, t})
		}
	case autoT:
		for i, s := range sourceIndexes {
			if i >= targets {
				break
			}
			pairs = append(pairs, Pair{s, i})
		}
	default:
		if len(sourceIndexes) != len(targetIndexes) {
			return nil, fmt.Errorf("faceswap: %d SourceIndexes for %d TargetIndexes: explicit lists must pair up one to one",
				len(sourceIndexes), len(targetIndexes))
		}
		for i := range sourceIndexes {
			pairs = append(pairs, Pair{sourceIndexes[i], targetIndexes[i]})
		}
	}
	for _, p := range pairs {
		if p.Source >= sources {
			return nil, &FaceIndexError{Target: false, Index: p.Source, Faces: sources}
		}
		if p.Target >= targets {
			return nil, &FaceIndexError{Target: true, Index: p.Target, Faces: targets}
		}
	}
	return pairs, nil
}

// Select applies the options' face selection to faces detected in frame (which
// the reference mode needs, to embed each face, and without Reference to take
// the reference from) and returns the chosen faces in swap order. faces is
// reordered. With TargetIndexes set, faces are numbered left
// to right and the listed ones returned; an index beyond them is an error
// wrapping ErrFaceIndex. An empty result is not an error.
func (p *Pipeline) Select(frame media.Frame, faces []Face, opts Options) ([]Face, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	sel, _, err := p.selectFaces(frame, faces, opts, false)
	return sel, err
}

// selectFaces is Select on validated, defaulted options. With lenient set (video),
// target indexes beyond the faces of a frame are skipped instead of failing.
// It returns the time spent embedding faces for reference mode.
func (p *Pipeline) selectFaces(frame media.Frame, faces []Face, opts Options, lenient bool) ([]Face, time.Duration, error) {
	var et time.Duration
	if len(faces) == 0 {
		return nil, et, nil
	}
	if !autoIndexes(opts.TargetIndexes) {
		SortFaces(faces, OrderLeftRight)
		var sel []Face
		for _, i := range opts.TargetIndexes {
			if i >= len(faces) {
				if lenient {
					continue
				}
				return nil, et, &FaceIndexError{Target: true, Index: i, Faces: len(faces)}
			}
			sel = append(sel, faces[i])
		}
		return sel, et, nil
	}
	SortFaces(faces, opts.Order)
	switch opts.FaceSelector {
	case SelectMany:
		return faces, et, nil
	case SelectReference:
		if p.rec == nil {
			return nil, et, errNoRecognizer
		}
		want, d, err := p.reference(frame, faces, opts)
		et += d
		if err != nil {
			return nil, et, err
		}
		ref, _ := normalize(want)
		embs, d, err := p.embedAll(frame, faces)
		et += d
		if err != nil {
			return nil, et, err
		}
		var sel []Face
		for i, e := range embs {
			if FaceDistance(ref, e) < opts.ReferenceDistance {
				sel = append(sel, faces[i])
			}
		}
		return sel, et, nil
	default: // SelectOne
		return faces[:1], et, nil
	}
}
