// Package stack starts a complete swapd for tests: a real redis-server and MinIO on
// free loopback ports, and the API and a worker in-process (the same apicmd.Run and
// workercmd.Run the binaries call) with the real ONNX Runtime, the small real detector
// and recognizer from the shared test data, and a generated swapper with
// inswapper_128's signature.
package stack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/swapd/swapd/internal/apicmd"
	"github.com/swapd/swapd/internal/fixtures"
	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/internal/workercmd"
	"github.com/swapd/swapd/pkg/webhook"
)

// Stack is a running swapd.
type Stack struct {
	URL    string            // API base URL
	Key    string            // a tenant API key it accepts
	Admin  string            // an operator key: the dashboard and /metrics
	Secret webhook.Secret    // webhook signing secret
	Env    map[string]string // the settings both processes run with
	MinIO  *testenv.MinIOServer
	stop   []func()
	logs   io.Writer
}

// Testdata is the shared fixtures directory (see package fixtures).
func Testdata() string { return fixtures.Dir() }

// NoWorker, set to any value in Start's overrides, starts the stack without a worker;
// StartWorker adds them.
const NoWorker = "STACK_NO_WORKER"

// StartWorker starts another worker on the stack, with extra settings over the
// stack's. stop shuts it down as SIGTERM would (waiting its shutdown timeout).
func (s *Stack) StartWorker(extra map[string]string) (stop func()) {
	env := map[string]string{}
	for k, v := range s.Env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	if _, ok := extra["SWAPD_METRICS_ADDR"]; !ok && len(extra) > 0 {
		// A second worker must not fight for the port (and an empty setting means the
		// default, 127.0.0.1:9091, which anything on the machine may hold).
		env["SWAPD_METRICS_ADDR"] = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := workercmd.Run(ctx, nil, func(k string) string { return env[k] }, s.logs)
		if err != nil {
			fmt.Fprintf(s.logs, "stack: worker stopped: %v\n", err)
		}
		done <- err
	}()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
		}
	}
}

// Start starts a stack; settings in overrides replace the defaults. Logs go to w
// (io.Discard to drop them).
func Start(overrides map[string]string, w io.Writer) (*Stack, error) {
	s := &Stack{Key: "sk_test_stack", Admin: "sk_admin_stack", Secret: webhook.GenerateSecret()}
	fail := func(err error) (*Stack, error) { s.Stop(); return nil, err }
	redisURL := overrides["SWAPD_REDIS_URL"] // given (e.g. a Sentinel set's): no redis-server of its own
	if redisURL == "" {
		redisAddr, stopRedis, err := testenv.StartRedis()
		if err != nil {
			return fail(err)
		}
		s.stop = append(s.stop, stopRedis)
		redisURL = "redis://" + redisAddr + "/0"
	}
	minioServer, err := testenv.StartMinIOServer()
	if err != nil {
		return fail(err)
	}
	s.MinIO = minioServer
	s.stop = append(s.stop, minioServer.Stop)
	minio := minioServer.Info
	models, err := os.MkdirTemp("", "swapd-models-")
	if err != nil {
		return fail(err)
	}
	s.stop = append(s.stop, func() { os.RemoveAll(models) })
	if err := onnxgen.WriteSwapper(filepath.Join(models, "inswapper_128.onnx"), 1); err != nil {
		return fail(err)
	}
	for _, name := range []string{onnxgen.EnhancerGFPGAN14, onnxgen.EnhancerCodeFormer} {
		if err := onnxgen.WriteEnhancer(filepath.Join(models, name+".onnx"), name); err != nil {
			return fail(err)
		}
	}
	if err := onnxgen.WriteMaskModel(filepath.Join(models, "xseg_1.onnx"), onnxgen.OccluderXSeg1); err != nil {
		return fail(err)
	}
	td := Testdata()
	s.Env = map[string]string{
		"SWAPD_ADDR":             fmt.Sprintf("127.0.0.1:%d", testenv.FreePort()),
		"SWAPD_API_KEYS":         s.Key,
		"SWAPD_ADMIN_KEYS":       s.Admin,
		"SWAPD_RATE_LIMIT":       "0", // tests poll hard; limits are tested on their own
		"SWAPD_MAX_IN_FLIGHT":    "0",
		"SWAPD_REDIS_URL":        redisURL,
		"SWAPD_S3_ENDPOINT":      minio.Endpoint,
		"SWAPD_S3_ACCESS_KEY":    minio.AccessKey,
		"SWAPD_S3_SECRET_KEY":    minio.SecretKey,
		"SWAPD_S3_BUCKET":        "swapd-test",
		"SWAPD_ALLOW_PRIVATE":    "localhost", // receivers and test servers by name; never 127.0.0.1
		"SWAPD_MODELS_DIR":       models,
		"SWAPD_DETECTOR_MODEL":   filepath.Join(td, "models", "scrfd_500m.onnx"),
		"SWAPD_RECOGNIZER_MODEL": filepath.Join(td, "models", "arcface_compat_512.onnx"),
		"SWAPD_SWAPPER_MODEL":    "inswapper_128.onnx",
		"SWAPD_ENHANCER_MODELS":  "gfpgan_1.4=gfpgan_1.4.onnx,codeformer=codeformer.onnx",
		"SWAPD_OCCLUDER_MODELS":  "xseg_1=xseg_1.onnx", // occlusion masks; no parser or landmarker, so region and area are not offered
		"SWAPD_DEVICES":          "cpu",
		"SWAPD_WEBHOOK_SECRET":   s.Secret.String(),
		"SWAPD_WEBHOOK_SCHEDULE": "300ms,300ms,300ms",
		"SWAPD_POLL_INTERVAL":    "100ms",
		"SWAPD_METRICS_ADDR":     fmt.Sprintf("127.0.0.1:%d", testenv.FreePort()),
		"SWAPD_LOG_LEVEL":        "warn",
		"SWAPD_ORT_LIBRARY":      os.Getenv("SWAPD_ORT_LIBRARY"),
	}
	for k, v := range overrides {
		s.Env[k] = v
	}
	s.URL = "http://" + s.Env["SWAPD_ADDR"]
	s.logs = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	getenv := func(k string) string { return s.Env[k] }
	go func() { done <- apicmd.Run(ctx, nil, getenv, w) }()
	s.stop = append(s.stop, func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
		}
	})
	if err := waitReady(s.URL, done); err != nil {
		return fail(fmt.Errorf("swapd did not start: %w", err))
	}
	if overrides[NoWorker] == "" {
		stop := s.StartWorker(nil)
		s.stop = append(s.stop, stop)
	}
	return s, nil
}

// Stop stops everything Start started, in reverse order.
func (s *Stack) Stop() {
	for i := len(s.stop) - 1; i >= 0; i-- {
		s.stop[i]()
	}
	s.stop = nil
}

func waitReady(base string, done <-chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("exited: %v", err)
		default:
		}
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no ready API at %s after 60s", base)
}
