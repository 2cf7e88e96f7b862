package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretPrefix marks a symmetric Standard Webhooks secret.
const SecretPrefix = "whsec_"

// Secret length bounds from the Standard Webhooks spec (24–64 random bytes).
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// generatedSecretBytes is what GenerateSecret produces: comfortably above the
// minimum, and the length Svix-compatible tooling expects for HMAC-SHA256.
const generatedSecretBytes = 32

// ErrInvalidSecret is returned by ParseSecret.
var ErrInvalidSecret = errors.New("webhook: invalid secret")

// Secret is the raw HMAC key. Its String form is "whsec_<base64>", the form
// shown to users and accepted by the Standard Webhooks libraries.
type Secret []byte

// String returns "whsec_" followed by the standard base64 of the key.
func (s Secret) String() string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(s)
}

// GenerateSecret returns a new random 32-byte secret. crypto/rand.Read does
// not fail on supported platforms (it aborts the program instead), so there
// is no error to return.
func GenerateSecret() Secret {
	b := make([]byte, generatedSecretBytes)
	_, _ = rand.Read(b)
	return b
}

// ParseSecret accepts "whsec_<base64>" (and, like the reference libraries, the
// bare base64 without the prefix) and checks the decoded length is within
// 24–64 bytes, so a truncated or placeholder secret is rejected early.
func ParseSecret(s string) (Secret, error) {
	b64 := strings.TrimPrefix(strings.TrimSpace(s), SecretPrefix)
	if b64 == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		// Some tools emit unpadded base64; accept it too.
		var err2 error
		if key, err2 = base64.RawStdEncoding.DecodeString(b64); err2 != nil {
			return nil, fmt.Errorf("%w: not base64: %v", ErrInvalidSecret, err)
		}
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("%w: %d bytes, want %d to %d", ErrInvalidSecret, len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}
