package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
)

// defaultContentType is stored when Put is given none.
const defaultContentType = "application/octet-stream"

// pingTimeout bounds Ping so a health check never hangs on a dead endpoint.
const pingTimeout = 3 * time.Second

// Put streams r into key. size is the exact length, or -1 when unknown (a
// request body without Content-Length, an encoder's output): then the object
// is uploaded as a multipart stream with PartSize parts and memory stays
// bounded by one part. An existing object under key is replaced, which is
// what at-least-once job re-runs need.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (Object, error) {
	if key == "" {
		return Object{}, errors.New("storage: put: empty key")
	}
	if size < -1 {
		return Object{}, fmt.Errorf("storage: put %q: invalid size %d", key, size)
	}
	if contentType == "" {
		contentType = defaultContentType
	}
	info, err := s.client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{
		ContentType: contentType,
		PartSize:    PartSize,
	})
	if err != nil {
		return Object{}, fmt.Errorf("storage: put %q: %w", key, err)
	}
	return Object{Key: key, Size: info.Size, ContentType: contentType, ETag: info.ETag}, nil
}

// Get opens key for reading. The caller must close the reader. A missing key
// gives an error matching ErrNotFound, detected before returning (minio-go
// otherwise reports it only on the first Read).
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, Object{}, wrapErr("get", key, err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, Object{}, wrapErr("get", key, err)
	}
	return obj, toObject(info), nil
}

// Stat returns the metadata of key, or an error matching ErrNotFound.
func (s *Store) Stat(ctx context.Context, key string) (Object, error) {
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, wrapErr("stat", key, err)
	}
	return toObject(info), nil
}

// Delete removes keys. Deleting a key that does not exist is not an error
// (S3 semantics), so cleanup can be retried safely.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	switch len(keys) {
	case 0:
		return nil
	case 1:
		if err := s.client.RemoveObject(ctx, s.bucket, keys[0], minio.RemoveObjectOptions{}); err != nil {
			return wrapErr("delete", keys[0], err)
		}
		return nil
	}
	ch := make(chan minio.ObjectInfo, len(keys))
	for _, k := range keys {
		ch <- minio.ObjectInfo{Key: k}
	}
	close(ch)
	return s.removeAll(ctx, ch, "delete")
}

// DeletePrefix removes every object whose key starts with prefix, e.g.
// "jobs/<id>/" for all files of a job. Note that "jobs/1" also matches
// "jobs/10/…": end prefixes with "/". An empty prefix is refused, since it
// would empty the bucket.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if prefix == "" {
		return errors.New("storage: delete prefix: refusing an empty prefix (it would delete the whole bucket)")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	toDelete := make(chan minio.ObjectInfo)
	listErr := make(chan error, 1)
	go func() {
		defer close(toDelete)
		for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if obj.Err != nil {
				listErr <- obj.Err
				return
			}
			select {
			case toDelete <- obj:
			case <-ctx.Done():
				listErr <- ctx.Err()
				return
			}
		}
		listErr <- nil
	}()
	err := s.removeAll(ctx, toDelete, "delete prefix "+prefix)
	if lerr := <-listErr; lerr != nil {
		err = errors.Join(fmt.Errorf("storage: list prefix %q: %w", prefix, lerr), err)
	}
	return err
}

// removeAll bulk-deletes what arrives on ch (1000 keys per request).
func (s *Store) removeAll(ctx context.Context, ch <-chan minio.ObjectInfo, op string) error {
	var errs []error
	for rerr := range s.client.RemoveObjects(ctx, s.bucket, ch, minio.RemoveObjectsOptions{}) {
		if len(errs) < 10 { // enough to diagnose; keep going to drain the channel
			errs = append(errs, fmt.Errorf("%s: %w", rerr.ObjectName, rerr.Err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("storage: %s: %w", op, errors.Join(errs...))
	}
	return nil
}

// Ping checks, within a short timeout, that the endpoint answers and the
// bucket exists; for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("storage: ping bucket %q: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("storage: ping: bucket %q does not exist", s.bucket)
	}
	return nil
}

func toObject(info minio.ObjectInfo) Object {
	return Object{Key: info.Key, Size: info.Size, ContentType: info.ContentType, ETag: info.ETag,
		Encryption: info.Metadata.Get("X-Amz-Server-Side-Encryption")}
}

// wrapErr adds context and maps "no such key" to ErrNotFound. A missing
// bucket is deliberately not ErrNotFound: it is a configuration problem, not
// a missing object.
func wrapErr(op, key string, err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.Code == minio.NoSuchKey || (resp.StatusCode == http.StatusNotFound && resp.Code != minio.NoSuchBucket) {
		return fmt.Errorf("storage: %s %q: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("storage: %s %q: %w", op, key, err)
}

// WatchHealth probes the store every interval in the background until stop is called,
// so Offline can answer without a request: while storage is down, callers refuse work
// at once (503) instead of waiting for a request to fail, and minio-go fails calls
// immediately instead of retrying each one.
func (s *Store) WatchHealth(interval time.Duration) (stop func()) {
	cancel, err := s.client.HealthCheck(interval)
	if err != nil {
		return func() {} // already watching
	}
	return cancel
}

// Offline reports whether the last health probe failed (always false unless
// WatchHealth is running).
func (s *Store) Offline() bool { return s.client.IsOffline() }
