package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Event types sent for job state changes.
const (
	EventJobSucceeded = "job.succeeded"
	EventJobFailed    = "job.failed"
	EventJobCanceled  = "job.canceled"
)

// Event is the JSON envelope recommended by Standard Webhooks:
// {"type": "...", "timestamp": "RFC 3339", "data": {...}}. Timestamp is when
// the event happened (not when it was sent; that is webhook-timestamp).
type Event struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// NewEvent marshals data into an Event. The timestamp is stored in UTC so the
// same event always serialises to the same bytes.
func NewEvent(eventType string, ts time.Time, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("webhook: marshal %s data: %w", eventType, err)
	}
	return Event{Type: eventType, Timestamp: ts.UTC(), Data: raw}, nil
}

// MessageID derives the webhook-id for an event of a job. It is deterministic
// so that every retry — including a re-run after a worker crash, which builds
// the message again — carries the same id and receivers can deduplicate.
// The result contains no '.', which the signature format forbids in ids.
func MessageID(jobID, eventType string) string {
	sum := sha256.Sum256([]byte(jobID + "\x00" + eventType))
	return "msg_" + hex.EncodeToString(sum[:16])
}
