package inference

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
	"golang.org/x/sync/semaphore"
)

// Device kinds.
const (
	KindCPU  = "cpu"
	KindCUDA = "cuda"
)

// Device is one place inference can run: the CPU or one CUDA GPU. Slots bounds how
// many inference calls may run on it at once; GPU memory and throughput, not Go,
// are the limit, so a worker takes a slot (through a Pool) for the duration of its
// inference work and releases it afterwards.
//
// A Device also owns the ORT sessions created on it: OpenSession creates a session
// once per model file and hands the same one to every caller, so a model's weights
// are loaded once per device however many jobs use it.
type Device struct {
	Name  string // "cpu:0", "cuda:1"
	Kind  string // KindCPU or KindCUDA
	ID    int    // CUDA device_id; the ordinal among CPU devices for "cpu"
	Slots int    // concurrent inference calls allowed

	// IntraOpThreads is ORT's intra-op thread count for sessions opened on this
	// device; 0 keeps ORT's default (one per physical core). On a CPU device with
	// several slots a value of cores/slots avoids oversubscribing the cores.
	// Set it before the first OpenSession.
	IntraOpThreads int

	// AllowSpinning lets ORT's intra-op threads busy-wait after a run (ORT's own
	// default). It is off by default: every session (detector, recognizer, swapper)
	// owns a thread pool, and spinning pools steal cores from each other and from
	// the Go pre/post-processing between runs. On a contended 2-core machine that
	// made a whole detect+swap frame up to 2x slower. Set before the first OpenSession.
	AllowSpinning bool

	sem    *semaphore.Weighted
	notify *broadcast // set by NewPool so that releases wake pool waiters

	mu       sync.Mutex
	sessions map[string]*Session
}

// NewDevice returns a device of the given kind ("cpu" or "cuda") and id.
func NewDevice(kind string, id, slots int) (*Device, error) {
	if slots < 1 {
		return nil, fmt.Errorf("inference: device %s:%d: slots must be at least 1, got %d", kind, id, slots)
	}
	if id < 0 {
		return nil, fmt.Errorf("inference: device %s:%d: negative id", kind, id)
	}
	switch kind {
	case KindCPU, KindCUDA:
	default:
		return nil, fmt.Errorf("inference: unknown device kind %q (want cpu or cuda)", kind)
	}
	return &Device{
		Name:     kind + ":" + strconv.Itoa(id),
		Kind:     kind,
		ID:       id,
		Slots:    slots,
		sem:      semaphore.NewWeighted(int64(slots)),
		sessions: map[string]*Session{},
	}, nil
}

// ParseDevices parses a comma-separated device list such as "cpu", "cpu,cpu"
// (two independent CPU devices, useful to exercise scheduling) or "cuda:0,cuda:1".
// A bare "cuda" means cuda:0. Each "cpu" entry gets the next CPU ordinal; an
// explicit "cpu:N" is accepted too. Duplicate CUDA ids are rejected because two
// Devices on one GPU would double its slot count.
func ParseDevices(spec string, slotsPerDevice int) ([]*Device, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("inference: empty device list")
	}
	var devs []*Device
	seen := map[string]bool{}
	nextCPU := 0
	for _, part := range strings.Split(spec, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if part == "" {
			return nil, fmt.Errorf("inference: empty entry in device list %q", spec)
		}
		kind, idStr, hasID := strings.Cut(part, ":")
		id := 0
		if hasID {
			n, err := strconv.Atoi(idStr)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("inference: bad device id in %q", part)
			}
			id = n
		} else if kind == KindCPU {
			id = nextCPU
		}
		if kind == KindCPU {
			nextCPU = id + 1
		}
		d, err := NewDevice(kind, id, slotsPerDevice)
		if err != nil {
			return nil, err
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("inference: device %s listed twice", d.Name)
		}
		seen[d.Name] = true
		devs = append(devs, d)
	}
	return devs, nil
}

// String returns the device name.
func (d *Device) String() string { return d.Name }

// TryAcquire takes a slot if one is free.
func (d *Device) TryAcquire() bool { return d.sem.TryAcquire(1) }

// Acquire waits for a slot on this device (or for ctx to end).
func (d *Device) Acquire(ctx context.Context) error { return d.sem.Acquire(ctx, 1) }

// Release returns a slot taken with TryAcquire or Acquire and wakes Pool waiters.
func (d *Device) Release() {
	d.sem.Release(1)
	if d.notify != nil {
		d.notify.signal()
	}
}

// sessionOptions builds the ORT session options for this device. CUDA devices get
// the CUDA execution provider with their device_id; if the ORT build has no CUDA
// support the error says so rather than silently running on the CPU.
func (d *Device) sessionOptions() (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("inference: %s: session options: %w", d.Name, err)
	}
	if !d.AllowSpinning {
		if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			opts.Destroy()
			return nil, fmt.Errorf("inference: %s: disable thread spinning: %w", d.Name, err)
		}
	}
	if d.IntraOpThreads > 0 {
		if err := opts.SetIntraOpNumThreads(d.IntraOpThreads); err != nil {
			opts.Destroy()
			return nil, fmt.Errorf("inference: %s: intra-op threads: %w", d.Name, err)
		}
	}
	if d.Kind == KindCUDA {
		cuda, err := ort.NewCUDAProviderOptions()
		if err != nil {
			opts.Destroy()
			return nil, fmt.Errorf("inference: %s: CUDA execution provider unavailable in this ONNX Runtime build: %w", d.Name, err)
		}
		defer cuda.Destroy()
		if err := cuda.Update(map[string]string{"device_id": strconv.Itoa(d.ID)}); err != nil {
			opts.Destroy()
			return nil, fmt.Errorf("inference: %s: configure CUDA execution provider: %w", d.Name, err)
		}
		if err := opts.AppendExecutionProviderCUDA(cuda); err != nil {
			opts.Destroy()
			return nil, fmt.Errorf("inference: %s: append CUDA execution provider: %w", d.Name, err)
		}
	}
	return opts, nil
}

// Close destroys every session still open on the device, whoever opened it.
// Call it at shutdown, before inference.Shutdown.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var first error
	for path, s := range d.sessions {
		if err := s.destroy(); err != nil && first == nil {
			first = err
		}
		delete(d.sessions, path)
	}
	return first
}
