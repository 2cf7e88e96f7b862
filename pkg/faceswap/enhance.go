package faceswap

import (
	"fmt"
	"sync"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
	ort "github.com/yalue/onnxruntime_go"
)

// enhancerSpec is what FaceFusion's face_enhancer MODEL_SET says about a model:
// the template and crop size it aligns faces with (facts §7).
type enhancerSpec struct {
	template Template
	size     int
}

var enhancerSpecs = map[string]enhancerSpec{
	EnhancerGFPGAN12:        {FFHQ512, 512},
	EnhancerGFPGAN13:        {FFHQ512, 512},
	EnhancerGFPGAN14:        {FFHQ512, 512},
	EnhancerCodeFormer:      {FFHQ512, 512},
	EnhancerGPEN256:         {ArcFace128, 256},
	EnhancerGPEN512:         {FFHQ512, 512},
	EnhancerGPEN1024:        {FFHQ512, 1024},
	EnhancerGPEN2048:        {FFHQ512, 2048},
	EnhancerRestoreFormerPP: {FFHQ512, 512},
}

// Enhancer runs a face restoration model (GFPGAN 1.4, CodeFormer, GPEN-BFR 256 or
// 512, or a stand-in with the same signature): input float32 [1,3,S,S] RGB in
// [−1,1] ((x/255 − 0.5)/0.5), for CodeFormer also weight float64 [1]; output
// [1,3,S,S] RGB in [−1,1]. Faces are aligned with the model's template (ffhq_512,
// or arcface_128 for gpen_bfr_256) and pasted back through a box mask.
type Enhancer struct {
	name      string
	sess      *inference.Session
	spec      enhancerSpec
	inputIdx  int
	weightIdx int // -1: no weight input
	weight64  bool
	blobs     sync.Pool // *[]float32 of 3·size², the input and then the output crop
}

// NewEnhancer wraps the session of the enhancer model name (one of the Enhancer*
// constants). The image input is the model's 4-D input; a second, 1-element input
// is the fidelity weight (CodeFormer's float64 "weight").
func NewEnhancer(name string, sess *inference.Session) (*Enhancer, error) {
	spec, ok := enhancerSpecs[name]
	if !ok {
		return nil, fmt.Errorf("faceswap: unknown enhancer %q", name)
	}
	e := &Enhancer{name: name, sess: sess, spec: spec, inputIdx: -1, weightIdx: -1}
	for i, in := range sess.Inputs {
		switch {
		case len(in.Dimensions) == 4 && e.inputIdx < 0:
			e.inputIdx = i
		case len(in.Dimensions) <= 1 && e.weightIdx < 0:
			e.weightIdx = i
			switch in.DataType {
			case ort.TensorElementDataTypeDouble:
				e.weight64 = true
			case ort.TensorElementDataTypeFloat:
			default:
				return nil, fmt.Errorf("faceswap: enhancer %s: weight input %q of type %v, want float64 or float32", sess.Path, in.Name, in.DataType)
			}
		default:
			return nil, fmt.Errorf("faceswap: enhancer %s: unexpected input %q %v", sess.Path, in.Name, in.Dimensions)
		}
	}
	if e.inputIdx < 0 {
		return nil, fmt.Errorf("faceswap: enhancer %s: no [1,3,S,S] image input in %v", sess.Path, sess.InputNames())
	}
	if name == EnhancerCodeFormer && e.weightIdx < 0 {
		return nil, fmt.Errorf("faceswap: enhancer %s: CodeFormer without a weight input", sess.Path)
	}
	d := sess.Inputs[e.inputIdx].Dimensions
	if (d[1] > 0 && d[1] != 3) || (d[2] > 0 && d[2] != int64(spec.size)) || (d[3] > 0 && d[3] != int64(spec.size)) {
		return nil, fmt.Errorf("faceswap: enhancer %s: input shape %v, want [1,3,%d,%d] for %s", sess.Path, d, spec.size, spec.size, name)
	}
	if len(sess.Outputs) < 1 {
		return nil, fmt.Errorf("faceswap: enhancer %s: no output", sess.Path)
	}
	return e, nil
}

// Name returns the enhancer's model name.
func (e *Enhancer) Name() string { return e.name }

// Size is the crop side the enhancer works at.
func (e *Enhancer) Size() int { return e.spec.size }

// Enhance restores one face of frame, in place (FaceFusion enhance_face, facts §7):
// align with the model's template at its size, run the model, clip its output to
// [−1,1] and map it back to pixels, paste back through mask (a Size()×Size() box
// mask), and blend with the frame as it was: out = frame·(1 − blend) + pasted·blend,
// blend in [0,1]. weight is CodeFormer's fidelity weight (ignored by models without
// one). The face's landmarks are those detected on the original target frame, as
// FaceFusion reuses them rather than detecting on the swapped image.
func (e *Enhancer) Enhance(frame media.Frame, face Face, mask []float32, blend, weight float64) error {
	size := e.spec.size
	if len(mask) != size*size {
		return fmt.Errorf("faceswap: enhancer mask has %d values, want %d", len(mask), size*size)
	}
	if blend <= 0 {
		return nil
	}
	m := AlignTransform(face.Landmarks, e.spec.template, size)
	plane := size * size
	bp, _ := e.blobs.Get().(*[]float32)
	if bp == nil || len(*bp) != 3*plane {
		b := make([]float32, 3*plane)
		bp = &b
	}
	defer e.blobs.Put(bp)
	blob := *bp
	warpNCHW(frame, m, size, blob, 2.0/255, -1) // (x/255 − 0.5)/0.5
	in := make([]inference.Input, len(e.sess.Inputs))
	in[e.inputIdx] = inference.Tensor{Shape: []int64{1, 3, int64(size), int64(size)}, Data: blob}
	if e.weightIdx >= 0 {
		if e.weight64 {
			in[e.weightIdx] = inference.Float64Tensor{Shape: []int64{1}, Data: []float64{weight}}
		} else {
			in[e.weightIdx] = inference.Tensor{Shape: []int64{1}, Data: []float32{float32(weight)}}
		}
	}
	outs, err := e.sess.RunInputs(in...)
	if err != nil {
		return err
	}
	o := outs[0].Data
	if len(o) != 3*plane {
		return fmt.Errorf("faceswap: enhancer returned %d values, want %d", len(o), 3*plane)
	}
	// Output: clip to [−1,1], (x + 1)/2·255, rounded as FaceFusion's uint8 cast of
	// the rounded value does; interleaved for the paste.
	crop := blob // reuse: the input is no longer needed
	for c := 0; c < 3; c++ {
		ch := o[c*plane : (c+1)*plane]
		for i, v := range ch {
			if v != v {
				v = 0
			}
			v = min(max(v, -1), 1)
			crop[i*3+c] = float32(int32((v+1)*127.5 + 0.5)) // ≥ 0, so this rounds half up
		}
	}
	pasteBack(frame, crop, mask, size, m, float32(min(blend, 1)))
	return nil
}
