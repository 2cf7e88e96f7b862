package faceswap

import (
	"fmt"
	"math"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

// Embedding is an L2-normalised 512-d ArcFace identity vector.
type Embedding []float32

// EmbeddingSize is the length of an ArcFace embedding.
const EmbeddingSize = 512

// Recognizer runs an ArcFace recognizer (InsightFace w600k_r50 / w600k_mbf,
// FaceFusion's arcface_w600k_r50, or any model with the same interface).
type Recognizer struct {
	sess *inference.Session
	size int // square input side, 112 for every ArcFace export
}

// NewRecognizer wraps an ArcFace session. The input name is taken from the model
// (InsightFace exports call it "input.1" or "data", FaceFusion's "input").
func NewRecognizer(sess *inference.Session) (*Recognizer, error) {
	if len(sess.Inputs) != 1 || len(sess.Outputs) < 1 {
		return nil, fmt.Errorf("faceswap: recognizer %s: want 1 input and an embedding output, got %d/%d",
			sess.Path, len(sess.Inputs), len(sess.Outputs))
	}
	in := sess.Inputs[0].Dimensions
	if len(in) != 4 || (in[1] > 0 && in[1] != 3) || (in[2] > 0 && in[2] != in[3]) {
		return nil, fmt.Errorf("faceswap: recognizer %s: input shape %v, want [1,3,S,S]", sess.Path, in)
	}
	size := 112
	if in[2] > 0 {
		size = int(in[2])
	}
	out := sess.Outputs[0].Dimensions
	if n := len(out); n == 0 || (out[n-1] > 0 && out[n-1] != EmbeddingSize) {
		return nil, fmt.Errorf("faceswap: recognizer %s: output shape %v, want [1,%d]", sess.Path, out, EmbeddingSize)
	}
	return &Recognizer{sess: sess, size: size}, nil
}

// Embed aligns the face to arcface_112_v2 and returns its L2-normalised embedding.
// Preprocessing follows InsightFace/FaceFusion for w600k models: RGB,
// (x − 127.5)/127.5, NCHW.
func (r *Recognizer) Embed(frame media.Frame, face Face) (Embedding, error) {
	e, err := r.EmbedBatch(frame, []Face{face})
	if err != nil {
		return nil, err
	}
	return e[0], nil
}

// Batched reports whether the recognizer model takes several faces per Run (a
// dynamic batch dimension). The ArcFace exports swapd knows have a fixed batch of 1.
func (r *Recognizer) Batched() bool { return r.sess.BatchDynamic() }

// EmbedBatch embeds several faces of one frame: in one Run when the model has a
// dynamic batch dimension, one Run per face otherwise.
func (r *Recognizer) EmbedBatch(frame media.Frame, faces []Face) ([]Embedding, error) {
	if len(faces) == 0 {
		return nil, nil
	}
	n := 1
	if r.Batched() {
		n = len(faces)
	}
	out := make([]Embedding, 0, len(faces))
	plane := 3 * r.size * r.size
	blob := make([]float32, n*plane)
	for start := 0; start < len(faces); start += n {
		batch := faces[start:min(start+n, len(faces))]
		for i, f := range batch {
			m := AlignTransform(f.Landmarks, ArcFace112V2, r.size)
			warpNCHW(frame, m, r.size, blob[i*plane:(i+1)*plane], 1/127.5, -1)
		}
		b := int64(len(batch))
		outs, err := r.sess.RunFloat32(inference.Tensor{Shape: []int64{b, 3, int64(r.size), int64(r.size)}, Data: blob[:len(batch)*plane]})
		if err != nil {
			return nil, err
		}
		raw := outs[0].Data
		if len(raw) != len(batch)*EmbeddingSize {
			return nil, fmt.Errorf("faceswap: recognizer returned %d values for %d faces, want %d each", len(raw), len(batch), EmbeddingSize)
		}
		for i := range batch {
			e, ok := normalize(raw[i*EmbeddingSize : (i+1)*EmbeddingSize])
			if !ok {
				return nil, fmt.Errorf("faceswap: recognizer returned a zero or non-finite embedding")
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// normalize returns v/‖v‖ (computed in float64); ok is false for a zero or
// non-finite vector.
func normalize(v []float32) (Embedding, bool) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := math.Sqrt(s)
	if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return nil, false
	}
	out := make(Embedding, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out, true
}

// AverageEmbeddings averages normalised embeddings from several source images.
// FaceFusion (average_face_identity) takes the arithmetic mean of the normed
// embeddings without renormalising; since the swapper divides by the norm anyway
// (latent = e·emap/‖e‖) the direction is all that matters, so the mean is
// renormalised here to keep Embedding's unit-norm invariant. (FaceFusion's swapper
// actually projects the mean of the raw embeddings; with one source image the two
// are identical, with several they differ only in how each image is weighted.)
func AverageEmbeddings(es []Embedding) (Embedding, error) {
	if len(es) == 0 {
		return nil, fmt.Errorf("faceswap: no embeddings to average")
	}
	sum := make([]float32, len(es[0]))
	for _, e := range es {
		if len(e) != len(sum) {
			return nil, fmt.Errorf("faceswap: embeddings of different lengths %d and %d", len(sum), len(e))
		}
		for i, x := range e {
			sum[i] += x
		}
	}
	avg, ok := normalize(sum)
	if !ok {
		return nil, fmt.Errorf("faceswap: source embeddings cancel out")
	}
	return avg, nil
}

// Cosine returns the cosine similarity of two embeddings.
func Cosine(a, b Embedding) float64 {
	var dot, na, nb float64
	for i := range a {
		if i >= len(b) {
			break
		}
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
