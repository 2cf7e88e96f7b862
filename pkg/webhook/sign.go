package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is the accepted clock difference between the timestamp in
// a message and the verifier's clock (the reference libraries use ±5 min).
// It bounds how long a captured message can be replayed.
const DefaultTolerance = 5 * time.Minute

// Verification errors; Verify wraps one of them.
var (
	ErrMissingHeaders      = errors.New("webhook: missing required headers")
	ErrInvalidTimestamp    = errors.New("webhook: invalid timestamp")
	ErrTimestampTooOld     = errors.New("webhook: timestamp too old")
	ErrTimestampTooNew     = errors.New("webhook: timestamp too new")
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
)

// Sign returns the "v1,<base64>" signature of body for message msgID sent at
// ts: base64(HMAC-SHA256(secret, msgID + "." + unix(ts) + "." + body)).
func Sign(secret Secret, msgID string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(secret, msgID, ts.Unix(), body))
}

func mac(secret Secret, msgID string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write([]byte(strconv.FormatInt(unix, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received message the way a receiver should: the three
// headers are present, the timestamp is within ±tolerance of now
// (tolerance <= 0 means DefaultTolerance), and at least one of the
// space-separated "v1,<base64>" signatures matches, compared in constant time.
// Signatures with other version tags (e.g. "v1a," asymmetric) are skipped, so
// senders can add new schemes or rotate keys without breaking receivers.
func Verify(secret Secret, headers http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	id := headers.Get(HeaderID)
	tsRaw := headers.Get(HeaderTimestamp)
	sigs := headers.Get(HeaderSignature)
	if id == "" || tsRaw == "" || sigs == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrInvalidTimestamp, tsRaw)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts := time.Unix(unix, 0)
	if now.Sub(ts) > tolerance {
		return fmt.Errorf("%w: %s is more than %s before %s", ErrTimestampTooOld, ts.UTC().Format(time.RFC3339), tolerance, now.UTC().Format(time.RFC3339))
	}
	if ts.Sub(now) > tolerance {
		return fmt.Errorf("%w: %s is more than %s after %s", ErrTimestampTooNew, ts.UTC().Format(time.RFC3339), tolerance, now.UTC().Format(time.RFC3339))
	}
	want := mac(secret, id, unix, body)
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}
