package tasks

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/netguard"
)

// dialFails is a client whose every connection fails with err, as the resolver or
// the network would fail it, wrapped by net/http the way a real failure is.
func dialFails(err error) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		},
	}}
}

// A URL input fails for good (an errcode, so no retry) when retrying cannot help:
// the host does not exist, the source answers 4xx. Timeouts, refused connections,
// DNS server failures, 5xx, 429 and 408 stay transient (no errcode).
func TestFetchClassifiesFailures(t *testing.T) {
	ctx := context.Background()
	check := func(name string, f *Fetcher, url, wantCode string) {
		t.Helper()
		_, err := f.Fetch(ctx, jobs.Input{URL: url}, 1<<20)
		e, coded := errcode.As(err)
		switch {
		case err == nil:
			t.Errorf("%s: no error", name)
		case wantCode == "" && coded:
			t.Errorf("%s: %v is permanent (%s), want transient", name, err, e.Code)
		case wantCode != "" && (!coded || e.Code != wantCode):
			t.Errorf("%s: %v, want %s", name, err, wantCode)
		}
	}
	nx := &net.DNSError{Err: "no such host", Name: "swapd-test.invalid", IsNotFound: true}
	check("NXDOMAIN", &Fetcher{Client: dialFails(nx)}, "http://swapd-test.invalid/a.jpg", errcode.FetchFailed)
	check("DNS timeout", &Fetcher{Client: dialFails(&net.DNSError{Err: "i/o timeout", Name: "a.example", IsTimeout: true})}, "http://a.example/a.jpg", "")
	check("DNS server failure", &Fetcher{Client: dialFails(&net.DNSError{Err: "server misbehaving", Name: "a.example", IsTemporary: true})}, "http://a.example/a.jpg", "")

	// A refused connection: a port nothing listens on, through the real guarded client.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := strings.Replace("http://"+l.Addr().String()+"/a.jpg", "127.0.0.1", "localhost", 1)
	l.Close()
	guarded := &Fetcher{Client: netguard.NewClient(netguard.Policy{Allow: []string{"localhost"}}, 5*time.Second)}
	check("connection refused", guarded, closed, "")

	// Redirects to a scheme swapd does not fetch, redirect loops and addresses that
	// cannot be dialled fail at once too.
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ftp":
			http.Redirect(w, r, "ftp://example.com/a.jpg", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	}))
	defer redir.Close()
	byName := strings.Replace(redir.URL, "127.0.0.1", "localhost", 1)
	check("redirect to ftp", guarded, byName+"/ftp", errcode.FetchFailed)
	check("redirect loop", guarded, byName+"/loop", errcode.FetchFailed)
	check("port 99999", guarded, "http://localhost:99999/a.jpg", errcode.FetchFailed)

	// The message names the host that does not exist.
	if _, err := (&Fetcher{Client: dialFails(nx)}).Fetch(ctx, jobs.Input{URL: "http://swapd-test.invalid/a.jpg"}, 10); err == nil || !strings.Contains(err.Error(), "swapd-test.invalid") {
		t.Errorf("NXDOMAIN message: %v", err)
	}

	status := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte("body"))
	}))
	defer srv.Close()
	plain := &Fetcher{Client: srv.Client()}
	for code, want := range map[int]string{
		400: errcode.FetchFailed, 401: errcode.FetchFailed, 403: errcode.FetchFailed, 404: errcode.FetchFailed,
		410: errcode.FetchFailed, 451: errcode.FetchFailed, 204: errcode.FetchFailed,
		408: "", 429: "", 500: "", 502: "", 503: "",
	} {
		status = code
		check(http.StatusText(code), plain, srv.URL+"/a.jpg", want)
	}
	status = 200
	if b, err := plain.Fetch(ctx, jobs.Input{URL: srv.URL + "/a.jpg"}, 10); err != nil || string(b) != "body" {
		t.Fatalf("200: %q %v", b, err)
	}
}
