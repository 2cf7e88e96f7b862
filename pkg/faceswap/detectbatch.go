package faceswap

import (
	"fmt"

	"github.com/swapd/swapd/pkg/inference"
)

// maxDetectBatch is the most frames one batched detector Run takes. A video's
// detect stage batches the frames already waiting for it, never waits for more, so
// a batch is whatever has queued up while the previous Run ran (at most the
// pipeline's queue); 8 keeps a 640×640 batch at 39 MB of input.
const maxDetectBatch = 8

// Batched reports whether the detector model takes several images per Run (its
// input's first dimension is dynamic). The official SCRFD and YOLOFace files
// have a batch of 1; exports with a dynamic batch let a video's detection run
// several frames per call, which on a GPU costs little more than one.
func (d *Detector) Batched() bool { return d.sess.BatchDynamic() }

// inferBatch runs the model once on several prepared inputs of the same size and
// returns each one's faces, as infer would. Inputs of different sizes, a single
// input, or a model without a dynamic batch run one at a time.
func (d *Detector) inferBatch(ins []detInput, threshold float32) ([][]Face, error) {
	out := make([][]Face, len(ins))
	same := true
	for _, in := range ins[1:] {
		same = same && in.w == ins[0].w && in.h == ins[0].h
	}
	if len(ins) == 1 || !same || !d.Batched() {
		for i, in := range ins {
			faces, err := d.infer(in, threshold)
			if err != nil {
				return nil, err
			}
			out[i] = faces
		}
		return out, nil
	}
	n := len(ins)
	w, h := ins[0].w, ins[0].h
	per := 3 * w * h
	blob := make([]float32, n*per)
	for i, in := range ins {
		copy(blob[i*per:], in.blob[:per])
	}
	outs, err := d.sess.RunFloat32(inference.Tensor{Shape: []int64{int64(n), 3, int64(h), int64(w)}, Data: blob})
	if err != nil {
		return nil, err
	}
	for i, in := range ins {
		sample := make([]inference.Tensor, len(outs))
		for j, t := range outs {
			if sample[j], err = batchSample(t, i, n); err != nil {
				return nil, fmt.Errorf("faceswap: detector output %d: %w", j, err)
			}
		}
		var faces []Face
		if d.kind == DetectorYOLOFace {
			faces, err = decodeYOLOFace(sample[0], in.sx, in.sy, threshold)
		} else {
			faces, err = d.decode(sample, in.w, in.h, in.sx, threshold)
		}
		if err != nil {
			return nil, err
		}
		out[i] = nms(faces, NMSThreshold)
	}
	return out, nil
}

// batchSample is sample i of a batch-of-n output tensor, as the batch-1 tensor the
// decoders read.
func batchSample(t inference.Tensor, i, n int) (inference.Tensor, error) {
	if len(t.Shape) < 2 || t.Shape[0] != int64(n) || len(t.Data)%n != 0 {
		return inference.Tensor{}, fmt.Errorf("shape %v for a batch of %d", t.Shape, n)
	}
	per := len(t.Data) / n
	shape := append([]int64{1}, t.Shape[1:]...)
	return inference.Tensor{Shape: shape, Data: t.Data[i*per : (i+1)*per]}, nil
}
