package faceswap

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/swapd/swapd/pkg/media"
)

// Swap replaces target faces with the identity src and returns a new frame
// (target is not modified). Faces are chosen by opts (see Options): by default the
// largest one. It fails with ErrNoFaceInTarget when the target has no face,
// ErrNoFaceSelected when the selection keeps none, an ErrFaceIndex error for a
// TargetIndexes entry beyond the faces found, and with ctx's error when ctx ends,
// checked between steps and between faces. With opts.Enhancer set the swapped
// faces are then enhanced.
func (p *Pipeline) Swap(ctx context.Context, target media.Frame, src Embedding, opts Options) (media.Frame, Stats, error) {
	var st Stats
	if err := p.checkSwap(target, opts); err != nil {
		return media.Frame{}, st, err
	}
	if !autoIndexes(opts.TargetIndexes) || !autoIndexes(opts.SourceIndexes) {
		return p.SwapIndexed(ctx, target, []Embedding{src}, opts)
	}
	opts = opts.WithDefaults()
	faces, err := p.detectTarget(ctx, target, opts, &st)
	if err != nil {
		return media.Frame{}, st, err
	}
	if err := ctx.Err(); err != nil {
		return media.Frame{}, st, err
	}
	sel, et, err := p.selectFaces(target, faces, opts, false)
	st.Embed += et
	if err != nil {
		return media.Frame{}, st, err
	}
	if len(sel) == 0 {
		return media.Frame{}, st, ErrNoFaceSelected
	}
	out, err := p.swapIdentity(ctx, target, sel, src, opts, &st)
	return out, st, err
}

// SwapFaces swaps the given faces (from an earlier Detect, e.g. on a reference
// frame of a video) without detecting or selecting, and returns a new frame.
// opts supplies the mask and enhancer settings; the enhancer, if any, works on the
// same faces.
func (p *Pipeline) SwapFaces(ctx context.Context, target media.Frame, faces []Face, src Embedding, opts Options) (media.Frame, Stats, error) {
	var st Stats
	if err := p.checkSwap(target, opts); err != nil {
		return media.Frame{}, st, err
	}
	out, err := p.swapIdentity(ctx, target, faces, src, opts.WithDefaults(), &st)
	return out, st, err
}

// Assignment asks for one target face, by left-to-right index (0-based), to get
// the identity Source.
type Assignment struct {
	Target int
	Source Embedding
}

// SwapAssigned swaps each assignment's target face (faces numbered left to right)
// with its own identity and returns a new frame. A target index beyond the faces
// found is an error wrapping ErrFaceIndex; a face assigned twice is an error.
// Selection fields of opts are ignored; masks and enhancer apply.
func (p *Pipeline) SwapAssigned(ctx context.Context, target media.Frame, as []Assignment, opts Options) (media.Frame, Stats, error) {
	var st Stats
	if err := p.checkSwap(target, opts); err != nil {
		return media.Frame{}, st, err
	}
	opts = opts.WithDefaults()
	if len(as) == 0 {
		return media.Frame{}, st, errors.New("faceswap: no assignments")
	}
	seen := map[int]bool{}
	for _, a := range as {
		if a.Target < 0 || seen[a.Target] {
			return media.Frame{}, st, fmt.Errorf("faceswap: assignment target %d negative or repeated", a.Target)
		}
		seen[a.Target] = true
	}
	faces, err := p.detectTarget(ctx, target, opts, &st)
	if err != nil {
		return media.Frame{}, st, err
	}
	SortFaces(faces, OrderLeftRight)
	out, err := p.swapAssignments(ctx, target, faces, as, opts, &st)
	return out, st, err
}

// swapAssignments swaps each assignment into faces (numbered left to right), computing
// each distinct source's latent once, and returns the new frame.
func (p *Pipeline) swapAssignments(ctx context.Context, target media.Frame, faces []Face, as []Assignment, opts Options, st *Stats) (media.Frame, error) {
	sw, err := p.swapperFor(opts)
	if err != nil {
		return media.Frame{}, err
	}
	items := make([]swapItem, 0, len(as))
	latents := map[*float32][]float32{}
	for _, a := range as {
		if a.Target >= len(faces) {
			return media.Frame{}, fmt.Errorf("%w: target face %d, but the target has %d", ErrFaceIndex, a.Target, len(faces))
		}
		if len(a.Source) == 0 {
			return media.Frame{}, fmt.Errorf("faceswap: assignment for target face %d has no source embedding", a.Target)
		}
		t := time.Now()
		l, ok := latents[&a.Source[0]]
		if !ok {
			var err error
			if l, err = sw.Latent(a.Source); err != nil {
				return media.Frame{}, err
			}
			latents[&a.Source[0]] = l
		}
		st.Swap += time.Since(t)
		items = append(items, swapItem{faces[a.Target], l, a.Source})
	}
	return p.processCopy(ctx, target, items, opts, st)
}

// SwapIndexed swaps faces of target with source identities (typically
// EmbedFaces of a source image, left to right) paired by opts.SourceIndexes and
// opts.TargetIndexes following PairFaces (the RunPod worker's rules). Errors as
// PairFaces and Swap.
func (p *Pipeline) SwapIndexed(ctx context.Context, target media.Frame, sources []Embedding, opts Options) (media.Frame, Stats, error) {
	var st Stats
	if err := p.checkSwap(target, opts); err != nil {
		return media.Frame{}, st, err
	}
	opts = opts.WithDefaults()
	if len(sources) == 0 {
		return media.Frame{}, st, ErrNoFaceInSource
	}
	faces, err := p.detectTarget(ctx, target, opts, &st)
	if err != nil {
		return media.Frame{}, st, err
	}
	pairs, err := PairFaces(len(sources), len(faces), opts.SourceIndexes, opts.TargetIndexes)
	if err != nil {
		return media.Frame{}, st, err
	}
	SortFaces(faces, OrderLeftRight)
	as := make([]Assignment, len(pairs))
	for i, pr := range pairs {
		as[i] = Assignment{Target: pr.Target, Source: sources[pr.Source]}
	}
	out, err := p.swapAssignments(ctx, target, faces, as, opts, &st)
	return out, st, err
}

// checkSwap validates what every swap entry point needs.
func (p *Pipeline) checkSwap(target media.Frame, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if _, err := p.swapperFor(opts); err != nil {
		return err
	}
	if err := p.checkEnhancer(opts); err != nil {
		return err
	}
	return checkFrame(target)
}

// detectTarget finds target's faces, adding the time to st; a target without a face
// is ErrNoFaceInTarget.
func (p *Pipeline) detectTarget(ctx context.Context, target media.Frame, opts Options, st *Stats) ([]Face, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := time.Now()
	faces, err := p.det.Detect(target, opts.DetectorSize, opts.DetectorScore)
	st.Detect += time.Since(t)
	st.TargetFaces = len(faces)
	if err == nil && len(faces) == 0 {
		err = ErrNoFaceInTarget
	}
	return faces, err
}
