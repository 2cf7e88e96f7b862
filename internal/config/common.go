package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/storage"
)

// Common holds the settings both binaries share.
type Common struct {
	RedisURL       *string
	MinReplicas    *string
	ReplicaTimeout *string
	S3             struct{ Endpoint, AccessKey, SecretKey, Bucket, Region, PublicEndpoint, SSL, RequireEncryption *string }
	AllowPrivate   *string
	LogFormat      *string
	LogLevel       *string
	JobTTL         *string
	set            *Set
}

// DeclareCommon declares the shared settings on s.
func DeclareCommon(s *Set) *Common {
	c := &Common{}
	c.RedisURL = s.String("SWAPD_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL (redis://, rediss://, or redis-sentinel://[:password@]host:port,host:port,…[/db]?master=name)")
	c.MinReplicas = s.String("SWAPD_REDIS_MIN_REPLICAS", "0", "replicas that must hold a job's record and task (WAIT) before it is accepted, and its outcome before its webhook goes out (0: off)")
	c.ReplicaTimeout = s.String("SWAPD_REDIS_REPLICA_TIMEOUT", jobs.DefaultReplicaTimeout.String(), "how long to wait for SWAPD_REDIS_MIN_REPLICAS before answering 503 UNAVAILABLE")
	c.S3.Endpoint = s.String("SWAPD_S3_ENDPOINT", "127.0.0.1:9000", "S3/MinIO endpoint host:port")
	c.S3.AccessKey = s.String("SWAPD_S3_ACCESS_KEY", "minioadmin", "S3 access key")
	c.S3.SecretKey = s.String("SWAPD_S3_SECRET_KEY", "minioadmin", "S3 secret key")
	c.S3.Bucket = s.String("SWAPD_S3_BUCKET", "swapd", "bucket for inputs and outputs (created if missing)")
	c.S3.Region = s.String("SWAPD_S3_REGION", "", "S3 region")
	c.S3.PublicEndpoint = s.String("SWAPD_S3_PUBLIC_ENDPOINT", "", "host:port clients use for presigned URLs, if not the endpoint")
	c.S3.SSL = s.String("SWAPD_S3_SSL", "false", "use TLS to reach S3")
	c.S3.RequireEncryption = s.String("SWAPD_REQUIRE_ENCRYPTION", "false", "refuse to start unless the bucket's default encryption (SSE-S3, set at start when missing) is confirmed by the store")
	c.AllowPrivate = s.String("SWAPD_ALLOW_PRIVATE", "", "hosts or CIDRs that input URLs and webhooks may reach although private (default: none)")
	c.LogFormat = s.String("SWAPD_LOG_FORMAT", "text", "log format: text or json")
	c.LogLevel = s.String("SWAPD_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	c.JobTTL = s.String("SWAPD_JOB_TTL", "24h", "how long a finished job's record is kept")
	s.String("SWAPD_MAX_INPUT_BYTES", fmt.Sprint(media.DefaultLimits.MaxBytes), "largest accepted image file, bytes")
	s.String("SWAPD_MAX_PIXELS", fmt.Sprint(media.DefaultLimits.MaxPixels), "largest accepted image, width × height")
	s.String("SWAPD_MAX_VIDEO_BYTES", fmt.Sprint(media.DefaultVideoLimits.MaxBytes), "largest accepted video file, bytes")
	s.String("SWAPD_MAX_VIDEO_DURATION", media.DefaultVideoLimits.MaxDuration.String(), "longest accepted video")
	s.String("SWAPD_MAX_VIDEO_FRAMES", fmt.Sprint(media.DefaultVideoLimits.MaxFrames), "most frames in an accepted video")
	s.String("SWAPD_MAX_VIDEO_RESOLUTION", fmt.Sprintf("%dx%d", media.DefaultVideoLimits.MaxWidth, media.DefaultVideoLimits.MaxHeight), "largest accepted video frame, WxH (either orientation)")
	s.String("SWAPD_URL_EXPIRY", "1h", "lifetime of presigned output URLs (API answers and webhook bodies)")
	s.String("SWAPD_WEBHOOK_SCHEDULE", "", "webhook retry delays (default Svix: 5s,5m,30m,2h,5h,10h,10h)")
	c.set = s
	return c
}

// Limits returns the image and video limits, the same for the API (which checks bytes
// and headers) and the worker (which checks everything after decoding or probing).
func (c *Common) Limits() (media.Limits, media.VideoLimits) {
	s := c.set
	img := media.Limits{MaxBytes: s.Int64("SWAPD_MAX_INPUT_BYTES"), MaxPixels: s.Int64("SWAPD_MAX_PIXELS")}
	vid := media.VideoLimits{MaxBytes: s.Int64("SWAPD_MAX_VIDEO_BYTES"), MaxDuration: s.Duration("SWAPD_MAX_VIDEO_DURATION"), MaxFrames: s.Int("SWAPD_MAX_VIDEO_FRAMES")}
	if _, err := fmt.Sscanf(s.Get("SWAPD_MAX_VIDEO_RESOLUTION"), "%dx%d", &vid.MaxWidth, &vid.MaxHeight); err != nil {
		s.errs = append(s.errs, fmt.Errorf("SWAPD_MAX_VIDEO_RESOLUTION: want WxH, got %q", s.Get("SWAPD_MAX_VIDEO_RESOLUTION")))
	}
	return img, vid
}

// URLExpiry is the lifetime of presigned output URLs.
func (c *Common) URLExpiry() time.Duration { return c.set.Duration("SWAPD_URL_EXPIRY") }

// WebhookSchedule is the configured retry schedule, or Svix's.
func (c *Common) WebhookSchedule() []time.Duration {
	return WebhookSchedule(c.set.Durations("SWAPD_WEBHOOK_SCHEDULE"))
}

// Logger builds the slog logger the settings ask for.
func (c *Common) Logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(*c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if strings.EqualFold(*c.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Redis returns asynq's connection option and a go-redis client for the same server.
// A redis-sentinel:// URL gives both a Sentinel-backed client (redis.NewFailoverClient)
// that follows the primary Sentinel elects: they ask the sentinels for the primary,
// subscribe to +switch-master and drop their connections to a replaced primary.
func (c *Common) Redis() (asynq.RedisConnOpt, redis.UniversalClient, error) {
	opt, err := ParseRedisURL(*c.RedisURL)
	if err != nil {
		return nil, nil, err
	}
	rdb, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, nil, os.ErrInvalid
	}
	return opt, rdb, nil
}

// Durability returns how many replicas must confirm writes, and for how long to wait
// for them (SWAPD_REDIS_MIN_REPLICAS, SWAPD_REDIS_REPLICA_TIMEOUT).
func (c *Common) Durability() (jobs.Durability, error) {
	n, err := strconv.Atoi(*c.MinReplicas)
	if err != nil || n < 0 {
		return jobs.Durability{}, fmt.Errorf("SWAPD_REDIS_MIN_REPLICAS: %q is not a count of replicas", *c.MinReplicas)
	}
	d, err := time.ParseDuration(*c.ReplicaTimeout)
	if err != nil || d <= 0 {
		return jobs.Durability{}, fmt.Errorf("SWAPD_REDIS_REPLICA_TIMEOUT: %q is not a positive duration", *c.ReplicaTimeout)
	}
	return jobs.Durability{MinReplicas: n, Timeout: d}, nil
}

// ParseRedisURL parses SWAPD_REDIS_URL as asynq does (redis://, rediss://,
// redis-socket://, redis-sentinel://), and completes what asynq leaves out of a
// redis-sentinel:// URL: the password is also the data nodes' (asynq gives it to the
// sentinels only; sentinel_password=… in the query gives the sentinels another, empty
// for none), the path selects the database, and ?master= is required.
func ParseRedisURL(raw string) (asynq.RedisConnOpt, error) {
	opt, err := asynq.ParseRedisURI(raw)
	if err != nil {
		return nil, err
	}
	fo, ok := opt.(asynq.RedisFailoverClientOpt)
	if !ok {
		return opt, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	if fo.MasterName == "" {
		return nil, errors.New("a redis-sentinel:// URL needs ?master=<name> (the name the sentinels monitor)")
	}
	fo.SentinelAddrs = List(u.Host)
	for _, a := range fo.SentinelAddrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("sentinel address %q: %w", a, err)
		}
	}
	fo.Username = u.User.Username()
	fo.Password = fo.SentinelPassword
	if q.Has("sentinel_password") {
		fo.SentinelPassword = q.Get("sentinel_password")
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if fo.DB, err = strconv.Atoi(p); err != nil || fo.DB < 0 {
			return nil, fmt.Errorf("database %q is not a number", p)
		}
	}
	return fo, nil
}

// Storage returns the object storage configuration.
func (c *Common) Storage() storage.Config {
	return storage.Config{
		Endpoint:       *c.S3.Endpoint,
		AccessKey:      *c.S3.AccessKey,
		SecretKey:      *c.S3.SecretKey,
		Bucket:         *c.S3.Bucket,
		Region:         *c.S3.Region,
		PublicEndpoint: *c.S3.PublicEndpoint,
		UseSSL:         *c.S3.SSL == "true" || *c.S3.SSL == "1",
		// Fails closed: any value but an empty or false one ("0", "false") requires it.
		RequireEncryption: requireEncryption(*c.S3.RequireEncryption),
	}
}

func requireEncryption(v string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	return strings.TrimSpace(v) != "" && (err != nil || b)
}
