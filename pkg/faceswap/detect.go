package faceswap

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

// Face is one detected face in frame pixel coordinates.
type Face struct {
	Box       [4]float32 // x1, y1, x2, y2
	Score     float32
	Landmarks [5]Point // left eye (image-left), right eye, nose, left mouth, right mouth
}

// Area is the box area, used to rank faces ("one" takes the largest, as
// FaceFusion's default large-small order does).
func (f Face) Area() float32 {
	return max(f.Box[2]-f.Box[0], 0) * max(f.Box[3]-f.Box[1], 0)
}

// NMSThreshold is the IoU above which a lower-scored overlapping box is dropped
// (InsightFace and FaceFusion with one detector angle).
const NMSThreshold = 0.4

// Detector runs an SCRFD face detector (InsightFace det_500m / det_2.5g / det_10g
// and FaceFusion's scrfd_2.5g). It reads the model's output list from the session
// in its declared order (scores, boxes, keypoints, each per stride), so any SCRFD
// export with keypoints works: 9 outputs (strides 8/16/32, 2 anchors per cell) or
// 15 outputs (strides 8…128, 1 anchor).
type Detector struct {
	sess      *inference.Session
	fixedW    int // model's static input size; 0 when H and W are dynamic
	fixedH    int
	strides   []int
	anchors   int
	blobPool  sync.Pool
	outputLen int
}

// NewDetector wraps an SCRFD session.
func NewDetector(sess *inference.Session) (*Detector, error) {
	if len(sess.Inputs) != 1 {
		return nil, fmt.Errorf("faceswap: detector %s: want 1 input, got %d", sess.Path, len(sess.Inputs))
	}
	in := sess.Inputs[0].Dimensions
	if len(in) != 4 || (in[1] != 3 && in[1] > 0) {
		return nil, fmt.Errorf("faceswap: detector %s: input shape %v, want [1,3,H,W]", sess.Path, in)
	}
	d := &Detector{sess: sess, outputLen: len(sess.Outputs)}
	if in[2] > 0 && in[3] > 0 {
		d.fixedH, d.fixedW = int(in[2]), int(in[3])
	}
	switch len(sess.Outputs) {
	case 9:
		d.strides, d.anchors = []int{8, 16, 32}, 2
	case 15:
		d.strides, d.anchors = []int{8, 16, 32, 64, 128}, 1
	default:
		return nil, fmt.Errorf("faceswap: detector %s: %d outputs; want an SCRFD model with keypoints (9 or 15 outputs)", sess.Path, len(sess.Outputs))
	}
	// Where ORT knows the last dimension, check the score/box/kps grouping.
	fmc := len(d.strides)
	for i, want := range []int64{1, 4, 10} {
		for s := 0; s < fmc; s++ {
			dims := sess.Outputs[i*fmc+s].Dimensions
			if n := len(dims); n > 0 && dims[n-1] > 0 && dims[n-1] != want {
				return nil, fmt.Errorf("faceswap: detector %s: output %d (%s) has shape %v, want last dimension %d",
					sess.Path, i*fmc+s, sess.Outputs[i*fmc+s].Name, dims, want)
			}
		}
	}
	return d, nil
}

// inputSize returns the detector canvas for a requested size: the model's own size
// when it is static, otherwise size×size.
func (d *Detector) inputSize(size int) (w, h int) {
	if d.fixedW > 0 {
		return d.fixedW, d.fixedH
	}
	return size, size
}

// Detect finds faces with score ≥ threshold, after NMS, in descending score order.
// size is the square detector canvas (a multiple of 32; ignored for models with a
// static input size).
func (d *Detector) Detect(frame media.Frame, size int, threshold float32) ([]Face, error) {
	if err := checkFrame(frame); err != nil {
		return nil, err
	}
	w, h := d.inputSize(size)
	n := 3 * w * h
	// The 640×640 input blob is 4.9 MB; reuse it across calls.
	bp, _ := d.blobPool.Get().(*[]float32)
	if bp == nil || cap(*bp) < n {
		b := make([]float32, n)
		bp = &b
	}
	blob := (*bp)[:n]
	scale := letterbox(frame, blob, w, h)
	outs, err := d.sess.RunFloat32(inference.Tensor{Shape: []int64{1, 3, int64(h), int64(w)}, Data: blob})
	d.blobPool.Put(bp)
	if err != nil {
		return nil, err
	}
	faces, err := d.decode(outs, w, h, scale, threshold)
	if err != nil {
		return nil, err
	}
	return nms(faces, NMSThreshold), nil
}

// letterbox writes the detector input: the frame resized to fit w×h keeping its
// aspect ratio (upscaling small frames too), pasted at the top-left of a zero
// canvas, normalised (x − 127.5)/128, NCHW. It returns det_scale, the factor from
// frame to canvas pixels. This is InsightFace's SCRFD.detect preparation.
//
// Channel order: InsightFace calls blobFromImage(swapRB=True) on its BGR frames,
// so the network sees RGB; FaceFusion feeds BGR unchanged (facts §12.2). SCRFD was
// trained by InsightFace with RGB input, so RGB is used here, and since media.Frame
// is already RGB no swap is needed.
func letterbox(frame media.Frame, blob []float32, w, h int) float64 {
	imRatio := float64(frame.Height) / float64(frame.Width)
	modelRatio := float64(h) / float64(w)
	var nw, nh int
	if imRatio > modelRatio {
		nh = h
		nw = int(float64(nh) / imRatio)
	} else {
		nw = w
		nh = int(float64(nw) * imRatio)
	}
	nw, nh = max(nw, 1), max(nh, 1)
	scale := float64(nh) / float64(frame.Height)

	const pad = (0 - 127.5) / 128 // the zero canvas after normalisation
	plane := w * h
	for i := range blob {
		blob[i] = pad
	}
	// Bilinear resize as cv2.resize(INTER_LINEAR): half-pixel centres, edge clamp,
	// result rounded to uint8 before normalisation like the uint8 image OpenCV makes.
	xs0, xs1, xa := resizeTaps(frame.Width, nw)
	ys0, ys1, ya := resizeTaps(frame.Height, nh)
	sw := frame.Width
	pix := frame.Pix
	for y := 0; y < nh; y++ {
		r0, r1, fy := ys0[y]*sw*3, ys1[y]*sw*3, ya[y]
		o := y * w
		for x := 0; x < nw; x++ {
			a, b, fx := xs0[x]*3, xs1[x]*3, xa[x]
			for c := 0; c < 3; c++ {
				top := float32(pix[r0+a+c])*(1-fx) + float32(pix[r0+b+c])*fx
				bot := float32(pix[r1+a+c])*(1-fx) + float32(pix[r1+b+c])*fx
				v := float32(int(top*(1-fy) + bot*fy + 0.5))
				blob[c*plane+o+x] = (v - 127.5) / 128
			}
		}
	}
	return scale
}

// resizeTaps returns, for each destination index, the two source indices and the
// weight of the second, with OpenCV's mapping src = (dst + 0.5)·(in/out) − 0.5.
func resizeTaps(in, out int) (i0, i1 []int, frac []float32) {
	i0, i1, frac = make([]int, out), make([]int, out), make([]float32, out)
	scale := float64(in) / float64(out)
	for d := 0; d < out; d++ {
		s := (float64(d)+0.5)*scale - 0.5
		f := math.Floor(s)
		a := s - f
		k := int(f)
		if k < 0 {
			k, a = 0, 0
		}
		if k >= in-1 {
			k, a = in-1, 0
		}
		i0[d], i1[d], frac[d] = k, min(k+1, in-1), float32(a)
	}
	return i0, i1, frac
}

// decode turns SCRFD's per-stride outputs into faces in frame coordinates.
// Anchor centres are (col·s, row·s) with no +0.5, each repeated once per anchor;
// distances and keypoint offsets are in stride units (facts §2.1).
func (d *Detector) decode(outs []inference.Tensor, w, h int, scale float64, threshold float32) ([]Face, error) {
	if len(outs) != d.outputLen {
		return nil, fmt.Errorf("faceswap: detector returned %d outputs, want %d", len(outs), d.outputLen)
	}
	fmc := len(d.strides)
	var faces []Face
	inv := float32(1 / scale)
	for si, s := range d.strides {
		fw, fh := w/s, h/s
		n := fw * fh * d.anchors
		scores, err := rows(outs[si], n, 1)
		if err != nil {
			return nil, fmt.Errorf("faceswap: detector scores stride %d: %w", s, err)
		}
		boxes, err := rows(outs[si+fmc], n, 4)
		if err != nil {
			return nil, fmt.Errorf("faceswap: detector boxes stride %d: %w", s, err)
		}
		kps, err := rows(outs[si+2*fmc], n, 10)
		if err != nil {
			return nil, fmt.Errorf("faceswap: detector keypoints stride %d: %w", s, err)
		}
		fs := float32(s)
		for i := 0; i < n; i++ {
			score := scores[i]
			if score < threshold {
				continue
			}
			cell := i / d.anchors
			cx, cy := float32(cell%fw)*fs, float32(cell/fw)*fs
			b := boxes[i*4 : i*4+4]
			f := Face{
				Score: score,
				Box: [4]float32{
					(cx - b[0]*fs) * inv, (cy - b[1]*fs) * inv,
					(cx + b[2]*fs) * inv, (cy + b[3]*fs) * inv,
				},
			}
			k := kps[i*10 : i*10+10]
			for j := 0; j < 5; j++ {
				f.Landmarks[j] = Point{(cx + k[2*j]*fs) * inv, (cy + k[2*j+1]*fs) * inv}
			}
			faces = append(faces, f)
		}
	}
	return faces, nil
}

// rows checks that t holds n rows of cols values, accepting both [n, cols] and a
// batched [1, n, cols] export, and returns its data.
func rows(t inference.Tensor, n, cols int) ([]float32, error) {
	shape := t.Shape
	if len(shape) == 3 {
		if shape[0] != 1 {
			return nil, fmt.Errorf("batch of %d, want 1", shape[0])
		}
		shape = shape[1:]
	}
	if len(shape) != 2 || shape[0] != int64(n) || shape[1] != int64(cols) || len(t.Data) < n*cols {
		return nil, fmt.Errorf("shape %v, want [%d %d]", t.Shape, n, cols)
	}
	return t.Data[:n*cols], nil
}

// nms is InsightFace's greedy NMS: highest score first, dropping boxes whose IoU
// (with the +1 pixel area convention) with a kept box exceeds thresh.
func nms(faces []Face, thresh float32) []Face {
	sort.SliceStable(faces, func(i, j int) bool { return faces[i].Score > faces[j].Score })
	area := func(f *Face) float32 { return (f.Box[2] - f.Box[0] + 1) * (f.Box[3] - f.Box[1] + 1) }
	suppressed := make([]bool, len(faces))
	var keep []Face
	for i := range faces {
		if suppressed[i] {
			continue
		}
		a := &faces[i]
		keep = append(keep, *a)
		aa := area(a)
		for j := i + 1; j < len(faces); j++ {
			if suppressed[j] {
				continue
			}
			b := &faces[j]
			iw := min(a.Box[2], b.Box[2]) - max(a.Box[0], b.Box[0]) + 1
			ih := min(a.Box[3], b.Box[3]) - max(a.Box[1], b.Box[1]) + 1
			if iw <= 0 || ih <= 0 {
				continue
			}
			inter := iw * ih
			if inter/(aa+area(b)-inter) > thresh {
				suppressed[j] = true
			}
		}
	}
	return keep
}

func checkFrame(f media.Frame) error {
	if f.Width <= 0 || f.Height <= 0 || len(f.Pix) != f.Width*f.Height*3 {
		return fmt.Errorf("faceswap: invalid frame %dx%d with %d bytes", f.Width, f.Height, len(f.Pix))
	}
	return nil
}
