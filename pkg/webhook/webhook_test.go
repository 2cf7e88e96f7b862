package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/netguard"
)

// A fixed 32-byte key, spelled out so the test does not depend on ParseSecret.
var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestSignKnownAnswer(t *testing.T) {
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	ts := time.Unix(1674087231, 0)
	body := []byte(`{"type":"job.succeeded","data":{"id":"j1"}}`)

	// Independent computation of the Standard Webhooks v1 signature.
	h := hmac.New(sha256.New, testKey)
	h.Write([]byte(id + ".1674087231." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))

	if got := Sign(Secret(testKey), id, ts, body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	// Sub-second parts of the timestamp are not signed.
	if got := Sign(Secret(testKey), id, ts.Add(999*time.Millisecond), body); got != want {
		t.Fatalf("Sign with fractional seconds = %s, want %s", got, want)
	}
}

// The published Standard Webhooks / Svix example, so our signatures interoperate
// with the official receiver libraries.
func TestSignStandardWebhooksVector(t *testing.T) {
	secret, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	got := Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestSecretParse(t *testing.T) {
	s := GenerateSecret()
	if len(s) != 32 {
		t.Fatalf("generated %d bytes", len(s))
	}
	if !strings.HasPrefix(s.String(), "whsec_") {
		t.Fatalf("String() = %q", s.String())
	}
	back, err := ParseSecret(s.String())
	if err != nil || !hmac.Equal(back, s) {
		t.Fatalf("round trip: %v", err)
	}
	bare, err := ParseSecret(strings.TrimPrefix(s.String(), "whsec_"))
	if err != nil || !hmac.Equal(bare, s) {
		t.Fatalf("bare base64: %v", err)
	}
	if GenerateSecret().String() == s.String() {
		t.Fatal("two generated secrets are equal")
	}
	for _, bad := range []string{"", "whsec_", "whsec_!!!", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)), "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65))} {
		if _, err := ParseSecret(bad); !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("ParseSecret(%q) = %v, want ErrInvalidSecret", bad, err)
		}
	}
}

func signedHeaders(secret Secret, id string, ts time.Time, body []byte) http.Header {
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Sign(secret, id, ts, body))
	return h
}

func TestVerify(t *testing.T) {
	secret := GenerateSecret()
	now := time.Now()
	body := []byte(`{"a":1}`)
	h := signedHeaders(secret, "msg_1", now, body)

	if err := Verify(secret, h, body, 0, now); err != nil {
		t.Fatalf("own signature: %v", err)
	}
	if err := Verify(secret, h, []byte(`{"a":2}`), 0, now); !errors.Is(err, ErrNoMatchingSignature) {
		t.Errorf("tampered body: %v", err)
	}
	if err := Verify(GenerateSecret(), h, body, 0, now); !errors.Is(err, ErrNoMatchingSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := Verify(secret, h, body, 0, now.Add(6*time.Minute)); !errors.Is(err, ErrTimestampTooOld) {
		t.Errorf("old timestamp: %v", err)
	}
	if err := Verify(secret, h, body, 0, now.Add(-6*time.Minute)); !errors.Is(err, ErrTimestampTooNew) {
		t.Errorf("future timestamp: %v", err)
	}
	if err := Verify(secret, h, body, time.Hour, now.Add(30*time.Minute)); err != nil {
		t.Errorf("within custom tolerance: %v", err)
	}
	// A changed id invalidates the signature.
	h2 := h.Clone()
	h2.Set(HeaderID, "msg_2")
	if err := Verify(secret, h2, body, 0, now); !errors.Is(err, ErrNoMatchingSignature) {
		t.Errorf("changed id: %v", err)
	}
	// Several signatures (key rotation): any match is enough; unknown versions are skipped.
	h3 := h.Clone()
	h3.Set(HeaderSignature, "v1a,AAAA v1,"+base64.StdEncoding.EncodeToString([]byte("nope"))+" "+h.Get(HeaderSignature)+" garbage")
	if err := Verify(secret, h3, body, 0, now); err != nil {
		t.Errorf("multiple signatures: %v", err)
	}
	if err := Verify(secret, http.Header{}, body, 0, now); !errors.Is(err, ErrMissingHeaders) {
		t.Errorf("no headers: %v", err)
	}
	h4 := h.Clone()
	h4.Set(HeaderTimestamp, "yesterday")
	if err := Verify(secret, h4, body, 0, now); !errors.Is(err, ErrInvalidTimestamp) {
		t.Errorf("bad timestamp: %v", err)
	}
}

func TestSchedule(t *testing.T) {
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	if len(Schedule) != len(want) || MaxAttempts != len(Schedule)+1 {
		t.Fatalf("Schedule %v, MaxAttempts %d", Schedule, MaxAttempts)
	}
	for i, d := range want {
		if Delay(i+1) != d {
			t.Errorf("Delay(%d) = %s, want %s", i+1, Delay(i+1), d)
		}
	}
	if Delay(0) != 5*time.Second || Delay(100) != 10*time.Hour {
		t.Errorf("clamping: Delay(0)=%s Delay(100)=%s", Delay(0), Delay(100))
	}
}

func TestEventJSON(t *testing.T) {
	ev, err := NewEvent(EventJobSucceeded, time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)), map[string]string{"id": "j1"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(ev)
	if want := `{"type":"job.succeeded","timestamp":"2026-01-02T02:04:05Z","data":{"id":"j1"}}`; string(b) != want {
		t.Fatalf("got %s want %s", b, want)
	}
	id := MessageID("j1", EventJobSucceeded)
	if id != MessageID("j1", EventJobSucceeded) || id == MessageID("j1", EventJobFailed) || id == MessageID("j2", EventJobSucceeded) {
		t.Fatal("MessageID must be deterministic per job and event")
	}
	if strings.Contains(id, ".") || !strings.HasPrefix(id, "msg_") {
		t.Fatalf("MessageID = %q", id)
	}
}

func loopbackClient(t *testing.T) *http.Client {
	p, err := netguard.ParsePolicy("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	return netguard.NewClient(p, DefaultTimeout)
}

func TestDeliver(t *testing.T) {
	r := testenv.NewReceiver(t, 200)
	secret := GenerateSecret()
	body := []byte(`{"type":"job.succeeded","timestamp":"2026-01-02T03:04:05Z","data":{"id":"j1"}}`)
	status, err := Deliver(context.Background(), loopbackClient(t), r.URL+"/hooks/swapd", "msg_abc", body, secret)
	if err != nil || status != 200 {
		t.Fatalf("Deliver: %d %v", status, err)
	}
	reqs := r.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	req := reqs[0]
	if req.Method != http.MethodPost || req.Path != "/hooks/swapd" {
		t.Errorf("%s %s", req.Method, req.Path)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": UserAgent, HeaderID: "msg_abc"} {
		if got := req.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if string(req.Body) != string(body) {
		t.Errorf("body %q", req.Body)
	}
	ts, _ := strconv.ParseInt(req.Header.Get(HeaderTimestamp), 10, 64)
	if d := time.Since(time.Unix(ts, 0)); d < -time.Second || d > 5*time.Second {
		t.Errorf("timestamp %d is not the attempt time", ts)
	}
	// The receiver's view: verify with the whsec_ string form, as a user would.
	userSecret, err := ParseSecret(secret.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(userSecret, req.Header, req.Body, 0, time.Now()); err != nil {
		t.Fatalf("receiver cannot verify: %v", err)
	}
}

func TestDeliverFailures(t *testing.T) {
	secret := GenerateSecret()
	client := loopbackClient(t)
	ctx := context.Background()

	r := testenv.NewReceiver(t, 500, 410, 302, 204)
	var statusErr *StatusError
	for _, want := range []int{500, 410, 302} {
		status, err := Deliver(ctx, client, r.URL, "msg_x", []byte(`{}`), secret)
		if status != want || !errors.As(err, &statusErr) || statusErr.StatusCode != want || !strings.Contains(err.Error(), strconv.Itoa(want)) {
			t.Fatalf("want status %d error, got %d %v", want, status, err)
		}
	}
	if status, err := Deliver(ctx, client, r.URL, "msg_x", []byte(`{}`), secret); err != nil || status != 204 {
		t.Fatalf("204 is success: %d %v", status, err)
	}
	reqs := r.Requests()
	if len(reqs) != 4 || reqs[0].Header.Get(HeaderID) != reqs[3].Header.Get(HeaderID) {
		t.Fatalf("retries must keep the webhook-id: %d requests", len(reqs))
	}

	// The default policy refuses a loopback receiver at dial time.
	if _, err := Deliver(ctx, nil, r.URL, "msg_x", []byte(`{}`), secret); !errors.Is(err, netguard.ErrBlocked) {
		t.Errorf("nil client to loopback: %v, want netguard.ErrBlocked", err)
	}
	if _, err := Deliver(ctx, client, r.URL, "msg.bad", []byte(`{}`), secret); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("dotted id: %v", err)
	}
	if _, err := Deliver(ctx, client, "ftp://example.com/x", "msg_x", []byte(`{}`), secret); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("ftp URL: %v", err)
	}
}

func TestDeliverRetryAfterAndTimeout(t *testing.T) {
	secret := GenerateSecret()
	client := loopbackClient(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/throttle", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(strings.Repeat("x", 200<<10))) // larger than what Deliver reads
	})
	release := make(chan struct{})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	server := httptest.NewServer(mux)
	defer server.Close()
	defer close(release) // runs first: lets the slow handler return so Close does not wait
	srv := server.URL

	_, err := Deliver(context.Background(), client, srv+"/throttle", "msg_x", []byte(`{}`), secret)
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 429 || se.RetryAfter != 2*time.Minute || len(se.Body) > 512 {
		t.Fatalf("throttle: %v (%+v)", err, se)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Deliver(ctx, client, srv+"/slow", "msg_x", []byte(`{}`), secret); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("slow receiver: err=%v after %s", err, time.Since(start))
	}
}
