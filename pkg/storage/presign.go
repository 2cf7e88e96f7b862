package storage

import (
	"context"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"time"
)

// Presigned URL lifetimes accepted by S3 (SigV4): 1 second to 7 days.
const (
	MinPresignExpiry = time.Second
	MaxPresignExpiry = 7 * 24 * time.Hour
)

// PresignPut returns a URL the client can PUT the object's bytes to, valid
// for expiry. The URL does not constrain size or content type: treat what
// arrives as untrusted and Stat/validate it before use.
func (s *Store) PresignPut(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if err := checkExpiry(expiry); err != nil {
		return "", fmt.Errorf("storage: presign put %q: %w", key, err)
	}
	u, err := s.presign.PresignedPutObject(ctx, s.bucket, key, expiry)
	if err != nil {
		return "", fmt.Errorf("storage: presign put %q: %w", key, err)
	}
	return u.String(), nil
}

// PresignGet returns a download URL valid for expiry. If filename is not
// empty the response carries Content-Disposition: attachment with that name
// (non-ASCII names are encoded per RFC 2231), so browsers save the result
// under a sensible name instead of the storage key.
func (s *Store) PresignGet(ctx context.Context, key string, expiry time.Duration, filename string) (string, error) {
	if err := checkExpiry(expiry); err != nil {
		return "", fmt.Errorf("storage: presign get %q: %w", key, err)
	}
	params := url.Values{}
	if cd := contentDisposition(filename); cd != "" {
		params.Set("response-content-disposition", cd)
	}
	u, err := s.presign.PresignedGetObject(ctx, s.bucket, key, expiry, params)
	if err != nil {
		return "", fmt.Errorf("storage: presign get %q: %w", key, err)
	}
	return u.String(), nil
}

func checkExpiry(d time.Duration) error {
	if d < MinPresignExpiry || d > MaxPresignExpiry {
		return fmt.Errorf("expiry %s outside %s..%s", d, MinPresignExpiry, MaxPresignExpiry)
	}
	return nil
}

// contentDisposition builds an attachment header for a user-visible file
// name, dropping any directory part and control characters.
func contentDisposition(filename string) string {
	if i := strings.LastIndexAny(filename, `/\`); i >= 0 {
		filename = filename[i+1:]
	}
	filename = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, filename)
	filename = strings.TrimSpace(filename)
	if filename == "" || filename == "." || filename == ".." {
		return ""
	}
	return mime.FormatMediaType("attachment", map[string]string{"filename": filename})
}
