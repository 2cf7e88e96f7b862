package faceswap

import (
	"fmt"
	"slices"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
	ort "github.com/yalue/onnxruntime_go"
)

// Occluder models (FaceFusion --face-occluder-model): DeepFaceLab's XSeg
// exports. ModelPaths.Occluders maps these names to files; Options.OccluderModel
// takes one of them or OccluderMany.
const (
	OccluderXSeg1 = "xseg_1"
	OccluderXSeg2 = "xseg_2"
	OccluderXSeg3 = "xseg_3"
	// OccluderMany runs every configured occluder and keeps the element-wise
	// minimum (FaceFusion's "many", which takes xseg_1, xseg_2 and xseg_3).
	OccluderMany = "many"
)

// OccluderModels are the occluder model names (OccluderMany aside).
var OccluderModels = []string{OccluderXSeg1, OccluderXSeg2, OccluderXSeg3}

// occluderSize is the side every XSeg model works at (FaceFusion's model set
// gives 256×256 for all three).
const occluderSize = 256

// Occluder runs one XSeg occlusion model (or a stand-in with its signature):
//
//	input  float32 [1,256,256,3]  NHWC, BGR, x/255 (FaceFusion feeds it by the name "input")
//	output float32 [1,256,256,1]  1 where the face shows, 0 where something covers it
//
// as FaceFusion's face_masker.create_occlusion_mask feeds it: the crop is
// resized to 256 without a channel swap (OpenCV frames are BGR), and output
// [0][0] is read by position.
type Occluder struct {
	name string
	sess *inference.Session
}

// NewOccluder wraps the session of occluder model name (one of
// OccluderModels), checking the signature: one float32 input [1,256,256,3]
// (dynamic dimensions accepted) and a first output of 256·256 values.
func NewOccluder(name string, sess *inference.Session) (*Occluder, error) {
	if !slices.Contains(OccluderModels, name) {
		return nil, fmt.Errorf("faceswap: unknown occluder model %q (want one of %v)", name, OccluderModels)
	}
	if len(sess.Inputs) != 1 || len(sess.Outputs) < 1 {
		return nil, fmt.Errorf("faceswap: occluder %s: want one input and an output, got %v -> %v", sess.Path, sess.InputNames(), sess.OutputNames())
	}
	in := sess.Inputs[0]
	if in.DataType != ort.TensorElementDataTypeFloat || !dimsMatch(in.Dimensions, 1, occluderSize, occluderSize, 3) {
		return nil, fmt.Errorf("faceswap: occluder %s: input %q %v of type %v, want float32 [1,%d,%d,3] (NHWC)",
			sess.Path, in.Name, in.Dimensions, in.DataType, occluderSize, occluderSize)
	}
	out := sess.Outputs[0].Dimensions
	if !dimsMatch(out, 1, occluderSize, occluderSize, 1) && !dimsMatch(out, 1, occluderSize, occluderSize) {
		return nil, fmt.Errorf("faceswap: occluder %s: output %v, want [1,%d,%d,1]", sess.Path, out, occluderSize, occluderSize)
	}
	return &Occluder{name: name, sess: sess}, nil
}

// dimsMatch reports whether a declared shape has want's rank and agrees with it
// wherever it is static (dynamic dimensions are negative).
func dimsMatch(dims []int64, want ...int64) bool {
	if len(dims) != len(want) {
		return false
	}
	for i, d := range dims {
		if d > 0 && d != want[i] {
			return false
		}
	}
	return true
}

// Name is the occluder's model name.
func (o *Occluder) Name() string { return o.name }

// RawMask returns the model's mask for a crop (packed RGB, square), at the
// crop's size and before FaceFusion's smoothing: the crop is resized to 256
// (cv2.resize INTER_LINEAR), fed as BGR/255 NHWC, the output clipped to [0,1]
// and resized back to the crop's side.
func (o *Occluder) RawMask(crop media.Frame) ([]float32, error) {
	if crop.Width != crop.Height || crop.Width == 0 {
		return nil, fmt.Errorf("faceswap: occluder crop %dx%d, want a square", crop.Width, crop.Height)
	}
	const n = occluderSize
	plane := n * n
	planar := make([]float32, 3*plane)
	resizeInto(crop, planar, n, n, n, n, true, 1.0/255, 0) // planes B, G, R
	nhwc := make([]float32, 3*plane)
	for i := range plane {
		nhwc[i*3], nhwc[i*3+1], nhwc[i*3+2] = planar[i], planar[plane+i], planar[2*plane+i]
	}
	outs, err := o.sess.RunFloat32(inference.Tensor{Shape: []int64{1, n, n, 3}, Data: nhwc})
	if err != nil {
		return nil, fmt.Errorf("faceswap: occluder %s: %w", o.name, err)
	}
	m := outs[0].Data
	if len(m) != plane {
		return nil, fmt.Errorf("faceswap: occluder %s returned %d values, want %d", o.name, len(m), plane)
	}
	m = append([]float32(nil), m...)
	clip01(m)
	return resizePlane(m, n, crop.Width), nil
}

// OcclusionMask is FaceFusion's create_occlusion_mask for a square crop of the
// target taken before the swap: each occluder's RawMask, their element-wise
// minimum (one occluder: its own mask; "many": all of them), then smoothed by
// smoothMask. 1 keeps the swap, 0 keeps the target.
func OcclusionMask(crop media.Frame, occluders ...*Occluder) ([]float32, error) {
	if len(occluders) == 0 {
		return nil, fmt.Errorf("faceswap: no occluder")
	}
	var m []float32
	for _, o := range occluders {
		r, err := o.RawMask(crop)
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = r
			continue
		}
		minInto(m, r)
	}
	smoothMask(m, crop.Width)
	return m, nil
}

// smoothMask is the post-processing FaceFusion's occlusion, area and region
// masks share (face_masker.py): (GaussianBlur(clip(m, 0, 1), σ = 5).clip(0.5, 1)
// − 0.5)·2. The blur softens the edge, and the re-scaling moves it inwards to
// where the blurred value crosses one half, so a selected part is fully kept in
// its middle and fades out within its border.
func smoothMask(m []float32, size int) {
	clip01(m)
	gaussianBlur(m, size, size, 5)
	for i, v := range m {
		m[i] = (min(max(v, 0.5), 1) - 0.5) * 2
	}
}

func clip01(m []float32) {
	for i, v := range m {
		if v != v || v < 0 {
			m[i] = 0
		} else if v > 1 {
			m[i] = 1
		}
	}
}

// minInto sets dst to the element-wise minimum of dst and m (FaceFusion's
// numpy.minimum.reduce over masks).
func minInto(dst, m []float32) {
	for i, v := range m {
		if v < dst[i] {
			dst[i] = v
		}
	}
}

// resizePlane resizes a square single-channel float image from×from to to×to as
// cv2.resize(INTER_LINEAR) does for float images: half-pixel centres, edge
// clamp, bilinear weights in floating point.
func resizePlane(src []float32, from, to int) []float32 {
	if from == to {
		return append([]float32(nil), src...)
	}
	x0, x1, xa := resizeTaps(from, to)
	dst := make([]float32, to*to)
	for y := range to {
		r0, r1, fy := src[x0[y]*from:(x0[y]+1)*from], src[x1[y]*from:(x1[y]+1)*from], xa[y]
		o := dst[y*to : (y+1)*to]
		for x := range o {
			a, b, fx := x0[x], x1[x], xa[x]
			top := r0[a] + (r0[b]-r0[a])*fx
			bot := r1[a] + (r1[b]-r1[a])*fx
			o[x] = top + (bot-top)*fy
		}
	}
	return dst
}

// resizeCropPlanar resizes a square interleaved RGB float crop (values in
// [0,255]) from×from to to×to as resizePlane does, into planar RGB with each
// value v mapped to (v/255 − mean[c])/std[c].
func resizeCropPlanar(crop []float32, from, to int, mean, std [3]float32) []float32 {
	x0, x1, xa := resizeTaps(from, to)
	plane := to * to
	dst := make([]float32, 3*plane)
	var scale, offset [3]float32
	for c := range 3 {
		scale[c] = 1 / (255 * std[c])
		offset[c] = -mean[c] / std[c]
	}
	for y := range to {
		r0 := crop[x0[y]*from*3 : (x0[y]+1)*from*3]
		r1 := crop[x1[y]*from*3 : (x1[y]+1)*from*3]
		fy := xa[y]
		for x := range to {
			a, b, fx := x0[x]*3, x1[x]*3, xa[x]
			for c := range 3 {
				top := r0[a+c] + (r0[b+c]-r0[a+c])*fx
				bot := r1[a+c] + (r1[b+c]-r1[a+c])*fx
				dst[c*plane+y*to+x] = (top+(bot-top)*fy)*scale[c] + offset[c]
			}
		}
	}
	return dst
}
