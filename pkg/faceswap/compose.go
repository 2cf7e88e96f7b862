package faceswap

import (
	"context"
	"fmt"
	"time"

	"github.com/swapd/swapd/pkg/media"
)

// swapItem is one face to swap and the swapper latent of its new identity.
type swapItem struct {
	face   Face
	latent []float32
	src    Embedding // the identity swapped in, for the similarity report
}

// swapIdentity swaps the one identity src into faces of a copy of target and
// returns the copy. Swap and SwapFaces differ only in how they find the faces.
func (p *Pipeline) swapIdentity(ctx context.Context, target media.Frame, faces []Face, src Embedding, opts Options, st *Stats) (media.Frame, error) {
	sw, err := p.swapperFor(opts)
	if err != nil {
		return media.Frame{}, err
	}
	t := time.Now()
	latent, err := sw.Latent(src)
	st.Swap += time.Since(t)
	if err != nil {
		return media.Frame{}, err
	}
	return p.processCopy(ctx, target, oneIdentity(faces, latent, src), opts, st)
}

// oneIdentity pairs every face with the same latent: the swap items of a call
// with a single source identity (Swap, SwapFaces, every frame of SwapVideo).
func oneIdentity(faces []Face, latent []float32, src Embedding) []swapItem {
	items := make([]swapItem, len(faces))
	for i, f := range faces {
		items[i] = swapItem{f, latent, src}
	}
	return items
}

// processCopy runs process on a copy of target, so that the image entry points
// never change the caller's frame, and returns the copy.
func (p *Pipeline) processCopy(ctx context.Context, target media.Frame, items []swapItem, opts Options, st *Stats) (media.Frame, error) {
	out := target.Clone()
	if err := p.process(ctx, out, items, opts, st); err != nil {
		return media.Frame{}, err
	}
	return out, nil
}

// process swaps items into frame in place, then enhances them.
func (p *Pipeline) process(ctx context.Context, frame media.Frame, items []swapItem, opts Options, st *Stats) error {
	if err := p.swapInto(ctx, frame, items, opts, st); err != nil {
		return err
	}
	faces := make([]Face, len(items))
	for i, it := range items {
		faces[i] = it.face
	}
	return p.enhanceInto(ctx, frame, faces, opts, st)
}

// swapInto swaps items into frame in place. With a batching swapper and faces
// whose paste regions do not overlap, all crops go through one Run (the crops are
// then the same as when swapping one after another, since no paste touches
// another face's crop); otherwise faces are swapped one after another on the
// frame, as FaceFusion does, so overlapping faces blend consistently.
func (p *Pipeline) swapInto(ctx context.Context, frame media.Frame, items []swapItem, opts Options, st *Stats) error {
	sw, err := p.swapperFor(opts)
	if err != nil {
		return err
	}
	size := sw.Size()
	if opts.PixelBoost != 0 {
		size = opts.PixelBoost // the crop, and so the masks, at the boosted size
	}
	if items, err = p.balance(frame, items, opts, st); err != nil {
		return err
	}
	if err := p.CheckMasks(opts); err != nil {
		return err
	}
	box := p.boxMask(size, opts.MaskBlur, opts.MaskPadding)
	paste := func(f Face, src Embedding, crop []float32, m Affine) error {
		if len(src) > 0 && p.rec != nil { // a pipeline without a recognizer has no report
			t := time.Now()
			sim, err := p.cropSimilarity(crop, size, m, f, src)
			st.Score += time.Since(t)
			if err != nil {
				return err
			}
			st.Similarity = append(st.Similarity, sim)
		}
		t := time.Now()
		mask, err := p.pasteMask(frame, f, crop, size, m, box, opts) // box, mouth and model masks (maskmodels.go)
		if err != nil {
			return err
		}
		PasteBack(frame, crop, mask, size, m)
		st.Paste += time.Since(t)
		st.SwappedFaces++
		return nil
	}
	if len(items) > 1 && sw.Batched() && !overlapping(items, sw.Template(), size, frame.Width, frame.Height) {
		if err := ctx.Err(); err != nil {
			return err
		}
		faces := make([]Face, len(items))
		latents := make([][]float32, len(items))
		for i, it := range items {
			faces[i], latents[i] = it.face, it.latent
		}
		t := time.Now()
		crops, ms, err := sw.SwapBatchAt(frame, faces, latents, opts.PixelBoost)
		st.Swap += time.Since(t)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := range items {
			if err := paste(faces[i], items[i].src, crops[i], ms[i]); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := time.Now()
		crop, m, err := sw.SwapFaceAt(frame, it.face, it.latent, opts.PixelBoost)
		st.Swap += time.Since(t)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := paste(it.face, it.src, crop, m); err != nil {
			return err
		}
	}
	return nil
}

// balance applies opts.SwapperWeight (FaceFusion's --face-swapper-weight) to
// each item's latent: at any weight but 0.5 the target face's own identity is
// mixed in, so every target face is embedded first, on frame as it is before
// any of them is swapped. At 0.5 items come back as they are.
func (p *Pipeline) balance(frame media.Frame, items []swapItem, opts Options, st *Stats) ([]swapItem, error) {
	if swapperWeightMix(opts.WithDefaults().SwapperWeight) == 0 || len(items) == 0 {
		return items, nil
	}
	faces := make([]Face, len(items))
	for i, it := range items {
		faces[i] = it.face
	}
	embs, d, err := p.embedAll(frame, faces)
	st.Embed += d
	if err != nil {
		return nil, err
	}
	out := make([]swapItem, len(items))
	for i, it := range items {
		l, err := Balance(it.latent, embs[i], opts.WithDefaults().SwapperWeight)
		if err != nil {
			return nil, err
		}
		out[i] = swapItem{it.face, l, it.src}
	}
	return out, nil
}

// overlapping reports whether any two items' paste regions, grown by the one
// pixel a bilinear tap reaches, intersect.
func overlapping(items []swapItem, tmpl Template, size, w, h int) bool {
	type rect struct{ x1, y1, x2, y2 int }
	rs := make([]rect, 0, len(items))
	for _, it := range items {
		m := AlignTransform(it.face.Landmarks, tmpl, size)
		x1, y1, x2, y2, ok := PasteRegion(m, size, w, h)
		if !ok {
			continue
		}
		r := rect{x1 - 1, y1 - 1, x2 + 1, y2 + 1}
		for _, q := range rs {
			if r.x1 < q.x2 && q.x1 < r.x2 && r.y1 < q.y2 && q.y1 < r.y2 {
				return true
			}
		}
		rs = append(rs, r)
	}
	return false
}

// enhanceInto runs opts.Enhancer over faces of frame in place. The faces carry
// the landmarks detected on the original target frame.
func (p *Pipeline) enhanceInto(ctx context.Context, frame media.Frame, faces []Face, opts Options, st *Stats) error {
	if opts.Enhancer == "" || len(faces) == 0 {
		return nil
	}
	e, ok := p.enh[opts.Enhancer]
	if !ok {
		return p.checkEnhancer(opts)
	}
	blend := opts.EnhancerBlend / 100
	if blend*255 < 0.5 {
		return nil // no pixel could change by even half a level
	}
	// FaceFusion's enhancer uses the box mask with the configured blur and no padding.
	mask := p.boxMask(e.Size(), opts.MaskBlur, [4]float64{})
	for _, f := range faces {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := time.Now()
		fm, err := p.enhancerMask(frame, f, e, mask, opts) // the occlusion mask too, when asked (maskmodels.go)
		if err == nil {
			err = e.Enhance(frame, f, fm, blend, opts.EnhancerWeight)
		}
		st.Enhance += time.Since(t)
		if err != nil {
			return err
		}
		st.EnhancedFaces++
	}
	return nil
}

// checkEnhancer fails when opts name an enhancer the pipeline was not given.
func (p *Pipeline) checkEnhancer(opts Options) error {
	if opts.Enhancer == "" {
		return nil
	}
	if _, ok := p.enh[opts.Enhancer]; !ok {
		return fmt.Errorf("faceswap: enhancer %q is not configured (have %v)", opts.Enhancer, p.Enhancers())
	}
	return nil
}

// maskKey is what a box mask depends on.
type maskKey struct {
	size    int
	blur    float64
	padding [4]float64
}

// boxMask caches masks: they depend only on the options, and a video job asks
// for the same one every frame.
func (p *Pipeline) boxMask(size int, blur float64, padding [4]float64) []float32 {
	k := maskKey{size, blur, padding}
	if m, ok := p.masks.Load(k); ok {
		return m.([]float32)
	}
	m, _ := p.masks.LoadOrStore(k, BoxMask(size, blur, padding))
	return m.([]float32)
}
