package faceswap

import (
	"math"
	"sort"

	"github.com/swapd/swapd/pkg/media"
)

// cropSimilarity is the identity similarity of one swapped face: the cosine
// between src (the job's source identity) and the recognizer's embedding of the
// swapped crop. The crop (interleaved RGB floats in [0,255], size×size, the
// swapper's output before any paste) is already aligned to the swapper's
// template; the face's landmarks, carried into the crop by m (frame→crop), give
// the recognizer its own arcface_112_v2 alignment, exactly as Embed does on a
// frame. No detection runs.
func (p *Pipeline) cropSimilarity(crop []float32, size int, m Affine, face Face, src Embedding) (float64, error) {
	img := media.Frame{Width: size, Height: size, Pix: make([]byte, 3*size*size)}
	for i, v := range crop[:len(img.Pix)] {
		img.Pix[i] = clampByte(v)
	}
	var in Face
	for i, l := range face.Landmarks {
		in.Landmarks[i] = m.Apply(l)
	}
	e, err := p.rec.Embed(img, in)
	if err != nil {
		return 0, err
	}
	return Cosine(src, e), nil
}

// SimilaritySummary summarises per-frame identity similarities of a video.
type SimilaritySummary struct {
	Min, Mean, P10 float64
}

// Summarize returns the minimum, mean and 10th percentile (nearest rank) of vs;
// ok is false when vs is empty.
func Summarize(vs []float64) (s SimilaritySummary, ok bool) {
	if len(vs) == 0 {
		return s, false
	}
	sorted := append([]float64(nil), vs...)
	sort.Float64s(sorted)
	var sum float64
	for _, v := range sorted {
		sum += v
	}
	rank := int(math.Ceil(0.1*float64(len(sorted)))) - 1
	if rank < 0 {
		rank = 0
	}
	return SimilaritySummary{Min: sorted[0], Mean: sum / float64(len(sorted)), P10: sorted[rank]}, true
}
