package onnxgen

import "fmt"

// YOLOFace stand-in constants: FaceFusion's yoloface_8n.onnx takes input
// float32 [1,3,640,640] (BGR, x/255) and returns output float32 [1,20,8400], one
// column per anchor (80² + 40² + 20² = 8400): cx, cy, w, h, score, then five
// keypoints as (x, y, confidence), all in 640×640 canvas pixels (facts §2.2).
const (
	YOLOFaceFile    = "yoloface_8n.onnx"
	YOLOFaceSize    = 640
	YOLOFaceAnchors = 8400
	YOLOFaceRows    = 20
)

// YOLOFaceDetection is one anchor column of the stand-in's output.
type YOLOFaceDetection struct {
	Anchor             int // column, 0 ≤ Anchor < 8400
	CX, CY, W, H       float32
	Score              float32
	Landmarks          [5][2]float32 // x, y in canvas pixels
	LandmarkConfidence float32       // the third value of each keypoint (decoders drop it)
}

// YOLOFace returns a model with exactly yoloface_8n's signature whose output is a
// constant: the given detections in their anchor columns, every other column zero
// (score 0). The input feeds the output through 0·ReduceSum(input), so ONNX Runtime
// must read a correctly shaped input and the graph has no dangling input, yet the
// result never depends on the pixels. That makes decoding (threshold, boxes,
// keypoints, NMS, mapping back through the letterbox) testable end to end through
// the real runtime: a test picks canvas coordinates, and production code must find
// them again in frame coordinates.
func YOLOFace(dets []YOLOFaceDetection) ([]byte, error) {
	const n = YOLOFaceAnchors
	out, err := yoloColumns(dets)
	if err != nil {
		return nil, err
	}
	g := Graph{
		Name: "yoloface_8n_standin",
		Nodes: []Node{
			{Name: "zero", Op: "Mul", Inputs: []string{"input", "zero"}, Outputs: []string{"zeros"}},
			{Name: "sum", Op: "ReduceSum", Inputs: []string{"zeros"}, Outputs: []string{"sum"},
				Attrs: []Attr{{Name: "keepdims", Type: AttrInt, I: 1}}},
			{Name: "flat", Op: "Reshape", Inputs: []string{"sum", "flat_shape"}, Outputs: []string{"nothing"}},
			{Name: "out", Op: "Add", Inputs: []string{"detections", "nothing"}, Outputs: []string{"output"}},
		},
		Initializers: []Tensor{
			{Name: "zero", Float: []float32{0}},
			{Name: "flat_shape", Dims: []int64{3}, Int64: []int64{1, 1, 1}},
			{Name: "detections", Dims: []int64{1, YOLOFaceRows, n}, Float: out},
		},
		Inputs: []ValueInfo{
			{Name: "input", ElemType: Float, Dims: []int64{1, 3, YOLOFaceSize, YOLOFaceSize}},
		},
		Outputs: []ValueInfo{
			{Name: "output", ElemType: Float, Dims: []int64{1, YOLOFaceRows, n}},
		},
	}
	return g.Marshal(), nil
}

// yoloColumns lays dets out as the [20, 8400] output, one anchor column each.
func yoloColumns(dets []YOLOFaceDetection) ([]float32, error) {
	const n = YOLOFaceAnchors
	out := make([]float32, YOLOFaceRows*n)
	used := map[int]bool{}
	for _, d := range dets {
		if d.Anchor < 0 || d.Anchor >= n {
			return nil, fmt.Errorf("onnxgen: YOLOFace anchor %d out of range [0,%d)", d.Anchor, n)
		}
		if used[d.Anchor] {
			return nil, fmt.Errorf("onnxgen: YOLOFace anchor %d used twice", d.Anchor)
		}
		used[d.Anchor] = true
		col := []float32{d.CX, d.CY, d.W, d.H, d.Score}
		for _, l := range d.Landmarks {
			col = append(col, l[0], l[1], d.LandmarkConfidence)
		}
		for r, v := range col {
			out[r*n+d.Anchor] = v
		}
	}
	return out, nil
}

// WriteYOLOFace writes YOLOFace(dets) to path atomically.
func WriteYOLOFace(path string, dets []YOLOFaceDetection) error {
	b, err := YOLOFace(dets)
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}
