package inference

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// WarmShapes gives, per session, the input shapes a warm-up should run with: input
// name → full shape. Inputs it leaves out run at their declared shape with every
// dynamic dimension set to 1. A nil WarmShapes, or one returning nil, leaves all
// inputs at that default.
type WarmShapes func(s *Session) map[string][]int64

// WarmUpShapes returns the input shapes WarmUp runs the session with, in Inputs
// order: shapes[name] where given, else the declared shape with each dynamic
// dimension set to 1 (the batch of one a job runs). A given shape must keep the
// model's static dimensions.
func (s *Session) WarmUpShapes(shapes map[string][]int64) ([][]int64, error) {
	out := make([][]int64, len(s.Inputs))
	for i, in := range s.Inputs {
		if sh, ok := shapes[in.Name]; ok {
			if len(sh) != len(in.Dimensions) {
				return nil, fmt.Errorf("inference: %s input %q: warm-up shape %v, model declares %v", s.Path, in.Name, sh, in.Dimensions)
			}
			for j, d := range in.Dimensions {
				if (d >= 0 && sh[j] != d) || sh[j] < 1 {
					return nil, fmt.Errorf("inference: %s input %q: warm-up shape %v, model declares %v", s.Path, in.Name, sh, in.Dimensions)
				}
			}
			out[i] = slices.Clone(sh)
			continue
		}
		sh := make([]int64, len(in.Dimensions))
		for j, d := range in.Dimensions {
			sh[j] = max(d, 1)
		}
		out[i] = sh
	}
	return out, nil
}

// WarmUp runs the model once on zero-filled inputs of the shapes WarmUpShapes
// gives, so that ONNX Runtime's one-off costs for those shapes (memory planning,
// kernel and cuDNN algorithm selection, a TensorRT engine build) are paid before a
// job needs the session rather than by the first job. The outputs are discarded.
func (s *Session) WarmUp(shapes map[string][]int64) error {
	shs, err := s.WarmUpShapes(shapes)
	if err != nil {
		return err
	}
	in := make([]ort.Value, len(s.Inputs))
	defer destroyAll(in)
	for i, info := range s.Inputs {
		v, err := zeroTensor(info.DataType, shs[i])
		if err != nil {
			return fmt.Errorf("inference: %s input %q: %w", s.Path, info.Name, err)
		}
		in[i] = v
	}
	out := make([]ort.Value, len(s.Outputs))
	defer destroyAll(out)
	return s.Run(in, out)
}

func destroyAll(vs []ort.Value) {
	for _, v := range vs {
		if v != nil {
			v.Destroy()
		}
	}
}

// zeroTensor makes a zero tensor of an element type swapd's models take.
func zeroTensor(t ort.TensorElementDataType, shape []int64) (ort.Value, error) {
	sh := ort.NewShape(shape...)
	switch t {
	case ort.TensorElementDataTypeFloat:
		return ort.NewEmptyTensor[float32](sh)
	case ort.TensorElementDataTypeDouble:
		return ort.NewEmptyTensor[float64](sh)
	case ort.TensorElementDataTypeInt64:
		return ort.NewEmptyTensor[int64](sh)
	case ort.TensorElementDataTypeInt32:
		return ort.NewEmptyTensor[int32](sh)
	case ort.TensorElementDataTypeUint8:
		return ort.NewEmptyTensor[uint8](sh)
	}
	return nil, fmt.Errorf("no warm-up input for element type %v", t)
}

// Sessions returns the sessions open on the device, sorted by model path.
func (d *Device) Sessions() []*Session {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*Session, 0, len(d.sessions))
	for _, s := range d.sessions {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// WarmUp runs every session open on the device once (Session.WarmUp), one after
// the other, with the input shapes shapes gives each, and returns how long it took.
// Call it after opening the device's models and before taking jobs: on a GPU the
// first run of each model is where ORT selects kernels and TensorRT builds engines,
// which otherwise lands on the first job.
func (d *Device) WarmUp(shapes WarmShapes) (time.Duration, error) {
	t0 := time.Now()
	var errs []string
	for _, s := range d.Sessions() {
		var sh map[string][]int64
		if shapes != nil {
			sh = shapes(s)
		}
		if err := s.WarmUp(sh); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return time.Since(t0), fmt.Errorf("inference: %s: warm-up: %s", d.Name, strings.Join(errs, "; "))
	}
	return time.Since(t0), nil
}
