// Package workercmd wires swapd's worker from configuration; cmd/worker only calls Run.
package workercmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/config"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/models"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/pkg/usage"
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
	swapper := s.String("SWAPD_SWAPPER_MODEL", defaultFile(models.RoleSwapper), "default swapper file (options.swapper unset): inswapper_128.onnx, or another swapper named by its file, e.g. hyperswap_1a_256.onnx")
	swappers := s.String("SWAPD_SWAPPER_MODELS", "", "further swappers offered, name=file pairs, with the embedding converters they need: hyperswap_1a_256=hyperswap_1a_256.onnx,ghost_1_256=ghost_1_256.onnx,crossface_ghost=crossface_ghost.onnx,…")
	enhancers := s.String("SWAPD_ENHANCER_MODELS", "", "enhancers offered, name=file pairs: gfpgan_1.4=gfpgan_1.4.onnx,codeformer=codeformer.onnx,…")
	occluders := s.String("SWAPD_OCCLUDER_MODELS", "", "occluders offered for occlusion masks, name=file pairs: xseg_1=xseg_1.onnx,xseg_2=xseg_2.onnx,xseg_3=xseg_3.onnx")
	parsers := s.String("SWAPD_PARSER_MODELS", "", "face parsers offered for region masks, name=file pairs: bisenet_resnet_34=bisenet_resnet_34.onnx,bisenet_resnet_18=bisenet_resnet_18.onnx")
	landmarkers := s.String("SWAPD_LANDMARKER_MODELS", "", "68-point landmarkers for area masks, name=file pairs: 2dfan4=2dfan4.onnx,fan_68_5=fan_68_5.onnx (2dfan4 is used when both are given)")
	devices := s.String("SWAPD_DEVICES", "cpu", "devices: cpu, or cuda:0,cuda:1 …")
	s.String("SWAPD_SLOTS_PER_DEVICE", "1", "jobs that may run inference on one device at once")
	s.String("SWAPD_REQUIRE_GPU", "false", "refuse to start when a GPU provider is missing, instead of falling back to CPU")
	s.String("SWAPD_GPU_MEM_LIMIT", "0", "CUDA memory limit per device, bytes (0: none)")
	cudnn := s.String("SWAPD_CUDNN_CONV_ALGO_SEARCH", "", "CUDA cudnn_conv_algo_search: EXHAUSTIVE, HEURISTIC or DEFAULT")
	trtCache := s.String("SWAPD_TENSORRT_CACHE_DIR", "./data/trt-cache", "TensorRT engine and timing cache directory")
	s.String("SWAPD_TENSORRT_FP16", "false", "let TensorRT build fp16 engines")
	s.String("SWAPD_CONCURRENCY", "0", "swap tasks run at once (0: all device slots + SWAPD_IO_CONCURRENCY)")
	s.String("SWAPD_IO_CONCURRENCY", "6", "swap tasks that may fetch inputs or upload outputs beyond those holding device slots, so slow sources do not idle the devices")
	s.String("SWAPD_WEBHOOK_CONCURRENCY", "16", "webhook deliveries at once (their own task slots, apart from swaps)")
	s.String("SWAPD_SHUTDOWN_TIMEOUT", "30s", "time in-flight jobs get to finish on shutdown")
	s.String("SWAPD_STORAGE_OUTAGE_BUDGET", tasks.DefaultOutageBudget.String(), "how long a job retries through an outage of storage, the network or a source server before failing UNAVAILABLE")
	secret := s.String("SWAPD_WEBHOOK_SECRET", "", "webhook signing secret, whsec_<base64>")
	s.String("SWAPD_FETCH_TIMEOUT", "10m", "timeout for fetching a URL input (videos may be large)")
	metricsAddr := s.String("SWAPD_METRICS_ADDR", "127.0.0.1:9091", "where the worker serves /metrics (empty: off)")
	metricsKeys := s.String("SWAPD_ADMIN_KEYS", "", "if set, /metrics on the worker requires one of these operator keys (tenant keys are refused)")
	s.String("SWAPD_POLL_INTERVAL", "50ms", "how long an idle worker sleeps before it looks for new swap tasks again, once SWAPD_WAKE_WAIT passed without a wake-up (asynq has no blocking dequeue; each look costs Redis commands and CPU)")
	s.String("SWAPD_WAKE_WAIT", "1s", "how long an idle worker waits for a wake-up token (a Redis list, pushed with each task due at once) after finding its queue empty, before it sleeps its poll interval and looks again (whole seconds, at most 10s; 0: no wake-ups, poll only)")
	s.String("SWAPD_SCHEDULED_POLL_INTERVAL", "", "how often scheduled and retried tasks are moved to their queue, and an idle worker looks for webhook tasks (default: a quarter of the webhook schedule's first delay, within SWAPD_POLL_INTERVAL and 1s)")
	s.String("SWAPD_WEBHOOK_DIRECT", "true", "make a webhook's first attempt from the worker that ended the job (the queued task, scheduled for the first retry, makes the rest)")
	s.String("SWAPD_REAPER_GRACE", "2m", "age of a job's last change before the reaper repairs it (a vanished task, a webhook never enqueued)")
	s.String("SWAPD_REAPER_INTERVAL", "1m", "how often the reaper sweeps")
	s.String("SWAPD_WORKER_MEMORY", fmt.Sprint(media.DefaultMemoryBudget), "bytes of decoded images the jobs may hold at once: a job waits for its share, one that could never fit fails IMAGE_TOO_LARGE (0: no limit)")
	if err := s.Parse(args); err != nil {
		return err
	}
	slots := s.Int("SWAPD_SLOTS_PER_DEVICE")
	devOpts := inference.DeviceOptions{
		RequireGPU: s.Bool("SWAPD_REQUIRE_GPU"), MemoryLimit: s.Int64("SWAPD_GPU_MEM_LIMIT"),
		CudnnConvAlgoSearch: *cudnn, TensorRTCacheDir: *trtCache, TensorRTFP16: s.Bool("SWAPD_TENSORRT_FP16"),
	}
	concurrency := s.Int("SWAPD_CONCURRENCY")
	ioConcurrency := s.Int("SWAPD_IO_CONCURRENCY")
	webhookConcurrency := s.Int("SWAPD_WEBHOOK_CONCURRENCY")
	shutdownTimeout := s.Duration("SWAPD_SHUTDOWN_TIMEOUT")
	outageBudget := s.Duration("SWAPD_STORAGE_OUTAGE_BUDGET")
	schedule := common.WebhookSchedule()
	limits, video := common.Limits()
	fetchTimeout := s.Duration("SWAPD_FETCH_TIMEOUT")
	urlExpiry := common.URLExpiry()
	poll := s.Duration("SWAPD_POLL_INTERVAL")
	wakeWait := s.Duration("SWAPD_WAKE_WAIT")
	if wakeWait < 0 || wakeWait > tasks.MaxWakeWait {
		return fmt.Errorf("SWAPD_WAKE_WAIT: %s is not between 0 and %s (asynq's task lease is counted from before the wait)", wakeWait, tasks.MaxWakeWait)
	}
	// Scheduled and retried tasks (webhook retries, swaps waiting out an outage) need
	// far less precision than new jobs: a quarter of the first webhook delay (1 s of
	// Svix's 5 s) makes an idle worker far cheaper than following poll (bench.sh).
	firstDelay := time.Second
	if len(schedule) > 0 {
		firstDelay = schedule[0]
	}
	scheduledPoll := min(time.Second, max(poll, firstDelay/4))
	if s.Get("SWAPD_SCHEDULED_POLL_INTERVAL") != "" {
		scheduledPoll = s.Duration("SWAPD_SCHEDULED_POLL_INTERVAL")
	}
	direct := s.Bool("SWAPD_WEBHOOK_DIRECT")
	webhookPoll := poll
	if direct {
		webhookPoll = scheduledPoll
	}
	jobTTL := s.Duration("SWAPD_JOB_TTL")
	memory := media.NewBudget(s.Int64("SWAPD_WORKER_MEMORY"))
	reaperGrace, reaperEvery := s.Duration("SWAPD_REAPER_GRACE"), s.Duration("SWAPD_REAPER_INTERVAL")
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
	devs, err := inference.ParseDevicesWithOptions(*devices, slots, devOpts)
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
		Enhancers:  map[string]string{},
	}
	if paths.Swappers, paths.Converters, err = parseSwappers(*swappers, *modelsDir); err != nil {
		return err
	}
	if paths.Occluders, err = parseModelList("SWAPD_OCCLUDER_MODELS", *occluders, *modelsDir); err != nil {
		return err
	}
	if paths.Parsers, err = parseModelList("SWAPD_PARSER_MODELS", *parsers, *modelsDir); err != nil {
		return err
	}
	if paths.Landmarkers, err = parseModelList("SWAPD_LANDMARKER_MODELS", *landmarkers, *modelsDir); err != nil {
		return err
	}
	for _, kv := range config.List(*enhancers) {
		name, file, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("SWAPD_ENHANCER_MODELS: %q is not name=file", kv)
		}
		paths.Enhancers[name] = modelPath(*modelsDir, file)
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
		concurrency = len(devs)*slots + max(ioConcurrency, 1)
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
	defer store.WatchHealth(2 * time.Second)()
	queue := asynq.NewClientFromRedisClient(rdb)
	jobStore := jobs.NewStore(rdb, jobTTL)
	// Records outlive their pending webhooks.
	jobStore.WebhookHorizon = jobs.WebhookHorizonFor(schedule)
	// SWAPD_REDIS_MIN_REPLICAS: writes a 202 or a webhook depends on are confirmed on replicas.
	if jobStore.Durability, err = common.Durability(); err != nil {
		return err
	}
	m := workerMetrics(rdb) // swapd's metrics and asynq's per-queue depth and age (metrics.go)
	for _, d := range devs {
		m.SlotsConfigured(d.Name, d.Slots)
	}
	ready, err := newReadiness(m)
	if err != nil {
		return err
	}
	if *metricsAddr != "" {
		stopMetrics, err := serveMetrics(*metricsAddr, m, config.List(*metricsKeys), ready, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	notifier := &tasks.Notifier{Client: queue, Redis: rdb, Jobs: jobStore, Store: store, URLExpiry: urlExpiry, MaxRetry: len(schedule)}
	client := netguard.NewClient(policy, fetchTimeout)

	memory.LimitHeap() // Go heap soft limit: the budget + media.HeapHeadroom, unless GOMEMLIMIT is set
	mux := asynq.NewServeMux()
	mux.Handle(tasks.TypeSwap, &tasks.SwapHandler{
		Jobs: jobStore, Store: store, Notifier: notifier, Limits: limits, Video: video, Log: log, Metrics: m,
		Fetcher: &tasks.Fetcher{Store: store, Client: client},
		Devices: &devicePool{pool: pool, pipelines: pipelines, metrics: m},
		Cache:   &tasks.EmbeddingCache{Redis: rdb, Model: modelID(paths.Recognizer)},

		OutageBudget: outageBudget,
		Usage:        &usage.Counter{Redis: rdb},
		Memory:       memory,
	})
	webhooks := &tasks.WebhookHandler{Jobs: jobStore, Notifier: notifier, Client: webhook.NewClient(policy), Secret: whSecret, Log: log, Metrics: m}
	mux.Handle(tasks.TypeWebhook, webhooks)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	if direct && len(schedule) > 0 {
		// The first attempt goes straight from the worker that ended the job; the
		// task, enqueued only when that attempt does not deliver, makes the others (tasks.DirectDelivery).
		notifier.Direct = tasks.NewDirectDelivery(webhooks, schedule, webhookConcurrency)
		defer notifier.Direct.Wait()
	}

	offers := workerOffers(pipelines[devs[0]])
	profile := jobs.ProfileID(profileItems(offers))
	// The asynq servers' dequeues wait for a wake-up token (pushed with each task due
	// at once) instead of polling (tasks.Wakeup), through a Redis client of their own
	// that carries the hook.
	wakeup := tasks.NewWakeup(rdb, wakeWait)
	queueRedis, ok := redisOpt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return fmt.Errorf("SWAPD_REDIS_URL: no Redis client for the queues")
	}
	defer queueRedis.Close()
	queueRedis.AddHook(wakeup.Hook())
	swapServer := func(queues map[string]int) *asynq.Server {
		return asynq.NewServerFromRedisClient(queueRedis, asynq.Config{
			Concurrency:              concurrency,
			Queues:                   queues,
			ShutdownTimeout:          shutdownTimeout,
			RetryDelayFunc:           tasks.RetryDelay(schedule),
			IsFailure:                tasks.IsFailure,
			DelayedTaskCheckInterval: scheduledPoll,
			TaskCheckInterval:        poll,
			Logger:                   asynqLogger{log},
		})
	}
	// The shared queues; the queue of jobs that need what this worker's
	// configuration offers (pkg/jobs/profiles.go) gets a server of its own once a
	// job is routed there (profilequeue.go).
	srv := swapServer(tasks.SwapQueues)
	// Webhooks have their own server and task slots: a receiver that hangs holds a
	// delivery slot, never a swap's. It starts at once; it needs no model.
	hooks := asynq.NewServerFromRedisClient(queueRedis, asynq.Config{
		Concurrency:              max(webhookConcurrency, 1),
		Queues:                   tasks.WebhookQueues,
		ShutdownTimeout:          webhook.DefaultTimeout + time.Second,
		RetryDelayFunc:           tasks.WebhookRetryDelay(schedule),
		IsFailure:                tasks.IsFailure,
		DelayedTaskCheckInterval: scheduledPoll,
		// With direct first attempts, this queue holds retries (forwarded every
		// scheduledPoll anyway) and events due at once (the API's cancel events,
		// batch.completed), which come with a wake-up: polling it as often as the
		// swap queue would add to the idle cost for nothing.
		TaskCheckInterval: webhookPoll,
		Logger:            asynqLogger{log},
	})
	if err := hooks.Start(mux); err != nil {
		return fmt.Errorf("webhook server: %w", err)
	}
	defer hooks.Shutdown()
	// Every model runs once on every device before the server takes its first job
	// (ONNX Runtime's first run of a model costs far more than later ones; on a GPU
	// it is where kernels are chosen and TensorRT engines built); /readyz and
	// swapd_worker_ready turn ready only after.
	if err := startWhenWarm(devs, warmShapes(paths.Detector), log, func() error { return srv.Start(mux) }, ready); err != nil {
		return err
	}
	stopProfile := func() {}
	if profile != "" {
		stopProfile = serveProfileQueue(ctx, inspector, tasks.ProfileQueue(profile),
			func() *asynq.Server { return swapServer(map[string]int{tasks.ProfileQueue(profile): 1}) }, mux, profileQueueCheck, log)
	}
	// Publish the models and masks this worker offers, and its profile, so the API
	// refuses at submit a job no worker can run and routes one that only some
	// workers can run to them (pkg/api/offers.go).
	go publishOffers(ctx, rdb, offers, profile, log)
	reaper := &tasks.Reaper{Jobs: jobStore, Inspector: inspector, Queue: queue, Redis: rdb, Notifier: notifier, Objects: store, Log: log, Grace: reaperGrace, Every: reaperEvery}
	go reaper.Run(ctx)
	for _, d := range devs {
		log.Info("device", "device", d.Name, "provider", d.Provider(), "slots", d.Slots)
	}
	fmt.Fprintf(stdout, "swapd worker running on %v (%d slots each, %d swap tasks and %d webhook deliveries at once, ONNX Runtime %s)\n", devs, slots, concurrency, webhookConcurrency, inference.Version())
	<-ctx.Done()
	wakeup.Close(context.WithoutCancel(ctx)) // held dequeues answer now, not after SWAPD_WAKE_WAIT
	stopProfile()
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

// modelID names a model file by its base name and size, so cached embeddings are
// never reused across different recognizers.
func modelID(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return filepath.Base(path)
	}
	return fmt.Sprintf("%s-%d", filepath.Base(path), fi.Size())
}

// parseSwappers reads SWAPD_SWAPPER_MODELS: name=file pairs, where crossface_*
// names are embedding converters and the others swapper models.
func parseSwappers(list, dir string) (swappers, converters map[string]string, err error) {
	swappers, converters = map[string]string{}, map[string]string{}
	for _, kv := range config.List(list) {
		name, file, ok := strings.Cut(kv, "=")
		if !ok || name == "" || file == "" {
			return nil, nil, fmt.Errorf("SWAPD_SWAPPER_MODELS: %q is not name=file", kv)
		}
		if strings.HasPrefix(name, "crossface_") {
			converters[name] = modelPath(dir, file)
		} else {
			swappers[name] = modelPath(dir, file)
		}
	}
	return swappers, converters, nil
}

// publishOffers republishes the worker's offers (kind → names: swapper models,
// enhancers, mask types, occluders, parsers) and its profile every
// jobs.OfferRefresh until ctx ends. A
// failed publication is logged and retried at the next tick; the offers outlive
// a few missed ones (jobs.OfferTTL).
func publishOffers(ctx context.Context, rdb redis.Cmdable, offers map[string][]string, profile string, log *slog.Logger) {
	t := time.NewTicker(jobs.OfferRefresh)
	defer t.Stop()
	items := profileItems(offers)
	for {
		now := time.Now()
		for kind, names := range offers {
			if err := jobs.PublishOffers(ctx, rdb, kind, names, now); err != nil && ctx.Err() == nil {
				log.Warn("publish offers", "kind", kind, "err", err)
			}
		}
		if err := jobs.PublishProfile(ctx, rdb, profile, items, now); err != nil && ctx.Err() == nil {
			log.Warn("publish profile", "profile", profile, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
