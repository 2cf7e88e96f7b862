package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func thingsMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.Error(w, "no such thing", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, "thing ", r.PathValue("id"))
	})
	mux.HandleFunc("POST /silent", func(http.ResponseWriter, *http.Request) {}) // writes nothing: 200
	mux.HandleFunc("POST /panic", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	return mux
}

func do(t *testing.T, method, url string) (int, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestMiddlewareLabelsByPattern(t *testing.T) {
	m := New()
	srv := httptest.NewServer(m.Middleware(nil, thingsMux()))
	defer srv.Close()

	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/things/42", 201},
		{"GET", "/things/43", 201},
		{"GET", "/things/missing", 404},
		{"POST", "/silent", 200},
		{"GET", "/nowhere", 404},   // no pattern matches
		{"BREW", "/things/1", 405}, // unknown method: bounded label
	} {
		got, err := do(t, c.method, srv.URL+c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, got, c.want)
		}
	}
	if _, err := do(t, "POST", srv.URL+"/panic"); err == nil {
		t.Error("POST /panic: no error from an aborted handler")
	}

	body := scrape(t, m)
	wantLines(t, body,
		"# TYPE swapd_http_requests_total counter",
		`swapd_http_requests_total{method="GET",route="GET /things/{id}",status="201"} 2`,
		`swapd_http_requests_total{method="GET",route="GET /things/{id}",status="404"} 1`,
		`swapd_http_requests_total{method="POST",route="POST /silent",status="200"} 1`,
		`swapd_http_requests_total{method="GET",route="other",status="404"} 1`,
		`swapd_http_requests_total{method="other",route="other",status="405"} 1`,
		`swapd_http_requests_total{method="POST",route="POST /panic",status="500"} 1`,
		"# TYPE swapd_http_request_duration_seconds histogram",
		`swapd_http_request_duration_seconds_count{method="GET",route="GET /things/{id}"} 3`,
	)
	if strings.Contains(body, "/things/42") || strings.Contains(body, "/nowhere") {
		t.Error("a raw path leaked into a label")
	}
}

// RequestID replaces the *http.Request; the pattern still reaches the label
// when Middleware sits inside it, and with MuxRoute in either order.
func TestMiddlewareWithRequestID(t *testing.T) {
	for name, build := range map[string]func(m *Metrics, mux *http.ServeMux) http.Handler{
		"RequestID outside": func(m *Metrics, mux *http.ServeMux) http.Handler {
			return RequestID(m.Middleware(nil, mux))
		},
		"MuxRoute, RequestID inside": func(m *Metrics, mux *http.ServeMux) http.Handler {
			return m.Middleware(MuxRoute(mux), RequestID(mux))
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := New()
			mux := thingsMux()
			srv := httptest.NewServer(build(m, mux))
			defer srv.Close()
			if _, err := do(t, "GET", srv.URL+"/things/7"); err != nil {
				t.Fatal(err)
			}
			if _, err := do(t, "GET", srv.URL+"/elsewhere"); err != nil {
				t.Fatal(err)
			}
			wantLines(t, scrape(t, m),
				`swapd_http_requests_total{method="GET",route="GET /things/{id}",status="201"} 1`,
				`swapd_http_requests_total{method="GET",route="other",status="404"} 1`,
			)
		})
	}
}

func TestMiddlewareCustomRoute(t *testing.T) {
	m := New()
	h := m.Middleware(func(*http.Request) string { return "static" }, http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("DELETE", "/x/y", nil))
	wantLines(t, scrape(t, m), `swapd_http_requests_total{method="DELETE",route="static",status="404"} 1`)
}

// An SSE handler behind the middleware streams: each event reaches the
// client before the handler writes the next one.
func TestMiddlewareFlush(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	gotFirst := make(chan struct{})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("wrapped writer is not an http.Flusher")
		}
		rc := http.NewResponseController(w)
		// Only reachable through Unwrap.
		if err := rc.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Errorf("ResponseController.SetWriteDeadline: %v", err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-gotFirst:
		case <-time.After(5 * time.Second):
			t.Error("client did not see the first event: Flush did not pass through")
			return
		}
		fmt.Fprint(w, "data: two\n\n")
		if err := rc.Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
	})
	srv := httptest.NewServer(m.Middleware(nil, mux))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}
	close(gotFirst)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rest), "data: two") {
		t.Errorf("second event missing: %q", rest)
	}
	wantLines(t, scrape(t, m), `swapd_http_requests_total{method="GET",route="GET /events",status="200"} 1`)
}

// Flush on a writer that cannot flush is a no-op, and FlushError says so.
func TestStatusWriterFlushUnsupported(t *testing.T) {
	sw := &statusWriter{ResponseWriter: struct{ http.ResponseWriter }{httptest.NewRecorder()}}
	sw.Flush()
	if err := sw.FlushError(); !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("FlushError = %v, want ErrNotSupported", err)
	}
}

func TestStatusWriterReadFrom(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: rec}
	n, err := io.Copy(sw, strings.NewReader("hello"))
	if err != nil || n != 5 || rec.Body.String() != "hello" || sw.status != 200 {
		t.Errorf("io.Copy: n=%d err=%v body=%q status=%d", n, err, rec.Body.String(), sw.status)
	}
}

func TestStatusWriterInformational(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: rec}
	sw.WriteHeader(http.StatusEarlyHints)
	sw.WriteHeader(http.StatusAccepted)
	if sw.status != http.StatusAccepted {
		t.Errorf("status = %d, want 202 (1xx is not final)", sw.status)
	}
}

func TestRequestID(t *testing.T) {
	var seen string
	h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestIDFrom(r.Context())
	}))
	run := func(incoming string, set bool) (echoed string) {
		req := httptest.NewRequest("GET", "/", nil)
		if set {
			req.Header.Set(RequestIDHeader, incoming)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		echoed = rec.Header().Get(RequestIDHeader)
		if echoed != seen {
			t.Errorf("header %q != context %q", echoed, seen)
		}
		return echoed
	}

	for _, good := range []string{"abc-123", "A.b_C-9", strings.Repeat("x", 64), "0f8fad5b-d9cb-469f-a165-70867728950e"} {
		if got := run(good, true); got != good {
			t.Errorf("incoming %q: echoed %q", good, got)
		}
	}

	generated := map[string]bool{}
	for _, bad := range []string{"", strings.Repeat("x", 65), "has space", "a/b", "<script>", "ünïcode", "a\tb", "semi;colon"} {
		got := run(bad, bad != "")
		if got == bad {
			t.Errorf("bad incoming %q was honoured", bad)
		}
		if len(got) != 32 || !ValidRequestID(got) || strings.Trim(got, "0123456789abcdef") != "" {
			t.Errorf("generated id %q is not 32 hex characters", got)
		}
		generated[got] = true
	}
	if len(generated) != 8 {
		t.Errorf("generated ids repeat: %v", generated)
	}

	if got := RequestIDFrom(context.Background()); got != "" {
		t.Errorf("RequestIDFrom(empty ctx) = %q", got)
	}
	if got := RequestIDFrom(ContextWithRequestID(context.Background(), "job-1")); got != "job-1" {
		t.Errorf("ContextWithRequestID round trip = %q", got)
	}
}
