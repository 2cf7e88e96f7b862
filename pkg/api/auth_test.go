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
	h := requireKey([]string{"k1", "k2"})(ok)
	cases := []struct {
		name, path, auth string
		want             int
		challenge        string
	}{
		{"bearer first key", "/v1/jobs", "Bearer k1", 204, ""},
		{"bearer second key", "/v1/jobs", "Bearer k2", 204, ""},
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
	requireKey(nil)(ok).ServeHTTP(w, r)
	if w.Code != 401 {
		t.Fatalf("empty key list accepted a request: %d", w.Code)
	}
}

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
