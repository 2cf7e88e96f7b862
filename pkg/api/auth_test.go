package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRequireKey(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := requireKey(testDeps(&Deps{Keys: []string{"k1", "k2"}, AdminKeys: []string{"a1"}}))(ok)
	cases := []struct {
		name, path, auth string
		want             int
		challenge        string
	}{
		{"bearer first key", "/v1/jobs", "Bearer k1", 204, ""},
		{"bearer second key", "/v1/jobs", "Bearer k2", 204, ""},
		{"admin key", "/v1/jobs", "Bearer a1", 204, ""},
		{"basic password", "/monitoring/", "Basic " + basic("u", "k2"), 204, ""},
		{"none", "/v1/jobs", "", 401, `Bearer realm="swapd"`},
		{"wrong", "/v1/jobs", "Bearer k3", 401, `Bearer realm="swapd"`},
		{"prefix of a key", "/v1/jobs", "Bearer k", 401, `Bearer realm="swapd"`},
		{"empty bearer", "/v1/jobs", "Bearer ", 401, `Bearer realm="swapd"`},
		{"dashboard asks for basic", "/monitoring/", "", 401, `Basic realm="swapd"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want || w.Header().Get("WWW-Authenticate") != tc.challenge {
				t.Fatalf("got %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
			}
		})
	}
	// No keys configured means nothing is accepted, not everything.
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/v1/jobs", nil)
	r.Header.Set("Authorization", "Bearer ")
	requireKey(testDeps(&Deps{}))(ok).ServeHTTP(w, r)
	if w.Code != 401 {
		t.Fatalf("empty key list accepted a request: %d", w.Code)
	}
}

// TestRequireAdmin: the dashboard and /metrics open for admin keys only; a tenant
// key is recognised (403, not 401) but refused.
func TestRequireAdmin(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := requireAdmin(testDeps(&Deps{Keys: []string{"t1"}, AdminKeys: []string{"a1", "a2"}}))(ok)
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"Bearer a1", 204}, {"Basic " + basic("ops", "a2"), 204},
		{"Bearer t1", 403}, {"Basic " + basic("u", "t1"), 403},
		{"Bearer nope", 401}, {"", 401},
	} {
		r := httptest.NewRequest("GET", "/monitoring/api/queues", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%q: got %d, want %d", tc.auth, w.Code, tc.want)
		}
		if tc.want == 403 && !bytes.Contains(w.Body.Bytes(), []byte(`"FORBIDDEN"`)) {
			t.Errorf("%q: 403 body without the FORBIDDEN code: %s", tc.auth, w.Body)
		}
	}
	// No admin keys configured: nobody opens the dashboard.
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.Header.Set("Authorization", "Bearer ")
	requireAdmin(testDeps(&Deps{Keys: []string{"t1"}}))(ok).ServeHTTP(w, r)
	if w.Code != 401 {
		t.Fatalf("empty admin key list accepted a request: %d", w.Code)
	}
}

// testDeps fills in d's defaults (the keyring from its key lists), as NewServer does.
func testDeps(d *Deps) *Deps { d.defaults(); return d }

func basic(u, p string) string {
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth(u, p)
	return r.Header.Get("Authorization")[len("Basic "):]
}

func TestCapReader(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 100)
	got, err := io.ReadAll(&capReader{r: bytes.NewReader(data), left: 100})
	if err != nil || len(got) != 100 {
		t.Fatalf("at the limit: %d %v", len(got), err)
	}
	_, err = io.ReadAll(&capReader{r: bytes.NewReader(data), left: 99})
	if !errors.Is(err, errTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
}
