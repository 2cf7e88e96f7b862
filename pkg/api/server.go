// Package api is swapd's HTTP API: thin handlers that authenticate, validate, store
// inputs in object storage and enqueue work. It never loads a model.
package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/apikeys"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/metrics"
	"github.com/swapd/swapd/pkg/netguard"
	"github.com/swapd/swapd/pkg/storage"
	"github.com/swapd/swapd/pkg/usage"
	"github.com/swapd/swapd/tasks"
)

// Deps is everything the API needs; cmd/api builds it from configuration.
type Deps struct {
	Log *slog.Logger
	// Keyring holds the accepted keys with their roles and limits. When nil, it is
	// built from Keys (tenants, unlimited) and AdminKeys.
	Keyring   *apikeys.Keyring
	JWT       *apikeys.JWTVerifier // optional: bearer JWTs from SWAPD_JWKS_URL's issuer
	Keys      []string             // tenant API keys: each sees only its own jobs and uploads
	AdminKeys []string             // operator keys: also open the dashboard and /metrics
	Redis     redis.UniversalClient
	Jobs      *jobs.Store
	Store     *storage.Store
	Queue     *asynq.Client
	Inspector *asynq.Inspector
	Notifier  *tasks.Notifier
	Monitor   http.Handler     // the asynq dashboard, mounted at /monitoring/
	Metrics   *metrics.Metrics // optional; served at /metrics
	Policy    netguard.Policy
	Limits    media.Limits
	// VideoLimits.MaxBytes caps video uploads here; the rest is checked by the worker
	// after probing.
	VideoLimits media.VideoLimits

	MaxSources int // default 8
	MaxBatch   int // most targets in a batch, default DefaultMaxBatch
	// RetentionMin and RetentionMax bound a key's retention (apikeys.Limits.Retention)
	// and a RunPod job's policy ttl: how long ended jobs and their files are kept.
	RetentionMin, RetentionMax time.Duration
	URLExpiry                  time.Duration // presigned GET/PUT lifetime, default 1 h

	// RunPodEndpoints are the endpoint ids the RunPod-compatible API serves under
	// /v2/{endpoint}/ (default DefaultRunPodEndpoint, "swapd").
	RunPodEndpoints []string

	// Usage counts each key's daily jobs, bytes and frames against its quotas; built
	// from Redis when nil.
	Usage *usage.Counter

	limiter *redis_rate.Limiter
}

func (d *Deps) defaults() {
	if d.Keyring == nil {
		d.Keyring, _ = apikeys.FromLists(d.Keys, d.AdminKeys, apikeys.Limits{}) // nil on a clash: nothing is accepted
	}
	if d.Redis != nil {
		d.limiter = redis_rate.NewLimiter(d.Redis)
		if d.Usage == nil {
			d.Usage = &usage.Counter{Redis: d.Redis}
		}
	}
	if d.MaxSources <= 0 {
		d.MaxSources = 8
	}
	if d.MaxBatch <= 0 {
		d.MaxBatch = DefaultMaxBatch
	}
	if d.URLExpiry <= 0 {
		d.URLExpiry = time.Hour
	}
	if d.Limits.MaxBytes <= 0 {
		d.Limits = media.DefaultLimits
	}
	if d.VideoLimits.MaxBytes <= 0 {
		d.VideoLimits = media.DefaultVideoLimits
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
}

// NewServer returns the API's handler with every route and middleware in place.
func NewServer(d Deps) http.Handler {
	d.defaults()
	mux := http.NewServeMux()
	addRoutes(mux, &d)
	return metrics.RequestID(d.Metrics.Middleware(metrics.PatternRoute, logRequests(d.Log, mux)))
}
