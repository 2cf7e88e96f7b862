package inference

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// Session is an ORT session for one model file on one device. It is created once
// per (device, model file) by Device.OpenSession and shared by every caller; ORT's
// Run is thread-safe, so a Session may be used from many goroutines at once. The
// input and output descriptions come from ONNX Runtime itself, so callers feed
// models by the names and shapes the file declares rather than hard-coding them.
type Session struct {
	Path     string
	Device   *Device
	Provider string                // execution provider the session was created with (KindCPU after a fallback)
	Inputs   []ort.InputOutputInfo // in the model's declared order; -1 marks a dynamic dimension
	Outputs  []ort.InputOutputInfo

	s    *ort.DynamicAdvancedSession
	refs int // guarded by Device.mu

	runs     atomic.Int64 // completed Run calls
	runNanos atomic.Int64 // wall time inside Run, summed over calls

	shapeMu sync.Mutex
	shapes  map[string]int64 // input shapes of completed Run calls (shapeKey) → count
}

// OpenSession returns the device's session for the model at path, creating it on
// first use. Each successful call must be paired with Session.Close; the session is
// destroyed when the last user closes it.
func (d *Device) OpenSession(path string) (*Session, error) {
	if !Initialized() {
		return nil, ErrNotInitialized
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.sessions[path]; ok {
		s.refs++
		return s, nil
	}
	ins, outs, err := modelInfo(path)
	if err != nil {
		return nil, err
	}
	opts, provider, err := d.sessionOptions()
	if err != nil {
		return nil, err
	}
	inNames, outNames := names(ins), names(outs)
	s, err := ort.NewDynamicAdvancedSession(path, inNames, outNames, opts)
	opts.Destroy()
	if err != nil && provider != KindCPU && !d.Options.RequireGPU {
		// Appending a GPU provider can succeed and session creation still fail
		// (a CUDA library that only loads at session creation, no GPU present).
		d.warnFallback(provider+" session creation failed, running on the CPU", err)
		if opts, err = d.baseOptions(); err != nil {
			return nil, err
		}
		provider = KindCPU
		s, err = ort.NewDynamicAdvancedSession(path, inNames, outNames, opts)
		opts.Destroy()
	}
	if err != nil {
		return nil, fmt.Errorf("inference: %s: load %s: %w", d.Name, path, err)
	}
	sess := &Session{Path: path, Device: d, Provider: provider, Inputs: ins, Outputs: outs, s: s, refs: 1}
	d.sessions[path] = sess
	d.provider = provider
	return sess, nil
}

// Close releases this caller's reference; the ORT session is destroyed with the
// last one. No Run may be in flight on a session being destroyed.
func (s *Session) Close() error {
	d := s.Device
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.refs <= 0 {
		return nil
	}
	s.refs--
	if s.refs > 0 {
		return nil
	}
	delete(d.sessions, s.Path)
	return s.destroy()
}

func (s *Session) destroy() error {
	if s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	s.refs = 0
	if err != nil {
		return fmt.Errorf("inference: destroy session %s: %w", s.Path, err)
	}
	return nil
}

// InputNames returns the model's input names in declared order.
func (s *Session) InputNames() []string { return names(s.Inputs) }

// OutputNames returns the model's output names in declared order.
func (s *Session) OutputNames() []string { return names(s.Outputs) }

// Input returns the description of the named input.
func (s *Session) Input(name string) (ort.InputOutputInfo, bool) { return find(s.Inputs, name) }

// Output returns the description of the named output.
func (s *Session) Output(name string) (ort.InputOutputInfo, bool) { return find(s.Outputs, name) }

// Run runs the model. inputs and outputs follow Inputs and Outputs order; a nil
// output is allocated by ORT and must be destroyed by the caller.
func (s *Session) Run(inputs, outputs []ort.Value) error {
	t := time.Now()
	err := s.s.Run(inputs, outputs)
	s.runNanos.Add(int64(time.Since(t)))
	s.runs.Add(1)
	key := shapeKey(inputs)
	s.shapeMu.Lock()
	if s.shapes == nil {
		s.shapes = map[string]int64{}
	}
	s.shapes[key]++
	s.shapeMu.Unlock()
	if err != nil {
		return fmt.Errorf("inference: run %s on %s: %w", s.Path, s.Device.Name, err)
	}
	return nil
}

// RunStats returns how many Run calls the session has completed and the wall time
// spent inside them (summed over concurrent calls), for telling model inference
// apart from the work around it.
func (s *Session) RunStats() (runs int64, busy time.Duration) {
	return s.runs.Load(), time.Duration(s.runNanos.Load())
}

// RunShapes returns, for every distinct set of input shapes the session has run
// with, how many Run calls used it. The key lists the inputs' shapes in Inputs order,
// dimensions joined by "x" and inputs by ",": "1x3x640x640" for a detector,
// "1x3x128x128,1x512" for a swapper. A shape ORT has not run before may cost it a
// cold start (kernel selection, memory planning, a TensorRT engine build), which is
// what Session.WarmUp pays in advance; comparing RunShapes before and after a job
// tells whether the job met a new one.
func (s *Session) RunShapes() map[string]int64 {
	s.shapeMu.Lock()
	defer s.shapeMu.Unlock()
	out := make(map[string]int64, len(s.shapes))
	for k, v := range s.shapes {
		out[k] = v
	}
	return out
}

// ShapeKey is the RunShapes key for a set of input shapes.
func ShapeKey(shapes ...[]int64) string {
	var b strings.Builder
	for i, sh := range shapes {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, d := range sh {
			if j > 0 {
				b.WriteByte('x')
			}
			b.WriteString(strconv.FormatInt(d, 10))
		}
	}
	return b.String()
}

func shapeKey(inputs []ort.Value) string {
	shapes := make([][]int64, len(inputs))
	for i, v := range inputs {
		if v != nil {
			shapes[i] = []int64(v.GetShape())
		}
	}
	return ShapeKey(shapes...)
}

// BatchDynamic reports whether every input's first dimension is dynamic, i.e.
// whether several samples can go through one Run call.
func (s *Session) BatchDynamic() bool {
	if len(s.Inputs) == 0 {
		return false
	}
	for _, in := range s.Inputs {
		if len(in.Dimensions) == 0 || in.Dimensions[0] >= 0 {
			return false
		}
	}
	return true
}

// Input is a model input in Go memory: a Tensor (float32) or a Float64Tensor.
type Input interface {
	value() (ort.Value, error)
}

// Tensor is a float32 tensor in Go memory.
type Tensor struct {
	Shape []int64
	Data  []float32
}

func (t Tensor) value() (ort.Value, error) { return ort.NewTensor(ort.NewShape(t.Shape...), t.Data) }

// Float64Tensor is a float64 tensor in Go memory, for inputs such as CodeFormer's
// fidelity weight.
type Float64Tensor struct {
	Shape []int64
	Data  []float64
}

func (t Float64Tensor) value() (ort.Value, error) {
	return ort.NewTensor(ort.NewShape(t.Shape...), t.Data)
}

// RunFloat32 runs a model whose inputs and outputs are all float32 tensors.
// inputs follow Inputs order; the outputs are returned in Outputs order, in
// memory owned by the caller. Input data is not copied and must not be modified
// while the call runs.
func (s *Session) RunFloat32(inputs ...Tensor) ([]Tensor, error) {
	in := make([]Input, len(inputs))
	for i, t := range inputs {
		in[i] = t
	}
	return s.RunInputs(in...)
}

// RunInputs is RunFloat32 for models with inputs of several element types; the
// outputs must be float32.
func (s *Session) RunInputs(inputs ...Input) ([]Tensor, error) {
	if len(inputs) != len(s.Inputs) {
		return nil, fmt.Errorf("inference: %s takes %d inputs, got %d", s.Path, len(s.Inputs), len(inputs))
	}
	in := make([]ort.Value, len(inputs))
	defer func() {
		for _, v := range in {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, t := range inputs {
		if t == nil {
			return nil, fmt.Errorf("inference: %s input %q: nil", s.Path, s.Inputs[i].Name)
		}
		v, err := t.value()
		if err != nil {
			return nil, fmt.Errorf("inference: %s input %q: %w", s.Path, s.Inputs[i].Name, err)
		}
		in[i] = v
	}
	out := make([]ort.Value, len(s.Outputs))
	defer func() {
		for _, v := range out {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	err := s.Run(in, out)
	runtime.KeepAlive(inputs)
	if err != nil {
		return nil, err
	}
	res := make([]Tensor, len(out))
	for i, v := range out {
		t, ok := v.(*ort.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("inference: %s output %q is not a float32 tensor", s.Path, s.Outputs[i].Name)
		}
		// GetData is a Go-owned copy of ORT's buffer, so it outlives Destroy.
		res[i] = Tensor{Shape: []int64(t.GetShape()), Data: t.GetData()}
	}
	return res, nil
}

func names(infos []ort.InputOutputInfo) []string {
	n := make([]string, len(infos))
	for i, in := range infos {
		n[i] = in.Name
	}
	return n
}

func find(infos []ort.InputOutputInfo, name string) (ort.InputOutputInfo, bool) {
	for _, in := range infos {
		if in.Name == name {
			return in, true
		}
	}
	return ort.InputOutputInfo{}, false
}

// modelInfo caches ORT's input/output description of a model file. ORT only offers
// it through a temporary session, which for a 554 MB swapper costs a second load;
// the cache (keyed by path, size and modification time) makes that happen once per
// process rather than once per device. The temporary session runs on the CPU with
// graph optimisations off, which is the cheapest way ORT can open the file.
func modelInfo(path string) (ins, outs []ort.InputOutputInfo, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("inference: model: %w", err)
	}
	key := infoKey{path, st.Size(), st.ModTime().UnixNano()}
	infoMu.Lock()
	defer infoMu.Unlock()
	if c, ok := infoCache[key]; ok {
		return c.ins, c.outs, nil
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, nil, fmt.Errorf("inference: session options: %w", err)
	}
	defer opts.Destroy()
	if err := opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
		return nil, nil, fmt.Errorf("inference: session options: %w", err)
	}
	ins, outs, err = ort.GetInputOutputInfoWithOptions(path, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("inference: read model signature of %s: %w", path, err)
	}
	infoCache[key] = modelIO{ins, outs}
	return ins, outs, nil
}

type infoKey struct {
	path  string
	size  int64
	mtime int64
}

type modelIO struct{ ins, outs []ort.InputOutputInfo }

var (
	infoMu    sync.Mutex
	infoCache = map[infoKey]modelIO{}
)
