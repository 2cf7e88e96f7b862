package e2e

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/jobs"
)

func TestBadInputsRejected(t *testing.T) {
	face := readFile(t, "faces/astronaut.png")
	corrupt := append([]byte{}, face[:16]...) // PNG signature, then garbage where IHDR should be
	corrupt = append(corrupt, bytes.Repeat([]byte{0xAB}, 4000)...)
	// Noise PNG: over the byte limit. A large flat PNG: under it, but over the pixel limit.
	noise := image.NewRGBA(image.Rect(0, 0, 1200, 1200))
	rand.New(rand.NewSource(1)).Read(noise.Pix)
	var big bytes.Buffer
	png.Encode(&big, noise)
	if big.Len() <= testMaxBytes {
		t.Fatalf("noise PNG is only %d bytes", big.Len())
	}
	huge := grayPNG(t, 2000, 2000)

	cases := []struct {
		name, code string
		status     int
		target     []byte
	}{
		{"corrupt image", "CORRUPT_INPUT", 422, corrupt},
		{"zero bytes", "EMPTY_INPUT", 400, []byte{}},
		{"text named .jpg", "UNSUPPORTED_MEDIA", 415, []byte("hello, I am not a JPEG\n")},
		{"too many pixels", "IMAGE_TOO_LARGE", 413, huge},
		{"too many bytes", "INPUT_TOO_LARGE", 413, big.Bytes()},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/multipart", func(t *testing.T) {
			ct, body := multipartBody(t, nil, map[string][][]byte{"source": {face}, "target": {tc.target}})
			var e apiError
			resp := st.do(t, "POST", "/v1/jobs", ct, body, &e)
			if resp.StatusCode != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("got %d %+v, want %d %s", resp.StatusCode, e.Error, tc.status, tc.code)
			}
			if !strings.Contains(e.Error.Message, "target") {
				t.Errorf("message %q does not say which input", e.Error.Message)
			}
		})
		if tc.code == "INPUT_TOO_LARGE" {
			continue // base64 of it exceeds nothing new
		}
		t.Run(tc.name+"/json", func(t *testing.T) {
			var e apiError
			resp := st.postJSON(t, "/v1/jobs", map[string]any{
				"source": map[string]string{"base64": base64.StdEncoding.EncodeToString(face)},
				"target": map[string]string{"base64": base64.StdEncoding.EncodeToString(tc.target)},
			}, &e)
			want := tc.code
			if len(tc.target) == 0 {
				want = "INVALID_REQUEST" // an empty base64 string is a missing input
			}
			if resp.StatusCode/100 != 4 || e.Error.Code != want {
				t.Fatalf("got %d %+v, want %s", resp.StatusCode, e.Error, want)
			}
		})
	}
}

func TestVideoSourceRejected(t *testing.T) {
	ct, body := multipartBody(t, nil, map[string][][]byte{"source": {readFile(t, "video/five_people_640x480.mp4")}, "target": {readFile(t, "faces/astronaut.png")}})
	var e apiError
	resp := st.do(t, "POST", "/v1/jobs", ct, body, &e)
	if resp.StatusCode != 415 || e.Error.Code != "UNSUPPORTED_MEDIA" || !strings.Contains(e.Error.Message, "video") {
		t.Fatalf("got %d %+v", resp.StatusCode, e.Error)
	}
}

func TestInvalidRequests(t *testing.T) {
	face := base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))
	cases := map[string]any{
		"no source":          map[string]any{"target": map[string]string{"base64": face}},
		"empty source list":  map[string]any{"source": []any{}, "target": map[string]string{"base64": face}},
		"no target":          map[string]any{"source": map[string]string{"base64": face}},
		"two kinds in input": map[string]any{"source": map[string]string{"base64": face, "url": "https://example.com/a.jpg"}, "target": map[string]string{"base64": face}},
		"bad option":         map[string]any{"source": map[string]string{"base64": face}, "target": map[string]string{"base64": face}, "options": map[string]any{"face_selector": "everyone"}},
		"unknown field":      map[string]any{"source": map[string]string{"base64": face}, "target": map[string]string{"base64": face}, "colour": "blue"},
		"foreign key":        map[string]any{"source": map[string]string{"key": "jobs/x/output.png"}, "target": map[string]string{"base64": face}},
		"bad base64":         map[string]any{"source": map[string]string{"base64": "!!!not base64!!!"}, "target": map[string]string{"base64": face}},
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			var e apiError
			resp := st.postJSON(t, "/v1/jobs", body, &e)
			if resp.StatusCode != 400 || e.Error.Code != "INVALID_REQUEST" {
				t.Fatalf("got %d %+v", resp.StatusCode, e.Error)
			}
		})
	}
	var e apiError
	resp := st.do(t, "POST", "/v1/jobs", "application/json", strings.NewReader("{not json"), &e)
	if resp.StatusCode != 400 || e.Error.Code != "INVALID_REQUEST" {
		t.Fatalf("malformed JSON: %d %+v", resp.StatusCode, e.Error)
	}
	resp = st.postJSON(t, "/v1/jobs", map[string]any{
		"source": map[string]string{"key": "uploads/0000-never-uploaded"}, "target": map[string]string{"base64": face}}, &e)
	if resp.StatusCode != 400 || e.Error.Code != "INPUT_NOT_FOUND" {
		t.Fatalf("missing upload: %d %+v", resp.StatusCode, e.Error)
	}
}

func TestAuthRequired(t *testing.T) {
	for _, path := range []string{"/v1/jobs/0190c0de-0000-7000-8000-000000000000", "/monitoring/", "/v1/uploads"} {
		for _, auth := range []string{"", "Bearer wrong-key", "Basic " + base64.StdEncoding.EncodeToString([]byte("x:wrong"))} {
			req, _ := http.NewRequest("GET", st.URL+path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with %q: %d, want 401", path, auth, resp.StatusCode)
			}
		}
	}
	resp, err := http.Post(st.URL+"/v1/jobs", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("unauthenticated submit: %d", resp.StatusCode)
	}
	// Health needs no key; the dashboard opens with an admin key as Basic password.
	if resp, _ := http.Get(st.URL + "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", st.URL+"/monitoring/", nil)
	req.SetBasicAuth("admin", st.Admin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("dashboard: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestPrivateURLsRefused(t *testing.T) {
	face := base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))
	for _, u := range []string{"http://127.0.0.1:9000/x.jpg", "http://169.254.169.254/latest/meta-data/", "http://[::1]/a.png", "http://10.0.0.7/a.png"} {
		var e apiError
		resp := st.postJSON(t, "/v1/jobs", map[string]any{"source": map[string]string{"url": u}, "target": map[string]string{"base64": face}}, &e)
		if resp.StatusCode != 400 || e.Error.Code != "URL_BLOCKED" {
			t.Errorf("source url %s: %d %+v", u, resp.StatusCode, e.Error)
		}
		resp = st.postJSON(t, "/v1/jobs", map[string]any{"source": map[string]string{"base64": face}, "target": map[string]string{"base64": face},
			"webhook": map[string]string{"url": u}}, &e)
		if resp.StatusCode != 400 || e.Error.Code != "URL_BLOCKED" {
			t.Errorf("webhook url %s: %d %+v", u, resp.StatusCode, e.Error)
		}
	}
}

// A host name that resolves to a private address passes the request-time check and
// is refused by the worker at dial time.
func TestPrivateURLRefusedAtDialTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the worker reached a private address")
	}))
	defer srv.Close()
	// There is no DNS here to point a public-looking name at 127.0.0.1, so the
	// dial-time guard is exercised by an allowed host redirecting to a blocked one.
	redirect := httptest.NewServer(http.RedirectHandler(srv.URL+"/face.jpg", http.StatusFound))
	defer redirect.Close()
	var c created
	st.postJSON(t, "/v1/jobs", map[string]any{
		"source": map[string]string{"url": strings.Replace(redirect.URL, "127.0.0.1", "localhost", 1)},
		"target": map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))},
	}, &c)
	j := st.waitStatus(t, c.ID, jobs.Failed)
	if j.Error == nil || j.Error.Code != "URL_BLOCKED" {
		t.Fatalf("job error %+v", j.Error)
	}
}

func TestCancelRunningJob(t *testing.T) {
	rec, hook := receiver(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hold the worker in its fetch step until canceled
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	var c created
	st.postJSON(t, "/v1/jobs", map[string]any{
		"source":  map[string]string{"url": strings.Replace(slow.URL, "127.0.0.1", "localhost", 1) + "/face.png"},
		"target":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))},
		"webhook": map[string]string{"url": hook},
	}, &c)
	st.waitStatus(t, c.ID, jobs.Running)
	var j jobs.Job
	if resp := st.do(t, "POST", "/v1/jobs/"+c.ID+"/cancel", "", nil, &j); resp.StatusCode != 200 || j.Status != jobs.Canceled {
		t.Fatalf("cancel: %d %+v", resp.StatusCode, j)
	}
	reqs := waitWebhook(t, rec, 1)
	if ev := decodeEvent(t, reqs[0].Body); ev.Type != "job.canceled" {
		t.Fatalf("event %s", ev.Type)
	}
	time.Sleep(time.Second) // the worker notices within one poll and must not revive the job
	final := st.get(t, c.ID)
	if final.Status != jobs.Canceled || final.Output != nil {
		t.Fatalf("after cancel: %+v", final)
	}
	var e apiError
	if resp := st.do(t, "POST", "/v1/jobs/"+c.ID+"/cancel", "", nil, &e); resp.StatusCode != 409 || e.Error.Code != "CONFLICT" {
		t.Fatalf("second cancel: %d %+v", resp.StatusCode, e)
	}
}

func TestDeleteRemovesEverything(t *testing.T) {
	var c created
	st.postJSON(t, "/v1/jobs", map[string]any{
		"source":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))},
		"target":  map[string]string{"base64": base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))},
		"options": map[string]any{"output_format": "jpeg"},
	}, &c)
	j := st.waitStatus(t, c.ID, jobs.Succeeded)
	if j.Output.ContentType != "image/jpeg" {
		t.Fatalf("output %+v", j.Output)
	}
	outURL := j.Output.URL
	if resp := st.do(t, "DELETE", "/v1/jobs/"+c.ID, "", nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp := st.do(t, "GET", "/v1/jobs/"+c.ID, "", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("GET after delete: %d", resp.StatusCode)
	}
	resp, err := http.Get(outURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("output still served after delete: %d", resp.StatusCode)
	}
}
