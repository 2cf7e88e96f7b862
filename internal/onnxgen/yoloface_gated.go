package onnxgen

// YOLOFaceGated is YOLOFace with a batch dimension that may be dynamic and
// detections that depend on each image: the scores of dets are kept for an image
// whose mean input value (x/255) exceeds 0.1 and zeroed for a darker one, per
// sample of the batch. A black frame then has no face and a real one has dets,
// so a test mixing the two in one batch sees whether each frame got its own
// result. With dynamic set the input and output have a symbolic batch "N"
// ([N,3,640,640] → [N,20,8400]); otherwise a batch of 1, as the official file.
func YOLOFaceGated(dets []YOLOFaceDetection, dynamic bool) ([]byte, error) {
	const n = YOLOFaceAnchors
	cols, err := yoloColumns(dets)
	if err != nil {
		return nil, err
	}
	// output = rest + scores·gate, gate = clip(100·(mean − 0.1), 0, 1) per sample.
	rest := append([]float32(nil), cols...)
	scores := make([]float32, len(cols))
	copy(scores[4*n:5*n], cols[4*n:5*n])
	for i := 4 * n; i < 5*n; i++ {
		rest[i] = 0
	}
	batch := int64(1)
	if dynamic {
		batch = -1
	}
	g := Graph{
		Name: "yoloface_8n_gated_standin",
		Nodes: []Node{
			{Name: "mean", Op: "ReduceMean", Inputs: []string{"input"}, Outputs: []string{"mean"},
				Attrs: []Attr{{Name: "axes", Type: AttrInts, Ints: []int64{1, 2, 3}}, {Name: "keepdims", Type: AttrInt, I: 1}}},
			{Name: "mean3", Op: "Reshape", Inputs: []string{"mean", "gate_shape"}, Outputs: []string{"mean3"}},
			{Name: "shift", Op: "Sub", Inputs: []string{"mean3", "threshold"}, Outputs: []string{"shifted"}},
			{Name: "steep", Op: "Mul", Inputs: []string{"shifted", "steepness"}, Outputs: []string{"steep"}},
			{Name: "gate", Op: "Clip", Inputs: []string{"steep", "zero", "one"}, Outputs: []string{"gate"}},
			{Name: "gated", Op: "Mul", Inputs: []string{"scores", "gate"}, Outputs: []string{"gated"}},
			{Name: "out", Op: "Add", Inputs: []string{"rest", "gated"}, Outputs: []string{"output"}},
		},
		Initializers: []Tensor{
			{Name: "gate_shape", Dims: []int64{3}, Int64: []int64{-1, 1, 1}},
			{Name: "threshold", Float: []float32{0.1}},
			{Name: "steepness", Float: []float32{100}},
			{Name: "zero", Float: []float32{0}},
			{Name: "one", Float: []float32{1}},
			{Name: "scores", Dims: []int64{1, YOLOFaceRows, n}, Float: scores},
			{Name: "rest", Dims: []int64{1, YOLOFaceRows, n}, Float: rest},
		},
		Inputs:  []ValueInfo{{Name: "input", ElemType: Float, Dims: []int64{batch, 3, YOLOFaceSize, YOLOFaceSize}}},
		Outputs: []ValueInfo{{Name: "output", ElemType: Float, Dims: []int64{batch, YOLOFaceRows, n}}},
	}
	return g.Marshal(), nil
}

// WriteYOLOFaceGated writes YOLOFaceGated(dets, dynamic) to path atomically.
func WriteYOLOFaceGated(path string, dets []YOLOFaceDetection, dynamic bool) error {
	b, err := YOLOFaceGated(dets, dynamic)
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}
