package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/swapd/swapd/pkg/netguard"
)

const (
	// DefaultTimeout bounds one delivery attempt when ctx has no deadline:
	// receivers are expected to answer 2xx within 15 s (Svix) and do their
	// work asynchronously.
	DefaultTimeout = 15 * time.Second
	// ConnectTimeout and AnswerTimeout bound the phases of an attempt made with
	// NewClient: a receiver that cannot be reached, or that takes the request and
	// never answers, is given up on in seconds and retried on the schedule.
	ConnectTimeout = 5 * time.Second
	AnswerTimeout  = 10 * time.Second
	// UserAgent identifies deliveries in receivers' logs.
	UserAgent = "swapd-webhook/1"
	// maxResponseBytes caps what is read from a receiver's answer; the body
	// only matters for error messages and must not tie up the worker.
	maxResponseBytes = 64 << 10
	// errorBodyBytes is how much of a failing response goes into StatusError.
	errorBodyBytes = 512
)

// ErrInvalidMessage is returned by Deliver for an unusable id or URL.
var ErrInvalidMessage = errors.New("webhook: invalid message")

// StatusError is returned by Deliver when the receiver answered with a non-2xx
// status (3xx included: redirects are not followed, per Standard Webhooks).
// Callers can use StatusCode to stop retrying (e.g. 410 Gone) and RetryAfter
// to honour a receiver's throttling request.
type StatusError struct {
	StatusCode int
	Body       string        // start of the response body, for logs
	RetryAfter time.Duration // from a Retry-After header in seconds; 0 if absent
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("webhook: receiver answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Deliver makes one signed POST of body to rawURL and reports the HTTP status.
// Success is any 2xx; every other outcome is an error (a *StatusError when the
// receiver answered). msgID must be the same for every attempt at the same
// message (see MessageID); the webhook-timestamp header and the signature are
// computed fresh for each attempt.
//
// client should come from netguard.NewClient so that the receiver's address is
// checked at dial time; nil means a netguard client with the default (block
// private addresses) policy. Redirects are never followed whatever the
// client's settings. When ctx has no deadline, DefaultTimeout applies.
func Deliver(ctx context.Context, client *http.Client, rawURL string, msgID string, body []byte, secret Secret) (status int, err error) {
	if msgID == "" || strings.Contains(msgID, ".") {
		return 0, fmt.Errorf("%w: id %q must be non-empty and contain no '.'", ErrInvalidMessage, msgID)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 0, fmt.Errorf("%w: URL %q must be an absolute http(s) URL", ErrInvalidMessage, rawURL)
	}
	if client == nil {
		client = netguard.NewClient(netguard.Policy{}, DefaultTimeout)
	}
	c := *client // shallow copy so the caller's redirect policy is untouched
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook: build request: %w", err)
	}
	now := time.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderID, msgID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(secret, msgID, now, body))

	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook: deliver %s to %s: %w", msgID, u.Redacted(), err)
	}
	defer resp.Body.Close()
	respBody, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	se := &StatusError{StatusCode: resp.StatusCode, Body: snippet(respBody)}
	if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs > 0 {
		se.RetryAfter = time.Duration(secs) * time.Second
	}
	if readErr != nil && se.Body == "" {
		se.Body = "(reading body: " + readErr.Error() + ")"
	}
	return resp.StatusCode, fmt.Errorf("webhook: deliver %s to %s: %w", msgID, u.Redacted(), se)
}

// snippet returns the start of a response body as a single printable line.
func snippet(b []byte) string {
	if len(b) > errorBodyBytes {
		b = b[:errorBodyBytes]
	}
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Join(strings.Fields(s), " ")
	return s
}

// NewClient returns the client deliveries use: private addresses refused at dial time
// (p says which are allowed), ConnectTimeout and AnswerTimeout per phase, and
// DefaultTimeout for the whole attempt.
func NewClient(p netguard.Policy) *http.Client {
	return netguard.NewClientTimeouts(p, DefaultTimeout, netguard.Timeouts{Connect: ConnectTimeout, ResponseHeader: AnswerTimeout})
}
