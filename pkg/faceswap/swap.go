package faceswap

import (
	"fmt"
	"os"
	"sync"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

// Swapper runs inswapper_128 (or its fp16 export, or a stand-in with the same
// signature): target float32 [1,3,128,128] RGB in [0,1], source float32 [1,512]
// latent, output [1,3,128,128] RGB in [0,1].
type Swapper struct {
	sess      *inference.Session
	emap      []float32 // 512×512, row-major: latent = e · emap
	targetIdx int
	sourceIdx int
	size      int
}

// NewSwapper wraps an inswapper session and reads its emap, the last graph
// initializer of the same file (facts §4).
func NewSwapper(sess *inference.Session) (*Swapper, error) {
	if len(sess.Inputs) != 2 || len(sess.Outputs) != 1 {
		return nil, fmt.Errorf("faceswap: swapper %s: want inputs target+source and one output, got %v -> %v",
			sess.Path, sess.InputNames(), sess.OutputNames())
	}
	s := &Swapper{sess: sess, targetIdx: -1, sourceIdx: -1}
	// By name (inswapper declares target and source), else by rank for exports
	// that renamed them.
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
	if len(t) != 4 || (t[1] > 0 && t[1] != 3) || (t[2] > 0 && t[2] != t[3]) {
		return nil, fmt.Errorf("faceswap: swapper %s: target shape %v, want [1,3,S,S]", sess.Path, t)
	}
	s.size = 128
	if t[2] > 0 {
		s.size = int(t[2])
	}
	src := sess.Inputs[s.sourceIdx].Dimensions
	if len(src) != 2 || (src[1] > 0 && src[1] != EmbeddingSize) {
		return nil, fmt.Errorf("faceswap: swapper %s: source shape %v, want [1,%d]", sess.Path, src, EmbeddingSize)
	}
	emap, err := loadEmap(sess.Path)
	if err != nil {
		return nil, err
	}
	s.emap = emap
	return s, nil
}

// Size is the crop side the swapper works at.
func (s *Swapper) Size() int { return s.size }

// Latent projects an identity embedding into inswapper's source space:
// latent = normalize(e) · emap (FaceFusion prepare_source_embedding).
//
// InsightFace (and Deep-Live-Cam) L2-normalise the latent again after the
// projection; FaceFusion, and the RunPod worker that copies it, do not (facts
// §4, §12.1). swapd follows FaceFusion, the implementation whose output its users
// compare against; with a real emap the two differ only by a scale the network is
// largely insensitive to.
func (s *Swapper) Latent(e Embedding) ([]float32, error) {
	if len(e) != EmbeddingSize {
		return nil, fmt.Errorf("faceswap: embedding has %d values, want %d", len(e), EmbeddingSize)
	}
	n, ok := normalize(e)
	if !ok {
		return nil, fmt.Errorf("faceswap: zero or non-finite source embedding")
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

// Batched reports whether the swapper model takes several faces per Run (a
// dynamic batch dimension on target and source). The real inswapper_128 has a
// fixed batch of 1.
func (s *Swapper) Batched() bool { return s.sess.BatchDynamic() }

// SwapFace aligns face to arcface_128 at the model size, runs the swapper with the
// latent, and returns the swapped crop as interleaved RGB floats in [0,255]
// together with the frame→crop transform for pasting back. The floats are kept
// (not rounded to uint8) until the blend, as FaceFusion does.
func (s *Swapper) SwapFace(frame media.Frame, face Face, latent []float32) (crop []float32, m Affine, err error) {
	crops, ms, err := s.swapBatch(frame, []Face{face}, [][]float32{latent})
	if err != nil {
		return nil, m, err
	}
	return crops[0], ms[0], nil
}

// SwapBatch is SwapFace for several faces of one frame, each with its own latent,
// all cut from frame as it is now. A model with a dynamic batch dimension swaps
// them in one Run; a fixed-batch model (the real inswapper) in one Run each.
func (s *Swapper) SwapBatch(frame media.Frame, faces []Face, latents [][]float32) (crops [][]float32, ms []Affine, err error) {
	if len(faces) != len(latents) {
		return nil, nil, fmt.Errorf("faceswap: %d faces but %d latents", len(faces), len(latents))
	}
	if !s.Batched() {
		for i := range faces {
			c, m, err := s.swapBatch(frame, faces[i:i+1], latents[i:i+1])
			if err != nil {
				return nil, nil, err
			}
			crops, ms = append(crops, c[0]), append(ms, m[0])
		}
		return crops, ms, nil
	}
	return s.swapBatch(frame, faces, latents)
}

// swapBatch runs len(faces) crops through the model in one Run.
func (s *Swapper) swapBatch(frame media.Frame, faces []Face, latents [][]float32) ([][]float32, []Affine, error) {
	n := len(faces)
	plane := s.size * s.size
	target := make([]float32, n*3*plane)
	source := make([]float32, n*EmbeddingSize)
	ms := make([]Affine, n)
	for i, f := range faces {
		if len(latents[i]) != EmbeddingSize {
			return nil, nil, fmt.Errorf("faceswap: latent has %d values, want %d", len(latents[i]), EmbeddingSize)
		}
		ms[i] = AlignTransform(f.Landmarks, ArcFace128, s.size)
		warpNCHW(frame, ms[i], s.size, target[i*3*plane:(i+1)*3*plane], 1.0/255, 0)
		copy(source[i*EmbeddingSize:], latents[i])
	}
	in := make([]inference.Tensor, 2)
	in[s.targetIdx] = inference.Tensor{Shape: []int64{int64(n), 3, int64(s.size), int64(s.size)}, Data: target}
	in[s.sourceIdx] = inference.Tensor{Shape: []int64{int64(n), EmbeddingSize}, Data: source}
	outs, err := s.sess.RunFloat32(in...)
	if err != nil {
		return nil, nil, err
	}
	o := outs[0].Data
	if len(o) != n*3*plane {
		return nil, nil, fmt.Errorf("faceswap: swapper returned %d values for %d faces, want %d each", len(o), n, 3*plane)
	}
	crops := make([][]float32, n)
	for k := range crops {
		src := o[k*3*plane : (k+1)*3*plane]
		crop := make([]float32, 3*plane)
		for c := 0; c < 3; c++ {
			ch := src[c*plane : (c+1)*plane]
			for i, v := range ch {
				if v < 0 || v != v { // clip, and map NaN (fp16 overflow) to 0
					v = 0
				} else if v > 1 {
					v = 1
				}
				crop[i*3+c] = v * 255
			}
		}
		crops[k] = crop
	}
	return crops, ms, nil
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
