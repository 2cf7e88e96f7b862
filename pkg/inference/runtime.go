// Package inference owns ONNX Runtime for swapd: loading the shared library once,
// describing the devices a worker may run on (the CPU, or GPUs through the CUDA or
// TensorRT execution provider, each with a fixed number of concurrent inference
// slots), scheduling work onto those slots, and creating sessions once per device
// and model file so that every job reuses them.
//
// GPU providers are configured with DeviceOptions (memory limit, cuDNN algorithm
// search, TensorRT engine/timing caches and fp16). A GPU device whose provider
// cannot be used — an ORT build without it, missing CUDA/TensorRT libraries —
// either fails with an error naming the provider (RequireGPU) or logs a warning
// and runs on the CPU (TensorRT falls back to CUDA first); Device.Provider and
// Session.Provider say what a session actually runs on.
//
// ONNX Runtime keeps a single process-wide environment, so Init is idempotent and
// Shutdown must only be called when no session is in use any more.
package inference

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryEnv names the environment variable that points at libonnxruntime.
const LibraryEnv = "SWAPD_ORT_LIBRARY"

// LibraryPath returns $SWAPD_ORT_LIBRARY, or, when it is unset, where
// scripts/deps.sh puts the CPU build of ONNX Runtime
// ($SWAPD_CACHE or ~/.cache/swapd, then ort/npm-1.30.0/libonnxruntime.so.1).
func LibraryPath() string {
	if p := os.Getenv(LibraryEnv); p != "" {
		return p
	}
	cache := os.Getenv("SWAPD_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "swapd")
	}
	return filepath.Join(cache, "ort", "npm-1.30.0", "libonnxruntime.so.1")
}

var (
	envMu   sync.Mutex
	envPath string // library the environment was initialised with; "" when not initialised
)

// ErrNotInitialized is returned when a session is requested before Init succeeded.
var ErrNotInitialized = errors.New("inference: ONNX Runtime not initialised (call inference.Init)")

// Init loads the ONNX Runtime shared library at libPath and creates the process-wide
// ORT environment. It is safe to call from several goroutines and several times:
// a call with the path already loaded is a no-op, while a call with a different path
// is an error because a process can only hold one ORT library. A failed Init leaves
// nothing behind, so it may be retried (for example once the library is installed).
func Init(libPath string) error {
	envMu.Lock()
	defer envMu.Unlock()
	if envPath != "" {
		if envPath == libPath {
			return nil
		}
		return fmt.Errorf("inference: ONNX Runtime already initialised from %q, cannot switch to %q", envPath, libPath)
	}
	if libPath == "" {
		return errors.New("inference: empty ONNX Runtime library path")
	}
	// A bare file name is left to the dynamic loader's search path; a path must exist,
	// which gives a clearer error than dlopen's.
	if strings.ContainsRune(libPath, os.PathSeparator) {
		if _, err := os.Stat(libPath); err != nil {
			return fmt.Errorf("inference: ONNX Runtime library: %w", err)
		}
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("inference: initialise ONNX Runtime from %q: %w", libPath, err)
	}
	envPath = libPath
	return nil
}

// Initialized reports whether Init has succeeded (and Shutdown not been called since).
func Initialized() bool {
	envMu.Lock()
	defer envMu.Unlock()
	return envPath != ""
}

// Shutdown destroys the ORT environment. Every session must have been closed first.
// After Shutdown, Init may be called again.
func Shutdown() error {
	envMu.Lock()
	defer envMu.Unlock()
	if envPath == "" {
		return nil
	}
	envPath = ""
	if err := ort.DestroyEnvironment(); err != nil {
		return fmt.Errorf("inference: destroy ONNX Runtime environment: %w", err)
	}
	return nil
}

// Version returns the ONNX Runtime library version, or "" before Init.
func Version() string {
	if !Initialized() {
		return ""
	}
	return ort.GetVersion()
}
