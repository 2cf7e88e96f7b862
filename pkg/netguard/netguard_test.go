package netguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustPolicy(t *testing.T, spec string) Policy {
	t.Helper()
	p, err := ParsePolicy(spec)
	if err != nil {
		t.Fatalf("ParsePolicy(%q): %v", spec, err)
	}
	return p
}

func TestParsePolicy(t *testing.T) {
	p := mustPolicy(t, " minio, 10.0.0.0/8 ,,127.0.0.1/32, localhost, ::1, fd00::/8 ")
	want := "minio,10.0.0.0/8,127.0.0.1/32,localhost,::1,fd00::/8"
	if p.String() != want {
		t.Fatalf("got %q want %q", p.String(), want)
	}
	for _, bad := range []string{"10.0.0.0/33", "10.0.0.300/8", "fe80::zz", "bad host", "a/b", "http://minio"} {
		if _, err := ParsePolicy(bad); err == nil {
			t.Errorf("ParsePolicy(%q): want error", bad)
		}
	}
	if p, err := ParsePolicy(""); err != nil || len(p.Allow) != 0 {
		t.Fatalf("empty spec: %v %v", p, err)
	}
}

func TestCheckURLDefaultBlocks(t *testing.T) {
	for _, raw := range []string{
		"http://127.0.0.1/",
		"http://127.0.0.1:6379/",
		"http://169.254.169.254/latest/meta-data/",
		"http://10.1.2.3/x",
		"http://172.16.0.1/",
		"http://192.168.1.1/",
		"http://100.64.0.1/",
		"http://0.0.0.0/",
		"http://224.0.0.1/",
		"http://[::1]/",
		"http://[::]/",
		"http://[fc00::1]/",
		"http://[fe80::1]/",
		"http://[::ffff:127.0.0.1]/",
		"http://[::ffff:10.0.0.1]/",
		"http://localhost/",
		"http://LOCALHOST:8080/",
		"http://foo.localhost/",
		"http://2130706433/",
		"http://0x7f.1/",
		"http://127.1/",
	} {
		err := CheckURL(raw, Policy{})
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("CheckURL(%q) = %v, want ErrBlocked", raw, err)
		}
	}
}

func TestCheckURLInvalid(t *testing.T) {
	for _, raw := range []string{"ftp://example.com/x", "file:///etc/passwd", "gopher://x", "//example.com/x", "http:///path", "::bad"} {
		err := CheckURL(raw, Policy{})
		if !errors.Is(err, ErrInvalidURL) {
			t.Errorf("CheckURL(%q) = %v, want ErrInvalidURL", raw, err)
		}
	}
}

func TestCheckURLAllowed(t *testing.T) {
	// Public-looking literals and names pass the pre-check.
	for _, raw := range []string{"https://8.8.8.8/x", "http://93.184.215.14:8080/", "https://[2606:4700::1111]/", "https://example.com/img.png", "https://1e100.net/"} {
		if err := CheckURL(raw, Policy{}); err != nil {
			t.Errorf("CheckURL(%q): %v", raw, err)
		}
	}
	p := mustPolicy(t, "127.0.0.1/32,10.0.0.0/8,::1,localhost,minio")
	for _, raw := range []string{"http://127.0.0.1:9000/", "http://10.1.2.3/", "http://[::1]:80/", "http://localhost/", "http://MINIO:9000/b/k"} {
		if err := CheckURL(raw, p); err != nil {
			t.Errorf("CheckURL(%q) with %s: %v", raw, p, err)
		}
	}
	// Allowing one loopback address does not allow the rest of 127/8 or metadata.
	for _, raw := range []string{"http://127.0.0.2/", "http://169.254.169.254/"} {
		if err := CheckURL(raw, p); !errors.Is(err, ErrBlocked) {
			t.Errorf("CheckURL(%q) with %s = %v, want ErrBlocked", raw, p, err)
		}
	}
}

// get performs a GET with a short deadline and returns the error (nil on any
// HTTP response).
func get(t *testing.T, c *http.Client, raw string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func TestClientBlocksAtDialTime(t *testing.T) {
	c := NewClient(Policy{}, 5*time.Second)
	// None of these are connected to: the dial is refused before connect().
	for _, raw := range []string{
		"http://127.0.0.1:1/",
		"http://169.254.169.254/latest/meta-data/",
		"http://10.1.2.3/",
		"http://[::1]:1/",
		"http://localhost:1/", // a name: passes no pre-check, refused after resolution
	} {
		_, err := get(t, c, raw)
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("GET %s: err = %v, want ErrBlocked", raw, err)
			continue
		}
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Errorf("GET %s: %T is not a *url.Error", raw, err)
		}
		var be *BlockedError
		if !errors.As(err, &be) || be.Addr == "" || !strings.Contains(err.Error(), be.Addr) {
			t.Errorf("GET %s: error %q does not name the address", raw, err)
		}
	}
}

func TestClientReachesLoopbackOnlyWhenAllowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	if _, err := get(t, NewClient(Policy{}, 5*time.Second), srv.URL); !errors.Is(err, ErrBlocked) {
		t.Fatalf("default policy: err = %v, want ErrBlocked", err)
	}
	if _, err := get(t, NewClient(mustPolicy(t, "10.0.0.0/8"), 5*time.Second), srv.URL); !errors.Is(err, ErrBlocked) {
		t.Fatalf("unrelated allow: err = %v, want ErrBlocked", err)
	}
	resp, err := get(t, NewClient(mustPolicy(t, "127.0.0.1/32"), 5*time.Second), srv.URL)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("allowed 127.0.0.1/32: resp=%v err=%v", resp, err)
	}
	// Allowing the name "localhost" lets the client reach the server by that name.
	u, _ := url.Parse(srv.URL)
	byName := "http://localhost:" + u.Port() + "/"
	resp, err = get(t, NewClient(mustPolicy(t, "localhost"), 5*time.Second), byName)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("allowed host localhost: resp=%v err=%v", resp, err)
	}
	// …but not by its IP.
	if _, err := get(t, NewClient(mustPolicy(t, "localhost"), 5*time.Second), srv.URL); !errors.Is(err, ErrBlocked) {
		t.Fatalf("allowed host localhost, GET by IP: err = %v, want ErrBlocked", err)
	}
}

func TestRedirectToBlockedAddressRefused(t *testing.T) {
	for _, target := range []string{"http://169.254.169.254/latest/meta-data/", "http://127.0.0.2:1/", "http://10.1.2.3/"} {
		srv := httptest.NewServer(http.RedirectHandler(target, http.StatusFound))
		c := NewClient(mustPolicy(t, "127.0.0.1/32"), 5*time.Second)
		_, err := get(t, c, srv.URL)
		srv.Close()
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("redirect to %s: err = %v, want ErrBlocked", target, err)
		}
	}
}

func TestRedirectLimitsAndScheme(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, srv.URL+"/loop", http.StatusFound)
		default:
			// /hopN redirects N times then answers.
			var n int
			if _, err := fmt.Sscanf(r.URL.Path, "/hop%d", &n); err == nil && n > 0 {
				http.Redirect(w, r, srv.URL+"/hop"+strconv.Itoa(n-1), http.StatusFound)
				return
			}
			io.WriteString(w, "done")
		}
	}))
	defer srv.Close()
	c := NewClient(mustPolicy(t, "127.0.0.1/32"), 5*time.Second)

	if _, err := get(t, c, srv.URL+"/file"); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("redirect to file://: err = %v, want ErrInvalidURL", err)
	}
	if _, err := get(t, c, srv.URL+"/loop"); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("redirect loop: err = %v", err)
	}
	if resp, err := get(t, c, srv.URL+"/hop5"); err != nil || resp.StatusCode != 200 {
		t.Errorf("5 redirects should be followed: resp=%v err=%v", resp, err)
	}
	if _, err := get(t, c, srv.URL+"/hop6"); err == nil {
		t.Errorf("6 redirects should fail")
	}
}

func TestNoProxyFromEnvironment(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	if NewTransport(Policy{}).Proxy != nil {
		t.Fatal("transport must not use a proxy")
	}
}
