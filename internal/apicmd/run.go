// Package apicmd wires swapd's API from configuration. cmd/api only calls Run, and the
// end-to-end tests call the same function in-process. It never imports the inference
// packages, so the API binary carries no ONNX Runtime code.
package apicmd

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/swapd/swapd/internal/config"
	"github.com/swapd/swapd/pkg/api"
	"github.com/swapd/swapd/pkg/apikeys"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/metrics"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/tasks"
)

// Run runs the HTTP API until ctx ends. It writes its address, and a generated API
// key when none is configured, to stdout.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	s := config.New("api", getenv, stdout)
	common := config.DeclareCommon(s)
	addr := s.String("SWAPD_ADDR", "127.0.0.1:8080", "listen address")
	keys := s.String("SWAPD_API_KEYS", "", "comma-separated tenant API keys (one is generated for a local run if empty)")
	adminKeys := s.String("SWAPD_ADMIN_KEYS", "", "comma-separated operator keys: the only keys that open /monitoring/ and /metrics (one is generated if empty)")
	keysFile := s.String("SWAPD_KEYS_FILE", "", "keys with names, roles and limits (YAML or JSON); replaces SWAPD_API_KEYS and SWAPD_ADMIN_KEYS")
	s.String("SWAPD_RATE_LIMIT", "600", "requests a minute per tenant key from SWAPD_API_KEYS (0: no limit)")
	s.String("SWAPD_MAX_IN_FLIGHT", "1000", "jobs queued or running at once per tenant key from SWAPD_API_KEYS (0: no limit)")
	s.String("SWAPD_FAIR_SHARE", "8", "jobs a key may have queued or running before its next ones wait behind other keys' jobs (0: submission order for all)")
	jwksURL := s.String("SWAPD_JWKS_URL", "", "accept bearer JWTs signed by a key of this JWKS (optional; needs SWAPD_JWT_ISSUER and SWAPD_JWT_AUDIENCE)")
	jwtIssuer := s.String("SWAPD_JWT_ISSUER", "", "the iss a JWT must carry")
	jwtAudience := s.String("SWAPD_JWT_AUDIENCE", "", "the aud a JWT must carry")
	jwtClaim := s.String("SWAPD_JWT_TENANT_CLAIM", "sub", "the JWT claim naming the tenant (its jobs are shared by all its tokens)")
	prom := s.String("SWAPD_PROMETHEUS_URL", "", "Prometheus server the dashboard queries for its charts (optional)")
	s.String("SWAPD_MAX_SOURCES", "8", "most source images per job")
	s.String("SWAPD_MAX_BATCH", "1000", "most targets in one batch (POST /v1/batches)")
	s.String("SWAPD_RETENTION_MIN", "1h", "the shortest retention a key (or a RunPod policy ttl) may ask for")
	s.String("SWAPD_RETENTION_MAX", "720h", "the longest retention a key (or a RunPod policy ttl) may ask for")
	runpodEndpoints := s.String("SWAPD_RUNPOD_ENDPOINTS", api.DefaultRunPodEndpoint, "comma-separated endpoint ids of the RunPod-compatible API at /v2/{id}/")
	if err := s.Parse(args); err != nil {
		return err
	}
	limits, videoLimits := common.Limits()
	maxSources := s.Int("SWAPD_MAX_SOURCES")
	maxBatch := s.Int("SWAPD_MAX_BATCH")
	retentionMin, retentionMax := s.Duration("SWAPD_RETENTION_MIN"), s.Duration("SWAPD_RETENTION_MAX")
	urlExpiry := common.URLExpiry()
	jobTTL := s.Duration("SWAPD_JOB_TTL")
	schedule := common.WebhookSchedule()
	tenantLimits := apikeys.Limits{RequestsPerMinute: s.Int("SWAPD_RATE_LIMIT"), MaxInFlight: s.Int("SWAPD_MAX_IN_FLIGHT")}
	if err := s.Err(); err != nil {
		return err
	}
	log := common.Logger(stdout)
	policy, err := netguard.ParsePolicy(*common.AllowPrivate)
	if err != nil {
		return fmt.Errorf("SWAPD_ALLOW_PRIVATE: %w", err)
	}
	keyring, err := loadKeyring(*keysFile, config.List(*keys), config.List(*adminKeys),
		tenantLimits, stdout)
	if err != nil {
		return err
	}

	var jwtVerifier *apikeys.JWTVerifier
	if *jwksURL != "" {
		jwtVerifier, err = apikeys.NewJWTVerifier(ctx, apikeys.JWTConfig{URL: *jwksURL, Issuer: *jwtIssuer, Audience: *jwtAudience,
			TenantClaim: *jwtClaim, Limits: tenantLimits, Client: netguard.NewClient(policy, 10*time.Second)})
		if err != nil {
			return fmt.Errorf("SWAPD_JWKS_URL: %w", err)
		}
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
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	monitor := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: redisOpt, PrometheusAddress: *prom})
	defer monitor.Close()
	jobStore := jobs.NewStore(rdb, jobTTL)
	jobStore.WebhookHorizon = jobs.WebhookHorizonFor(schedule) // records outlive their pending webhooks
	jobStore.FairShare = s.Int("SWAPD_FAIR_SHARE")
	// SWAPD_REDIS_MIN_REPLICAS: writes a 202 or a webhook depends on are confirmed on replicas.
	if jobStore.Durability, err = common.Durability(); err != nil {
		return err
	}
	m := metrics.New()
	if err := m.RegisterQueueCollector(inspector); err != nil {
		return err
	}
	handler := api.NewServer(api.Deps{
		Log: log, Keyring: keyring, JWT: jwtVerifier, Redis: rdb, Jobs: jobStore, Store: store,
		Queue: queue, Inspector: inspector, Monitor: monitor, Metrics: m, Policy: policy, Limits: limits, VideoLimits: videoLimits,
		MaxSources: maxSources, MaxBatch: maxBatch, RetentionMin: retentionMin, RetentionMax: retentionMax, URLExpiry: urlExpiry, RunPodEndpoints: config.List(*runpodEndpoints),
		Notifier: &tasks.Notifier{Client: queue, Redis: rdb, Jobs: jobStore, Store: store, URLExpiry: urlExpiry, MaxRetry: len(schedule)},
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stdout, "swapd api listening on http://%s (dashboard: http://%s/monitoring/)\n", ln.Addr(), ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func generateKey() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "sk_" + base64.RawURLEncoding.EncodeToString(b)
}
