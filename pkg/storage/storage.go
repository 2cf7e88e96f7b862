// Package storage keeps job inputs and outputs in S3-compatible object
// storage (MinIO by default; AWS S3 and Cloudflare R2 work the same way)
// through minio-go.
//
// Uploads stream: Put never holds a whole object in memory, only one
// multipart part (PartSize) at a time, so a multi-GB video costs the API a
// bounded amount of RAM. Large client uploads and result downloads should
// bypass the API entirely through presigned URLs (PresignPut / PresignGet).
package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// PartSize is the multipart part size used by Put. It bounds the memory one
// upload of unknown size uses (minio-go buffers one part; its own default
// for unknown sizes is ~537 MiB) while still allowing objects up to
// 16 MiB × 10,000 parts ≈ 156 GiB.
const PartSize = 16 << 20

// ErrNotFound is returned (wrapped; match with errors.Is) by Get and Stat when
// the key does not exist.
var ErrNotFound = errors.New("storage: object not found")

// Config says where the bucket lives.
type Config struct {
	// Endpoint is "host:port" of the S3 API as seen from swapd, e.g.
	// "minio:9000" or "s3.amazonaws.com". A "http://" or "https://" prefix is
	// accepted and then decides UseSSL.
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	UseSSL    bool
	// Region is the bucket's region. Empty means ask the server (MinIO
	// answers "us-east-1" unless configured otherwise).
	Region string
	// PublicEndpoint, if set, is the host[:port] (optionally with scheme)
	// that clients use to reach the same storage, written into presigned
	// URLs — e.g. "localhost:9000" when swapd reaches MinIO as "minio:9000"
	// inside docker compose. A presigned URL signs its Host, so the URL is
	// signed for this host rather than rewritten afterwards; a reverse proxy
	// in front must pass the Host header through unchanged.
	PublicEndpoint string
	// RequireEncryption makes New fail (ErrEncryptionUnsupported) unless the bucket's
	// default encryption is on, or New can turn SSE-S3 on and read it back. Without
	// it New still tries, and only warns when the store cannot.
	RequireEncryption bool
}

// Object describes a stored object.
type Object struct {
	Key         string
	Size        int64
	ContentType string
	ETag        string
	// Encryption is the server-side encryption the store reports for the object
	// (x-amz-server-side-encryption: SSES3, SSEKMS), "" when it is stored in clear;
	// set by Stat and Get.
	Encryption string
}

// Store is a bucket. It is safe for concurrent use.
type Store struct {
	client  *minio.Client // API calls
	presign *minio.Client // presigning only; points at PublicEndpoint when set
	bucket  string
	region  string
	// encryption is the bucket's default server-side encryption, "" for none.
	encryption string
}

// New connects to the endpoint and creates the bucket if it does not exist
// (so a fresh local MinIO works without manual setup).
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("storage: bucket name is required")
	}
	host, secure, err := parseEndpoint(cfg.Endpoint, cfg.UseSSL)
	if err != nil {
		return nil, fmt.Errorf("storage: endpoint: %w", err)
	}
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	// Few retries per call: callers retry whole operations themselves (the worker by
	// elapsed time through an outage, the API's clients after a 503), so minio-go's
	// default of 10 would only hold a request for 10–15 s before the same failure.
	client, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: cfg.Region, MaxRetries: 3})
	if err != nil {
		return nil, fmt.Errorf("storage: client for %s: %w", host, err)
	}
	s := &Store{client: client, presign: client, bucket: cfg.Bucket, region: cfg.Region}
	if err := s.ensureBucket(ctx); err != nil {
		return nil, err
	}
	if err := s.ensureEncryption(ctx, cfg.RequireEncryption); err != nil {
		return nil, err
	}
	if s.region == "" {
		// Presigning must know the region without a network round trip
		// through the public host (which swapd may not be able to reach).
		loc, err := client.GetBucketLocation(ctx, cfg.Bucket)
		if err != nil {
			return nil, fmt.Errorf("storage: location of bucket %q: %w", cfg.Bucket, err)
		}
		s.region = loc
		if s.region == "" {
			s.region = "us-east-1"
		}
	}
	if cfg.PublicEndpoint != "" {
		pubHost, pubSecure, err := parseEndpoint(cfg.PublicEndpoint, secure)
		if err != nil {
			return nil, fmt.Errorf("storage: public endpoint: %w", err)
		}
		s.presign, err = minio.New(pubHost, &minio.Options{Creds: creds, Secure: pubSecure, Region: s.region})
		if err != nil {
			return nil, fmt.Errorf("storage: presign client for %s: %w", pubHost, err)
		}
	}
	return s, nil
}

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

func (s *Store) ensureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("storage: check bucket %q: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
	if err != nil {
		// Another replica may have created it between the two calls.
		code := minio.ToErrorResponse(err).Code
		if code == minio.BucketAlreadyOwnedByYou || code == minio.BucketAlreadyExists {
			return nil
		}
		return fmt.Errorf("storage: create bucket %q: %w", s.bucket, err)
	}
	return nil
}

// parseEndpoint accepts "host:port" or "http(s)://host:port" (no path).
func parseEndpoint(raw string, useSSL bool) (host string, secure bool, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", false, errors.New("empty")
	}
	if !strings.Contains(raw, "://") {
		if strings.ContainsAny(raw, "/?#") {
			return "", false, fmt.Errorf("%q: want host[:port]", raw)
		}
		return raw, useSSL, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return "", false, fmt.Errorf("%q: want http(s)://host[:port] without a path", raw)
	}
	return u.Host, u.Scheme == "https", nil
}
