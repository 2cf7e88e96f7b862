package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/sse"
)

// Server-side encryption algorithms as S3 names them (x-amz-server-side-encryption).
const (
	SSES3  = "AES256"  // SSE-S3: keys managed by the store (MinIO: its KMS key)
	SSEKMS = "aws:kms" // SSE-KMS
)

// ErrEncryptionUnsupported is returned (wrapped) by New when Config.RequireEncryption
// is set and the bucket's default encryption can be neither found nor set, e.g. a
// MinIO without a KMS key (MINIO_KMS_SECRET_KEY or a KES/KMS server).
var ErrEncryptionUnsupported = errors.New("storage: the store cannot encrypt the bucket at rest")

// ensureEncryption makes SSE-S3 the bucket's default encryption unless it already has
// one, then reads the configuration back: the store's word, not the request's, decides.
// Every object written afterwards (Put, multipart, presigned PUT) is encrypted by the
// store with no header from the writer, so presigned URLs need no change. When the
// store cannot (no KMS, or the key may not set bucket encryption) this is an error
// only with require; otherwise it logs a warning and the bucket stays as it was.
func (s *Store) ensureEncryption(ctx context.Context, require bool) error {
	algo, err := s.bucketEncryption(ctx)
	if err == nil && algo == "" {
		if err = s.client.SetBucketEncryption(ctx, s.bucket, sse.NewConfigurationSSES3()); err == nil {
			algo, err = s.bucketEncryption(ctx)
		}
	}
	if err == nil && algo == "" {
		err = errors.New("the store accepted a default encryption but reports none")
	}
	if err != nil {
		if require {
			return fmt.Errorf("%w: bucket %q: %v", ErrEncryptionUnsupported, s.bucket, err)
		}
		slog.Warn("storage: bucket is not encrypted at rest (SWAPD_REQUIRE_ENCRYPTION=1 would refuse to start)", "bucket", s.bucket, "err", err)
		return nil
	}
	s.encryption = algo
	return nil
}

// bucketEncryption is the bucket's default encryption algorithm, "" for none.
func (s *Store) bucketEncryption(ctx context.Context) (string, error) {
	cfg, err := s.client.GetBucketEncryption(ctx, s.bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "ServerSideEncryptionConfigurationNotFoundError" {
			return "", nil
		}
		return "", err
	}
	for _, r := range cfg.Rules {
		if r.Apply.SSEAlgorithm != "" {
			return r.Apply.SSEAlgorithm, nil
		}
	}
	return "", nil
}

// Encryption is the bucket's default server-side encryption as New confirmed it
// (SSES3 or SSEKMS), or "" when the bucket is not encrypted by default.
func (s *Store) Encryption() string { return s.encryption }
