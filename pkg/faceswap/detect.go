package faceswap

import (
	"fmt"
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

// Detector model families, told apart by their output signature.
const (
	DetectorSCRFD    = "scrfd"    // InsightFace SCRFD: 9 (or 15) outputs of scores, boxes, keypoints per stride
	DetectorYOLOFace = "yoloface" // FaceFusion yoloface_8n: one [1,20,N] output
)

// Detector runs a face detector with 5-point landmarks:
//
//   - SCRFD (InsightFace det_500m / det_2.5g / det_10g, FaceFusion's scrfd_2.5g):
//     the output list is read in its declared order (scores, boxes, keypoints,
//     each per stride), so any SCRFD export with keypoints works: 9 outputs
//     (strides 8/16/32, 2 anchors per cell) or 15 outputs (strides 8…128, 1
//     anchor). Exports with a dynamic input size run at any multiple of 32.
//   - YOLOFace (FaceFusion's yoloface_8n): one output [1,20,N], one column per
//     anchor (facts §2.2).
//
// The family is chosen from the model's signature, so ModelPaths.Detector may name
// either file.
type Detector struct {
	sess      *inference.Session
	kind      string
	fixedW    int // model's static input size; 0 when H and W are dynamic
	fixedH    int
	strides   []int
	anchors   int
	blobPool  sync.Pool
	outputLen int
}

// NewDetector wraps a detector session, telling SCRFD from YOLOFace by its outputs:
// 9 or 15 outputs are SCRFD, a single [1,20,N] output is YOLOFace.
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
		d.kind, d.strides, d.anchors = DetectorSCRFD, []int{8, 16, 32}, 2
	case 15:
		d.kind, d.strides, d.anchors = DetectorSCRFD, []int{8, 16, 32, 64, 128}, 1
	case 1:
		dims := sess.Outputs[0].Dimensions
		if len(dims) != 3 || (dims[1] > 0 && dims[1] != yoloRows) {
			return nil, fmt.Errorf("faceswap: detector %s: single output of shape %v; want YOLOFace's [1,20,N]", sess.Path, dims)
		}
		d.kind = DetectorYOLOFace
		return d, nil
	default:
		return nil, fmt.Errorf("faceswap: detector %s: %d outputs; want an SCRFD model with keypoints (9 or 15 outputs) or YOLOFace (one [1,20,N] output)", sess.Path, len(sess.Outputs))
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

// Kind returns DetectorSCRFD or DetectorYOLOFace.
func (d *Detector) Kind() string { return d.kind }

// inputSize returns the detector canvas for a requested size: the model's own size
// when it is static, otherwise size×size.
func (d *Detector) inputSize(size int) (w, h int) {
	if d.fixedW > 0 {
		return d.fixedW, d.fixedH
	}
	return size, size
}

// Detect finds faces with score ≥ threshold (YOLOFace: > threshold, as FaceFusion
// compares), after NMS, in descending score order. size is the square detector
// canvas (a multiple of 32; ignored for models with a static input size, such as
// yoloface_8n's 640×640).
func (d *Detector) Detect(frame media.Frame, size int, threshold float32) ([]Face, error) {
	if err := checkFrame(frame); err != nil {
		return nil, err
	}
	w, h := d.inputSize(size)
	// The 640×640 input blob is 4.9 MB; reuse it across calls.
	bp, _ := d.blobPool.Get().(*[]float32)
	if bp == nil {
		bp = new([]float32)
	}
	in := d.prepare(frame, w, h, *bp)
	*bp = in.blob
	faces, err := d.infer(in, threshold)
	d.blobPool.Put(bp)
	return faces, err
}

// detInput is a prepared detector input: the letterboxed blob and the factors
// mapping canvas coordinates back to the frame.
type detInput struct {
	blob   []float32
	w, h   int
	sx, sy float64
}

// prepare letterboxes frame into a w×h blob, reusing buf when it is large enough.
// It is the CPU half of Detect, split off so a video pipeline can prepare one
// frame while the model runs on the previous one.
func (d *Detector) prepare(frame media.Frame, w, h int, buf []float32) detInput {
	n := 3 * w * h
	if cap(buf) < n {
		buf = make([]float32, n)
	}
	in := detInput{blob: buf[:n], w: w, h: h}
	if d.kind == DetectorYOLOFace {
		in.sx, in.sy = letterboxYOLO(frame, in.blob, w, h)
	} else {
		scale := letterbox(frame, in.blob, w, h)
		in.sx, in.sy = 1/scale, 1/scale
	}
	return in
}

// infer runs the model on a prepared input and decodes, thresholds and NMSes its
// output.
func (d *Detector) infer(in detInput, threshold float32) ([]Face, error) {
	outs, err := d.sess.RunFloat32(inference.Tensor{Shape: []int64{1, 3, int64(in.h), int64(in.w)}, Data: in.blob})
	if err != nil {
		return nil, err
	}
	var faces []Face
	if d.kind == DetectorYOLOFace {
		faces, err = decodeYOLOFace(outs[0], in.sx, in.sy, threshold)
	} else {
		faces, err = d.decode(outs, in.w, in.h, in.sx, threshold)
	}
	if err != nil {
		return nil, err
	}
	return nms(faces, NMSThreshold), nil
}

// letterbox writes the SCRFD input: the frame resized to fit w×h keeping its
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
	resizeInto(frame, blob, w, h, nw, nh, false, 1/128.0, -127.5/128)
	return float64(nh) / float64(frame.Height)
}

// letterboxYOLO writes the YOLOFace input as FaceFusion prepares it (facts §2.2):
// restrict_frame only shrinks a frame larger than the canvas (by min(w/W, h/H),
// never enlarging a small one), the result sits at the top-left of a zero canvas,
// values are x/255 in BGR order (FaceFusion feeds OpenCV's BGR frames). It returns
// the per-axis factors from canvas back to frame pixels (original/resized size).
func letterboxYOLO(frame media.Frame, blob []float32, w, h int) (sx, sy float64) {
	nw, nh := frame.Width, frame.Height
	if nw > w || nh > h {
		s := min(float64(w)/float64(frame.Width), float64(h)/float64(frame.Height))
		nw, nh = max(int(float64(frame.Width)*s), 1), max(int(float64(frame.Height)*s), 1)
	}
	resizeInto(frame, blob, w, h, nw, nh, true, 1/255.0, 0)
	return float64(frame.Width) / float64(nw), float64(frame.Height) / float64(nh)
}

// decode turns SCRFD's per-stride outputs into faces in frame coordinates.
// Anchor centres are (col·s, row·s) with no +0.5, each repeated once per anchor;
// distances and keypoint offsets are in stride units (facts §2.1).
func (d *Detector) decode(outs []inference.Tensor, w, h int, toFrame float64, threshold float32) ([]Face, error) {
	if len(outs) != d.outputLen {
		return nil, fmt.Errorf("faceswap: detector returned %d outputs, want %d", len(outs), d.outputLen)
	}
	fmc := len(d.strides)
	var faces []Face
	inv := float32(toFrame)
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

// yoloRows is the row count of YOLOFace's output: cx, cy, w, h, score and five
// keypoints of (x, y, confidence).
const yoloRows = 20

// decodeYOLOFace turns YOLOFace's [1,20,N] output into faces in frame coordinates
// (FaceFusion detect_with_yolo_face): column i is anchor i; rows 0–3 are the box
// centre and size and row 4 the score, in canvas pixels; rows 5–19 are five
// keypoints as (x, y, confidence), the confidence dropped. Anchors with score >
// threshold are kept, and coordinates are multiplied by the letterbox factors
// sx, sy (frame size / resized size).
func decodeYOLOFace(t inference.Tensor, sx, sy float64, threshold float32) ([]Face, error) {
	shape := t.Shape
	if len(shape) == 3 {
		if shape[0] != 1 {
			return nil, fmt.Errorf("faceswap: YOLOFace output batch of %d, want 1", shape[0])
		}
		shape = shape[1:]
	}
	if len(shape) != 2 || shape[0] != yoloRows || shape[1] < 0 || len(t.Data) < int(shape[0]*shape[1]) {
		return nil, fmt.Errorf("faceswap: YOLOFace output shape %v, want [1 %d N]", t.Shape, yoloRows)
	}
	n := int(shape[1])
	row := func(r int) []float32 { return t.Data[r*n : (r+1)*n] }
	cxs, cys, ws, hs, scores := row(0), row(1), row(2), row(3), row(4)
	fx, fy := float32(sx), float32(sy)
	var faces []Face
	for i, score := range scores {
		if !(score > threshold) { // also drops NaN
			continue
		}
		cx, cy, hw, hh := cxs[i], cys[i], ws[i]/2, hs[i]/2
		f := Face{
			Score: score,
			Box:   [4]float32{(cx - hw) * fx, (cy - hh) * fy, (cx + hw) * fx, (cy + hh) * fy},
		}
		for j := 0; j < 5; j++ {
			f.Landmarks[j] = Point{t.Data[(5+3*j)*n+i] * fx, t.Data[(6+3*j)*n+i] * fy}
		}
		faces = append(faces, f)
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
