// Package workercmd wires swapd's worker from configuration; cmd/worker only calls Run.
package workercmd

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/hibiken/asynq"

	"github.com/swapd/swapd/internal/config"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/models"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/pkg/webhook"
	"github.com/swapd/swapd/tasks"
)

// Run runs an asynq server on this host's devices until ctx ends.
//
// asynq settings, chosen for GPU jobs rather than left at asynq's defaults:
//   - Concurrency: every device slot plus two, so fetching and uploading for the next
//     jobs overlaps inference, while slots (not goroutines) bound the GPU work.
//   - ShutdownTimeout 30 s (asynq's default is 8 s): long enough for an image job in
//     flight to finish; a job still running after it is requeued by asynq and runs again
//     from the start elsewhere, which is safe because every step is idempotent.
//   - Per-task Timeout and MaxRetry are set where tasks are made (package tasks).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	s := config.New("worker", getenv, stdout)
	common := config.DeclareCommon(s)
	ortLib := s.String("SWAPD_ORT_LIBRARY", inference.LibraryPath(), "path to libonnxruntime.so (CPU or GPU build)")
	modelsDir := s.String("SWAPD_MODELS_DIR", "./models", "directory holding the model files")
	detector := s.String("SWAPD_DETECTOR_MODEL", defaultFile(models.RoleDetector), "SCRFD detector file in the models directory (or an absolute path)")
	recognizer := s.String("SWAPD_RECOGNIZER_MODEL", defaultFile(models.RoleRecognizer), "ArcFace recognizer file")
	swapper := s.String("SWAPD_SWAPPER_MODEL", defaultFile(models.RoleSwapper), "inswapper_128 swapper file")
	devices := s.String("SWAPD_DEVICES", "cpu", "devices: cpu, or cuda:0,cuda:1 …")
	s.String("SWAPD_SLOTS_PER_DEVICE", "1", "jobs that may run inference on one device at once")
	s.String("SWAPD_CONCURRENCY", "0", "asynq concurrency (0: all slots + 2)")
	s.String("SWAPD_SHUTDOWN_TIMEOUT", "30s", "time in-flight jobs get to finish on shutdown")
	secret := s.String("SWAPD_WEBHOOK_SECRET", "", "webhook signing secret, whsec_<base64>")
	s.String("SWAPD_WEBHOOK_SCHEDULE", "", "webhook retry delays (default Svix: 5s,5m,30m,2h,5h,10h,10h)")
	s.String("SWAPD_MAX_INPUT_BYTES", fmt.Sprint(media.DefaultLimits.MaxBytes), "largest accepted input file, bytes")
	s.String("SWAPD_MAX_PIXELS", fmt.Sprint(media.DefaultLimits.MaxPixels), "largest accepted image, width × height")
	s.String("SWAPD_FETCH_TIMEOUT", "60s", "timeout for fetching a URL input")
	s.String("SWAPD_URL_EXPIRY", "1h", "lifetime of presigned output URLs in webhook bodies")
	s.String("SWAPD_POLL_INTERVAL", "250ms", "how often an idle worker looks for new, scheduled and retried tasks")
	if err := s.Parse(args); err != nil {
		return err
	}
	slots := s.Int("SWAPD_SLOTS_PER_DEVICE")
	concurrency := s.Int("SWAPD_CONCURRENCY")
	shutdownTimeout := s.Duration("SWAPD_SHUTDOWN_TIMEOUT")
	schedule := config.WebhookSchedule(s.Durations("SWAPD_WEBHOOK_SCHEDULE"))
	limits := media.Limits{MaxBytes: s.Int64("SWAPD_MAX_INPUT_BYTES"), MaxPixels: s.Int64("SWAPD_MAX_PIXELS")}
	fetchTimeout := s.Duration("SWAPD_FETCH_TIMEOUT")
	urlExpiry := s.Duration("SWAPD_URL_EXPIRY")
	poll := s.Duration("SWAPD_POLL_INTERVAL")
	jobTTL := s.Duration("SWAPD_JOB_TTL")
	if err := s.Err(); err != nil {
		return err
	}
	log := common.Logger(stdout)
	policy, err := netguard.ParsePolicy(*common.AllowPrivate)
	if err != nil {
		return fmt.Errorf("SWAPD_ALLOW_PRIVATE: %w", err)
	}
	whSecret, err := webhookSecret(*secret, stdout)
	if err != nil {
		return err
	}

	if err := inference.Init(*ortLib); err != nil {
		return fmt.Errorf("ONNX Runtime (SWAPD_ORT_LIBRARY=%s): %w", *ortLib, err)
	}
	devs, err := inference.ParseDevices(*devices, slots)
	if err != nil {
		return fmt.Errorf("SWAPD_DEVICES: %w", err)
	}
	pool, err := inference.NewPool(devs)
	if err != nil {
		return err
	}
	paths := faceswap.ModelPaths{
		Detector:   modelPath(*modelsDir, *detector),
		Recognizer: modelPath(*modelsDir, *recognizer),
		Swapper:    modelPath(*modelsDir, *swapper),
	}
	pipelines := map[*inference.Device]*faceswap.Pipeline{}
	for _, d := range devs {
		p, err := faceswap.New(paths, d)
		if err != nil {
			return fmt.Errorf("load models on %s: %w (download them with `swapctl models download`)", d, err)
		}
		defer p.Close()
		pipelines[d] = p
	}
	if concurrency <= 0 {
		concurrency = len(devs)*slots + 2
	}

	redisOpt, rdb, err := common.Redis()
	if err != nil {
		return fmt.Errorf("SWAPD_REDIS_URL: %w", err)
	}
	defer rdb.Close()
	store, err := config.ConnectStorage(ctx, common.Storage())
	if err != nil {
		return err
	}
	queue := asynq.NewClientFromRedisClient(rdb)
	jobStore := jobs.NewStore(rdb, jobTTL)
	notifier := &tasks.Notifier{Client: queue, Jobs: jobStore, Store: store, URLExpiry: urlExpiry, MaxRetry: len(schedule)}
	client := netguard.NewClient(policy, fetchTimeout)

	mux := asynq.NewServeMux()
	mux.Handle(tasks.TypeSwap, &tasks.SwapHandler{
		Jobs: jobStore, Store: store, Notifier: notifier, Limits: limits, Log: log,
		Fetcher: &tasks.Fetcher{Store: store, Client: client},
		Devices: &devicePool{pool: pool, pipelines: pipelines},
	})
	mux.Handle(tasks.TypeWebhook, &tasks.WebhookHandler{Jobs: jobStore, Client: netguard.NewClient(policy, webhook.DefaultTimeout), Secret: whSecret, Log: log})

	srv := asynq.NewServer(redisOpt, asynq.Config{
		Concurrency:              concurrency,
		Queues:                   tasks.Queues,
		ShutdownTimeout:          shutdownTimeout,
		RetryDelayFunc:           tasks.RetryDelay(schedule),
		DelayedTaskCheckInterval: poll,
		TaskCheckInterval:        poll,
		Logger:                   asynqLogger{log},
	})
	if err := srv.Start(mux); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "swapd worker running on %v (%d slots each, concurrency %d, ONNX Runtime %s)\n", devs, slots, concurrency, inference.Version())
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

// defaultFile is the catalogue's default model file for a role, so the worker looks for
// exactly what `swapctl models download` fetches.
func defaultFile(r models.Role) string {
	for _, e := range models.Defaults() {
		if e.Role == r {
			return e.File
		}
	}
	return ""
}

func modelPath(dir, file string) string {
	if filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(dir, file)
}

func webhookSecret(v string, stdout io.Writer) (webhook.Secret, error) {
	if v == "" {
		sec := webhook.GenerateSecret()
		fmt.Fprintf(stdout, "No SWAPD_WEBHOOK_SECRET set; webhooks are signed with a generated secret for this run:\n  SWAPD_WEBHOOK_SECRET=%s\n", sec)
		return sec, nil
	}
	sec, err := webhook.ParseSecret(v)
	if err != nil {
		return nil, fmt.Errorf("SWAPD_WEBHOOK_SECRET: %w", err)
	}
	return sec, nil
}
