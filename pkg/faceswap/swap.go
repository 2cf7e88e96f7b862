package faceswap

import (
	"fmt"
	"os"
	"sync"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

// Swapper runs one face-swapper model: inswapper_128 (or its fp16 export),
// hyperswap_1a/1b/1c_256, ghost_1/2/3_256, simswap_256, simswap_unofficial_512, or
// a stand-in with the same signature. Each model has FaceFusion's template, native
// size, input mean/std, source-embedding preparation and output
// de-normalisation (swapperSpecs, Latent, swapBatch):
//
//	target float32 [1,3,S,S]  RGB, (x/255 − mean)/std
//	source float32 [1,512]    the prepared identity (Latent)
//	output float32 [1,3,S,S]  RGB in [0,1], or in the normalised range for
//	                          hyperswap and ghost (mapped back with x·std + mean)
type Swapper struct {
	name      string
	spec      swapperSpec
	sess      *inference.Session
	conv      *inference.Session // embedding converter (ghost, SimSwap), else nil
	emap      []float32          // inswapper: 512×512, row-major: latent = e · emap
	targetIdx int
	sourceIdx int
	size      int
}

// NewSwapper wraps an inswapper_128 session and reads its emap, the last graph
// initializer of the same file (facts §4).
func NewSwapper(sess *inference.Session) (*Swapper, error) {
	return NewSwapperModel(SwapperInswapper128, sess, nil)
}

// NewSwapperModel wraps the session of swapper model name (one of SwapperModels);
// conv is its embedding converter's session (crossface_ghost for the ghost models,
// crossface_simswap for SimSwap), nil for the others.
func NewSwapperModel(name string, sess, conv *inference.Session) (*Swapper, error) {
	spec, ok := swapperSpecs[name]
	if !ok {
		return nil, fmt.Errorf("faceswap: unknown swapper model %q (want one of %v)", name, SwapperModels)
	}
	if len(sess.Inputs) != 2 || len(sess.Outputs) < 1 {
		return nil, fmt.Errorf("faceswap: swapper %s: want inputs target+source and an output, got %v -> %v",
			sess.Path, sess.InputNames(), sess.OutputNames())
	}
	s := &Swapper{name: name, spec: spec, sess: sess, targetIdx: -1, sourceIdx: -1, size: spec.size}
	// By name (every official file declares target and source; FaceFusion feeds
	// them by name), else by rank for exports that renamed them.
	for i, in := range sess.Inputs {
		switch in.Name {
		case "target":
			s.targetIdx = i
		case "source":
			s.sourceIdx = i
		}
	}
	if s.targetIdx < 0 || s.sourceIdx < 0 {
		s.targetIdx, s.sourceIdx = -1, -1
		for i, in := range sess.Inputs {
			switch len(in.Dimensions) {
			case 4:
				s.targetIdx = i
			case 2:
				s.sourceIdx = i
			}
		}
	}
	if s.targetIdx < 0 || s.sourceIdx < 0 || s.targetIdx == s.sourceIdx {
		return nil, fmt.Errorf("faceswap: swapper %s: cannot tell target from source in %v", sess.Path, sess.InputNames())
	}
	t := sess.Inputs[s.targetIdx].Dimensions
	want := int64(spec.size)
	if len(t) != 4 || (t[1] > 0 && t[1] != 3) || (t[2] > 0 && t[2] != want) || (t[3] > 0 && t[3] != want) {
		return nil, fmt.Errorf("faceswap: swapper %s: target shape %v, want [1,3,%d,%d] for %s", sess.Path, t, want, want, name)
	}
	src := sess.Inputs[s.sourceIdx].Dimensions
	if len(src) != 2 || (src[1] > 0 && src[1] != EmbeddingSize) {
		return nil, fmt.Errorf("faceswap: swapper %s: source shape %v, want [1,%d]", sess.Path, src, EmbeddingSize)
	}
	switch {
	case spec.converter != "" && conv == nil:
		return nil, fmt.Errorf("faceswap: swapper %s needs the embedding converter %s", name, spec.converter)
	case spec.converter == "" && conv != nil:
		return nil, fmt.Errorf("faceswap: swapper %s takes no embedding converter", name)
	case conv != nil:
		if len(conv.Inputs) != 1 || len(conv.Outputs) < 1 {
			return nil, fmt.Errorf("faceswap: embedding converter %s: want one input and an output, got %v -> %v", conv.Path, conv.InputNames(), conv.OutputNames())
		}
		in, out := conv.Inputs[0].Dimensions, conv.Outputs[0].Dimensions
		if len(in) != 2 || (in[1] > 0 && in[1] != EmbeddingSize) || len(out) != 2 || (out[1] > 0 && out[1] != EmbeddingSize) {
			return nil, fmt.Errorf("faceswap: embedding converter %s: shapes %v -> %v, want [1,%d] -> [1,%d]", conv.Path, in, out, EmbeddingSize, EmbeddingSize)
		}
		s.conv = conv
	}
	if spec.family == familyInswapper {
		emap, err := loadEmap(sess.Path)
		if err != nil {
			return nil, err
		}
		s.emap = emap
	}
	return s, nil
}

// Name is the swapper's model name.
func (s *Swapper) Name() string { return s.name }

// Size is the native crop side the model works at.
func (s *Swapper) Size() int { return s.size }

// Template is the alignment template the model's crops use.
func (s *Swapper) Template() Template { return s.spec.template }

// Latent prepares an identity embedding as the model's source input, as
// FaceFusion's prepare_source_embedding does per model family:
//
//   - inswapper: normalize(e) · emap (FaceFusion; InsightFace and Deep-Live-Cam
//     L2-normalise the result again, facts §4, §12.1; swapd follows FaceFusion,
//     the implementation whose output its users compare against);
//   - hyperswap: normalize(e);
//   - ghost: crossface_ghost(e), not normalised;
//   - SimSwap: normalize(crossface_simswap(e)).
//
// FaceFusion feeds the converters the raw (unnormalised) ArcFace embedding;
// swapd's identities are L2-normalised (they are averaged, cached and compared
// that way), so the converters get the normalised one, which differs from the
// raw one only by its length.
func (s *Swapper) Latent(e Embedding) ([]float32, error) {
	if len(e) != EmbeddingSize {
		return nil, fmt.Errorf("faceswap: embedding has %d values, want %d", len(e), EmbeddingSize)
	}
	n, ok := normalize(e)
	if !ok {
		return nil, fmt.Errorf("faceswap: zero or non-finite source embedding")
	}
	switch s.spec.family {
	case familyHyperswap:
		return n, nil
	case familyGhost, familySimswap:
		outs, err := s.conv.RunFloat32(inference.Tensor{Shape: []int64{1, EmbeddingSize}, Data: n})
		if err != nil {
			return nil, fmt.Errorf("faceswap: embedding converter: %w", err)
		}
		c := outs[0].Data
		if len(c) != EmbeddingSize {
			return nil, fmt.Errorf("faceswap: embedding converter returned %d values, want %d", len(c), EmbeddingSize)
		}
		if s.spec.family == familyGhost {
			return append([]float32(nil), c...), nil
		}
		cn, ok := normalize(c)
		if !ok {
			return nil, fmt.Errorf("faceswap: embedding converter returned a zero or non-finite vector")
		}
		return cn, nil
	}
	acc := make([]float64, EmbeddingSize)
	for i, x := range n {
		if x == 0 {
			continue
		}
		row := s.emap[i*EmbeddingSize : (i+1)*EmbeddingSize]
		xf := float64(x)
		for j, w := range row {
			acc[j] += xf * float64(w)
		}
	}
	out := make([]float32, EmbeddingSize)
	for j, v := range acc {
		out[j] = float32(v)
	}
	return out, nil
}

// Balance mixes the target face's own identity into a latent with FaceFusion's
// --face-swapper-weight rule (balance_source_embedding): with w' =
// interp(weight, [0,1] → [0.35, −0.35]), latent·(1 − w') + target·w'. The
// target embedding is L2-normalised, as FaceFusion has it for inswapper,
// hyperswap and SimSwap (it mixes ghost's with the raw embedding, which swapd does
// not keep). weight 0.5 returns latent unchanged.
func Balance(latent []float32, target Embedding, weight float64) ([]float32, error) {
	w := swapperWeightMix(weight)
	if w == 0 {
		return latent, nil
	}
	t, ok := normalize(target)
	if !ok || len(t) != len(latent) {
		return nil, fmt.Errorf("faceswap: target embedding of %d values cannot balance a latent of %d", len(target), len(latent))
	}
	out := make([]float32, len(latent))
	for i, v := range latent {
		out[i] = v*(1-w) + t[i]*w
	}
	return out, nil
}

// Batched reports whether the swapper model takes several crops per Run (a
// dynamic batch dimension on target and source). The official files have a
// fixed batch of 1.
func (s *Swapper) Batched() bool { return s.sess.BatchDynamic() }

// boostSize is the crop side for a pixel boost (0: the native size).
func (s *Swapper) boostSize(boost int) (int, error) {
	if boost == 0 {
		return s.size, nil
	}
	if boost < s.size || boost%s.size != 0 {
		return 0, fmt.Errorf("faceswap: pixel boost %d is not a multiple of %s's %d px", boost, s.name, s.size)
	}
	return boost, nil
}

// SwapFace aligns face with the model's template at its native size, runs the
// swapper with the latent, and returns the swapped crop as interleaved RGB floats
// in [0,255] together with the frame→crop transform for pasting back. The floats
// are kept (not rounded to uint8) until the blend, as FaceFusion does.
func (s *Swapper) SwapFace(frame media.Frame, face Face, latent []float32) (crop []float32, m Affine, err error) {
	return s.SwapFaceAt(frame, face, latent, 0)
}

// SwapFaceAt is SwapFace with a pixel boost: the face is warped once at boost px
// (a multiple k of the native size; 0 is the native size), the crop is split into
// k² polyphase sub-images (sub-image (a, b) takes pixels (y·k + a, x·k + b)),
// each is swapped at the native size (all in one Run when the model has a dynamic
// batch dimension), and the results are re-interleaved into a boost×boost crop:
// FaceFusion's pixel boost (processors/pixel_boost.py), not a resize.
func (s *Swapper) SwapFaceAt(frame media.Frame, face Face, latent []float32, boost int) (crop []float32, m Affine, err error) {
	crops, ms, err := s.swapBatch(frame, []Face{face}, [][]float32{latent}, boost)
	if err != nil {
		return nil, m, err
	}
	return crops[0], ms[0], nil
}

// SwapBatch is SwapFace for several faces of one frame, each with its own latent,
// all cut from frame as it is now. A model with a dynamic batch dimension swaps
// them in one Run; a fixed-batch model (the official files) in one Run each.
func (s *Swapper) SwapBatch(frame media.Frame, faces []Face, latents [][]float32) (crops [][]float32, ms []Affine, err error) {
	return s.SwapBatchAt(frame, faces, latents, 0)
}

// SwapBatchAt is SwapBatch with a pixel boost (see SwapFaceAt).
func (s *Swapper) SwapBatchAt(frame media.Frame, faces []Face, latents [][]float32, boost int) (crops [][]float32, ms []Affine, err error) {
	if len(faces) != len(latents) {
		return nil, nil, fmt.Errorf("faceswap: %d faces but %d latents", len(faces), len(latents))
	}
	return s.swapBatch(frame, faces, latents, boost)
}

// swapBatch warps every face at the boosted size, splits each crop into its k²
// sub-images, runs them all (one Run when the model batches, one per sub-image
// otherwise) and re-interleaves each face's outputs into its crop.
func (s *Swapper) swapBatch(frame media.Frame, faces []Face, latents [][]float32, boost int) ([][]float32, []Affine, error) {
	p, err := s.boostSize(boost)
	if err != nil {
		return nil, nil, err
	}
	k := p / s.size
	n := len(faces)
	subs := k * k
	plane := s.size * s.size // one channel of one sub-image
	img := 3 * plane         // one sub-image
	target := make([]float32, n*subs*img)
	source := make([]float32, n*subs*EmbeddingSize)
	ms := make([]Affine, n)
	var scale, offset [3]float32
	for c := range 3 {
		scale[c] = float32(1 / (255 * float64(s.spec.std[c])))
		offset[c] = float32(-float64(s.spec.mean[c]) / float64(s.spec.std[c]))
	}
	crop := make([]float32, 3*p*p)
	for i, f := range faces {
		if len(latents[i]) != EmbeddingSize {
			return nil, nil, fmt.Errorf("faceswap: latent has %d values, want %d", len(latents[i]), EmbeddingSize)
		}
		ms[i] = AlignTransform(f.Landmarks, s.spec.template, p)
		warpNCHWNorm(frame, ms[i], p, crop, scale, offset)
		implode(crop, p, k, target[i*subs*img:(i+1)*subs*img])
		for j := range subs {
			copy(source[(i*subs+j)*EmbeddingSize:], latents[i])
		}
	}
	total := n * subs
	out := make([]float32, total*img)
	batch := 1
	if s.Batched() {
		batch = total
	}
	for start := 0; start < total; start += batch {
		cnt := min(batch, total-start)
		in := make([]inference.Tensor, 2)
		in[s.targetIdx] = inference.Tensor{Shape: []int64{int64(cnt), 3, int64(s.size), int64(s.size)}, Data: target[start*img : (start+cnt)*img]}
		in[s.sourceIdx] = inference.Tensor{Shape: []int64{int64(cnt), EmbeddingSize}, Data: source[start*EmbeddingSize : (start+cnt)*EmbeddingSize]}
		outs, err := s.sess.RunFloat32(in...)
		if err != nil {
			return nil, nil, err
		}
		o := outs[0].Data
		if len(o) != cnt*img {
			return nil, nil, fmt.Errorf("faceswap: swapper returned %d values for %d crops, want %d each", len(o), cnt, img)
		}
		copy(out[start*img:], o)
	}
	denorm := s.spec.denormalises()
	crops := make([][]float32, n)
	for i := range crops {
		c := make([]float32, 3*p*p)
		for j := range subs {
			a, b := j/k, j%k
			sub := out[(i*subs+j)*img : (i*subs+j+1)*img]
			for ch := range 3 {
				src := sub[ch*plane : (ch+1)*plane]
				std, mean := s.spec.std[ch], s.spec.mean[ch]
				for y := range s.size {
					row := src[y*s.size : (y+1)*s.size]
					base := ((y*k+a)*p + b) * 3
					for x, v := range row {
						if denorm {
							v = v*std + mean
						}
						if v < 0 || v != v { // clip, and map NaN (fp16 overflow) to 0
							v = 0
						} else if v > 1 {
							v = 1
						}
						c[base+x*k*3+ch] = v * 255
					}
				}
			}
		}
		crops[i] = c
	}
	return crops, ms, nil
}

// implode splits a planar p×p crop (3 planes) into k² planar sub-images of
// (p/k)², sub-image a·k + b holding pixels (y·k + a, x·k + b): FaceFusion's
// implode_pixel_boost.
func implode(crop []float32, p, k int, dst []float32) {
	s := p / k
	plane := s * s
	for a := range k {
		for b := range k {
			sub := dst[(a*k+b)*3*plane : (a*k+b+1)*3*plane]
			for c := range 3 {
				src := crop[c*p*p : (c+1)*p*p]
				d := sub[c*plane : (c+1)*plane]
				for y := range s {
					row := src[(y*k+a)*p:]
					o := d[y*s : (y+1)*s]
					for x := range o {
						o[x] = row[x*k+b]
					}
				}
			}
		}
	}
}

// warpNCHWNorm is warpNCHW with a per-channel scale and offset (SimSwap's
// ImageNet mean/std differ per channel).
func warpNCHWNorm(src media.Frame, m Affine, size int, dst []float32, scale, offset [3]float32) {
	if scale[0] == scale[1] && scale[1] == scale[2] && offset[0] == offset[1] && offset[1] == offset[2] {
		warpNCHW(src, m, size, dst, scale[0], offset[0])
		return
	}
	plane := size * size
	inv, ok := m.Invert()
	if !ok || src.Width == 0 || src.Height == 0 {
		for c := range 3 {
			for i := range plane {
				dst[c*plane+i] = offset[c]
			}
		}
		return
	}
	var lut [3][256]float32
	for c := range 3 {
		for v := range lut[c] {
			lut[c][v] = float32(v)*scale[c] + offset[c]
		}
	}
	row := make([]uint8, size*3)
	for y := range size {
		warpRow(src, inv, y, row)
		o := y * size
		for x := range size {
			for c := range 3 {
				dst[c*plane+o+x] = lut[c][row[x*3+c]]
			}
		}
	}
}

// emap matrices are cached per file: every device's pipeline for the same model
// shares one 1 MB copy and the file is walked once.
var (
	emapMu    sync.Mutex
	emapCache = map[emapKey][]float32{}
)

type emapKey struct {
	path        string
	size, mtime int64
}

func loadEmap(path string) ([]float32, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("faceswap: swapper model: %w", err)
	}
	key := emapKey{path, st.Size(), st.ModTime().UnixNano()}
	emapMu.Lock()
	defer emapMu.Unlock()
	if e, ok := emapCache[key]; ok {
		return e, nil
	}
	name, dims, data, err := inference.LastInitializer(path)
	if err != nil {
		return nil, fmt.Errorf("faceswap: read emap: %w", err)
	}
	if len(dims) != 2 || dims[0] != EmbeddingSize || dims[1] != EmbeddingSize {
		return nil, fmt.Errorf("faceswap: swapper %s: last initializer %q has shape %v, want emap [512 512]", path, name, dims)
	}
	emapCache[key] = data
	return data, nil
}
