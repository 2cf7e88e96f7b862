package inference

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
	"golang.org/x/sync/semaphore"
)

// Device kinds: the execution provider a device's sessions are created with.
const (
	KindCPU      = "cpu"
	KindCUDA     = "cuda"
	KindTensorRT = "tensorrt" // TensorRT, with CUDA for the nodes TensorRT does not take
)

// cuDNN convolution algorithm search modes (the CUDA provider's
// cudnn_conv_algo_search). ORT's default is EXHAUSTIVE; FaceFusion picks DEFAULT
// on GTX 16xx cards, where the exhaustive search is slow and unstable.
const (
	CudnnExhaustive = "EXHAUSTIVE"
	CudnnHeuristic  = "HEURISTIC"
	CudnnDefault    = "DEFAULT"
)

// DeviceOptions configure the GPU execution providers of the devices
// ParseDevicesWithOptions returns. The zero value keeps ORT's defaults and falls
// back to the CPU when a GPU provider cannot be used.
type DeviceOptions struct {
	// MemoryLimit caps the CUDA provider's memory arena, in bytes (gpu_mem_limit).
	// 0 leaves ORT's default (no limit).
	MemoryLimit int64
	// CudnnConvAlgoSearch is EXHAUSTIVE, HEURISTIC or DEFAULT (case-insensitive);
	// "" leaves ORT's default (EXHAUSTIVE).
	CudnnConvAlgoSearch string
	// TensorRTCacheDir, when set, enables TensorRT's engine and timing caches in
	// TensorRTCacheDir/ort-<ORT version> (created if missing), so engines are
	// built once per model and GPU instead of on every start (minutes for a large
	// model). The version subdirectory keeps caches of different ORT/TensorRT
	// builds apart, as FaceFusion does with .caches/<version>.
	TensorRTCacheDir string
	// TensorRTFP16 lets TensorRT run layers in half precision (trt_fp16_enable).
	TensorRTFP16 bool
	// RequireGPU makes a GPU device whose provider cannot be used (an ORT build
	// without CUDA/TensorRT, missing CUDA libraries, no GPU) fail with an error
	// naming the provider, instead of logging a warning and running on the CPU.
	RequireGPU bool
}

// Validate checks the option values.
func (o DeviceOptions) Validate() error {
	if o.MemoryLimit < 0 {
		return fmt.Errorf("inference: negative GPU memory limit %d", o.MemoryLimit)
	}
	switch strings.ToUpper(o.CudnnConvAlgoSearch) {
	case "", CudnnExhaustive, CudnnHeuristic, CudnnDefault:
	default:
		return fmt.Errorf("inference: cudnn_conv_algo_search %q: want %s, %s or %s",
			o.CudnnConvAlgoSearch, CudnnExhaustive, CudnnHeuristic, CudnnDefault)
	}
	return nil
}

// Device is one place inference can run: the CPU or one GPU (through the CUDA or
// the TensorRT execution provider). Slots bounds how many inference calls may run
// on it at once; GPU memory and throughput, not Go, are the limit, so a worker
// takes a slot (through a Pool) for the duration of its inference work and
// releases it afterwards.
//
// A Device also owns the ORT sessions created on it: OpenSession creates a session
// once per model file and hands the same one to every caller, so a model's weights
// are loaded once per device however many jobs use it.
type Device struct {
	Name  string // "cpu:0", "cuda:1", "tensorrt:0"
	Kind  string // KindCPU, KindCUDA or KindTensorRT
	ID    int    // GPU device_id; the ordinal among CPU devices for "cpu"
	Slots int    // concurrent inference calls allowed

	// Options configure the GPU providers and the CPU fallback. Devices from
	// NewDevice and ParseDevices require their GPU provider (RequireGPU), as
	// before DeviceOptions existed. Set before the first OpenSession.
	Options DeviceOptions

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
	provider string // provider of the last session opened; guarded by mu
	warned   bool   // fallback warning logged; guarded by mu
}

// NewDevice returns a device of the given kind ("cpu", "cuda" or "tensorrt") and
// id. GPU devices require their provider (Options.RequireGPU); change Options
// before the first OpenSession to allow the CPU fallback.
func NewDevice(kind string, id, slots int) (*Device, error) {
	if slots < 1 {
		return nil, fmt.Errorf("inference: device %s:%d: slots must be at least 1, got %d", kind, id, slots)
	}
	if id < 0 {
		return nil, fmt.Errorf("inference: device %s:%d: negative id", kind, id)
	}
	switch kind {
	case KindCPU, KindCUDA, KindTensorRT:
	default:
		return nil, fmt.Errorf("inference: unknown device kind %q (want cpu, cuda or tensorrt)", kind)
	}
	return &Device{
		Name:     kind + ":" + strconv.Itoa(id),
		Kind:     kind,
		ID:       id,
		Slots:    slots,
		Options:  DeviceOptions{RequireGPU: true},
		sem:      semaphore.NewWeighted(int64(slots)),
		sessions: map[string]*Session{},
	}, nil
}

// ParseDevices parses a comma-separated device list such as "cpu", "cpu,cpu"
// (two independent CPU devices, useful to exercise scheduling) or "cuda:0,cuda:1".
// GPU devices require their provider: opening a session fails when it is missing.
// It is ParseDevicesWithOptions with DeviceOptions{RequireGPU: true}.
func ParseDevices(spec string, slotsPerDevice int) ([]*Device, error) {
	return ParseDevicesWithOptions(spec, slotsPerDevice, DeviceOptions{RequireGPU: true})
}

// ParseDevicesWithOptions parses a comma-separated device list: "cpu", "cpu:N",
// "cuda", "cuda:N", "tensorrt" or "tensorrt:N" entries. A bare GPU kind means id 0;
// each bare "cpu" gets the next CPU ordinal. One GPU may appear only once (as cuda
// or tensorrt), because two Devices on one GPU would double its slot count.
//
// opts apply to every GPU device. Unless opts.RequireGPU is set, a GPU device
// whose provider cannot be used logs a warning (log/slog) and runs its sessions on
// the CPU; a TensorRT device first falls back to CUDA.
func ParseDevicesWithOptions(spec string, slotsPerDevice int, opts DeviceOptions) ([]*Device, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.CudnnConvAlgoSearch = strings.ToUpper(opts.CudnnConvAlgoSearch)
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("inference: empty device list")
	}
	var devs []*Device
	seen := map[string]string{}
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
		d.Options = opts
		key := d.Name
		if kind != KindCPU {
			key = "gpu:" + strconv.Itoa(id)
		}
		if prev, ok := seen[key]; ok {
			if prev == d.Name {
				return nil, fmt.Errorf("inference: device %s listed twice", d.Name)
			}
			return nil, fmt.Errorf("inference: devices %s and %s are the same GPU", prev, d.Name)
		}
		seen[key] = d.Name
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

// Provider returns the execution provider the device's most recently opened
// session runs on: the device's Kind, KindCUDA for a TensorRT device that fell
// back to CUDA, or KindCPU after a fallback. It is "" before the first session.
func (d *Device) Provider() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.provider
}

// baseOptions returns session options with the device's threading settings.
func (d *Device) baseOptions() (*ort.SessionOptions, error) {
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
	return opts, nil
}

// sessionOptions builds the ORT session options for this device and says which
// provider they select. A GPU provider that cannot be appended (an ORT build
// without it, missing CUDA/TensorRT libraries) is an error naming the provider
// when Options.RequireGPU is set; otherwise it is logged once per device and the
// next provider down is used: TensorRT → CUDA → CPU.
func (d *Device) sessionOptions() (*ort.SessionOptions, string, error) {
	if err := d.Options.Validate(); err != nil {
		return nil, "", err
	}
	opts, err := d.baseOptions()
	if err != nil {
		return nil, "", err
	}
	kind := d.Kind
	if kind == KindTensorRT {
		err := d.appendTensorRT(opts)
		if err == nil {
			// Nodes TensorRT rejects run on CUDA rather than the CPU (ORT's
			// recommended TensorRT setup). Without CUDA they still run, on the CPU.
			if cerr := d.appendCUDA(opts); cerr != nil {
				if d.Options.RequireGPU {
					opts.Destroy()
					return nil, "", fmt.Errorf("inference: %s: CUDA execution provider (for the nodes TensorRT does not take) unavailable: %w", d.Name, cerr)
				}
				d.warnFallback("TensorRT without CUDA; nodes TensorRT does not take run on the CPU", cerr)
			}
			return opts, KindTensorRT, nil
		}
		opts.Destroy()
		if d.Options.RequireGPU {
			return nil, "", fmt.Errorf("inference: %s: TensorRT execution provider unavailable in this ONNX Runtime build or on this host: %w", d.Name, err)
		}
		d.warnFallback("TensorRT unavailable, trying CUDA", err)
		if opts, err = d.baseOptions(); err != nil {
			return nil, "", err
		}
		kind = KindCUDA
	}
	if kind == KindCUDA {
		err := d.appendCUDA(opts)
		if err == nil {
			return opts, KindCUDA, nil
		}
		opts.Destroy()
		if d.Options.RequireGPU {
			return nil, "", fmt.Errorf("inference: %s: CUDA execution provider unavailable in this ONNX Runtime build or on this host: %w", d.Name, err)
		}
		d.warnFallback("CUDA unavailable, running on the CPU", err)
		if opts, err = d.baseOptions(); err != nil {
			return nil, "", err
		}
	}
	return opts, KindCPU, nil
}

// cudaOptions is the CUDA provider configuration for this device.
func (d *Device) cudaOptions() map[string]string {
	m := map[string]string{"device_id": strconv.Itoa(d.ID)}
	if d.Options.MemoryLimit > 0 {
		m["gpu_mem_limit"] = strconv.FormatInt(d.Options.MemoryLimit, 10)
	}
	if s := strings.ToUpper(d.Options.CudnnConvAlgoSearch); s != "" {
		m["cudnn_conv_algo_search"] = s
	}
	return m
}

// tensorRTOptions is the TensorRT provider configuration for this device.
func (d *Device) tensorRTOptions() (map[string]string, error) {
	m := map[string]string{"device_id": strconv.Itoa(d.ID)}
	if d.Options.TensorRTFP16 {
		m["trt_fp16_enable"] = "1"
	}
	if dir := d.Options.TensorRTCacheDir; dir != "" {
		dir = filepath.Join(dir, "ort-"+versionTag())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("TensorRT cache directory: %w", err)
		}
		m["trt_engine_cache_enable"] = "1"
		m["trt_engine_cache_path"] = dir
		m["trt_timing_cache_enable"] = "1"
		m["trt_timing_cache_path"] = dir
	}
	return m, nil
}

func (d *Device) appendCUDA(opts *ort.SessionOptions) error {
	cuda, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer cuda.Destroy()
	if err := cuda.Update(d.cudaOptions()); err != nil {
		return err
	}
	return opts.AppendExecutionProviderCUDA(cuda)
}

func (d *Device) appendTensorRT(opts *ort.SessionOptions) error {
	m, err := d.tensorRTOptions()
	if err != nil {
		return err
	}
	trt, err := ort.NewTensorRTProviderOptions()
	if err != nil {
		return err
	}
	defer trt.Destroy()
	if err := trt.Update(m); err != nil {
		return err
	}
	return opts.AppendExecutionProviderTensorRT(trt)
}

// warnFallback logs a provider fallback once per device. Called with d.mu held.
func (d *Device) warnFallback(what string, err error) {
	if d.warned {
		return
	}
	d.warned = true
	slog.Warn("inference: GPU execution provider fallback: "+what,
		"device", d.Name, "error", err.Error(),
		"hint", "install the GPU build of ONNX Runtime and its CUDA/cuDNN/TensorRT libraries, or set RequireGPU to make this an error")
}

// versionTag is the ORT version for cache paths ("unknown" before Init).
func versionTag() string {
	v := Version()
	if v == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == ' ' {
			return '_'
		}
		return r
	}, v)
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
