// Package testenv starts real dependencies — redis-server, MinIO, an HTTP
// webhook receiver — on free loopback ports for integration tests.
//
// swapd's integration tests run against the real services rather than fakes
// because the behaviour that matters (multipart uploads, presigned URL
// signatures, Lua scripts in asynq) is exactly what fakes get wrong. The
// binaries are found through the environment that scripts/deps.sh prints:
//
//	eval "$(scripts/deps.sh)"
//
// A missing binary is a test failure, never a skip: a silently skipped
// integration test is indistinguishable from a passing one in CI.
//
// Per-test helpers (Redis, MinIO) take a testing.TB and register cleanup.
// Starting MinIO takes seconds, so packages with many tests should start one
// instance in TestMain with StartMinIO / StartRedis and share it.
package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// depsHint is appended to every "binary not found" error.
const depsHint = `run eval "$(scripts/deps.sh)" from the repository root to install it and export its path`

// startAttempts is how many fresh ports a service start tries: FreePort
// closes its listener before the service binds, so another process can grab
// the port in between.
const startAttempts = 5

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. The
// listener is closed before returning, so callers that bind it must cope
// with losing a race (the Start functions retry with a new port).
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("testenv: no free loopback port: %v", err))
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// findBinary resolves a service binary from, in order: the environment
// variable envVar, PATH, then the extra candidate paths.
func findBinary(name, envVar string, extra ...string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("testenv: %s=%q is not an executable file; %s", envVar, p, depsHint)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, p := range extra {
		if p != "" && isExecutable(p) {
			return p, nil
		}
	}
	looked := append([]string{"$" + envVar, "$PATH"}, extra...)
	return "", fmt.Errorf("testenv: %s not found (looked in %s); %s", name, strings.Join(looked, ", "), depsHint)
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// cacheBin is where scripts/deps.sh puts binaries it builds.
func cacheBin(name string) string {
	dir := os.Getenv("SWAPD_CACHE")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".cache", "swapd")
	}
	return filepath.Join(dir, "bin", name)
}

// proc is a started service process with its combined output captured.
type proc struct {
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

func startProc(bin string, args, env []string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	out := &tailBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop kills the process (and its process group on Linux) and waits for it.
// Test data is throwaway, so there is no point in a graceful shutdown.
func (p *proc) stop() {
	if !p.exited() {
		killProc(p.cmd)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// logs returns the tail of the process output for error messages.
func (p *proc) logs() string { return strings.TrimSpace(p.out.String()) }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// errExited marks a start attempt whose process died, typically because it
// lost the race for its port; the caller retries with another port.
var errExited = errors.New("process exited during startup")

// waitReady polls ready until it returns nil, the process exits, or timeout.
func waitReady(p *proc, timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("%w (%v)", errExited, p.err)
		}
		if last = ready(); last == nil {
			// Make sure the thing that answered is our process, not another
			// one that was on the port first.
			time.Sleep(50 * time.Millisecond)
			if p.exited() {
				return fmt.Errorf("%w (%v)", errExited, p.err)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
