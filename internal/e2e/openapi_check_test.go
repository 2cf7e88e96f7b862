package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Every request the e2e tests send to the API, and its answer, is checked against the
// OpenAPI document the stack serves at /openapi.json: TestMain installs openAPIChecked
// as http.DefaultTransport, which http.DefaultClient, http.Get and clients without a
// transport of their own use. A mismatch fails the request (RoundTrip returns the
// error, and prints it, since some tests ignore Get's error), so the test that sent it
// fails there. Where they disagree, the document is what gets fixed.
//
// The rules:
//   - A request the document describes: its answer must be a status the document lists
//     for it, with headers and body as described.
//   - A request the document calls invalid (unknown field, missing key, bad parameter):
//     the API must refuse it with a 4xx, itself as described.
//   - A path or method the document does not describe: the API must answer 4xx.
//   - Requests to other hosts (object storage, webhook receivers, source servers) pass
//     through unchecked.
//
// And the explicit exceptions, each for a reason:
//   - text/event-stream answers (GET /v1/jobs/{id}/events): status and headers are
//     checked, the body is not read, since it streams until the job ends (tests read it
//     event by event).
//   - /monitoring/ is asynqmon's dashboard mounted as is: its pages and JSON API are
//     asynqmon's, not swapd's, so only swapd's part is checked there: 401 and 403
//     answers must be swapd's Error.
//   - The root of a subtree (/monitoring/) is matched to the subtree's templated path
//     (/monitoring/{page}): OpenAPI cannot describe an empty path segment.

// openAPIChecked returns base wrapped so that requests to s's API are checked. The
// document is fetched with s's key on first use.
func openAPIChecked(s *stack, base http.RoundTripper) http.RoundTripper {
	u, err := url.Parse(s.URL)
	if err != nil {
		panic(err)
	}
	return &openAPICheck{base: base, host: u.Host, load: func() (*openapi3.T, error) { return fetchDocument(s.URL, s.Key, base) }}
}

type openAPICheck struct {
	base http.RoundTripper
	host string // host:port of the API; other hosts pass through
	load func() (*openapi3.T, error)

	once   sync.Once
	router routers.Router
	err    error
}

// fetchDocument loads the document the API serves, with its servers replaced by
// apiURL (the document's own server is relative: "/").
func fetchDocument(apiURL, key string, rt http.RoundTripper) (*openapi3.T, error) {
	req, _ := http.NewRequest("GET", apiURL+"/openapi.json", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /openapi.json: %d %s", resp.StatusCode, b)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("/openapi.json does not load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("/openapi.json is not valid OpenAPI: %w", err)
	}
	doc.Servers = openapi3.Servers{{URL: apiURL}}
	return doc, nil
}

func init() {
	// Bodies of these types are read as text; the document describes them as strings.
	for _, ct := range []string{"text/html", "text/event-stream"} {
		openapi3filter.RegisterBodyDecoder(ct, func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(r)
			return string(b), err
		})
	}
}

func (c *openAPICheck) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != c.host {
		return c.base.RoundTrip(req)
	}
	c.once.Do(func() {
		doc, err := c.load()
		if err == nil {
			c.router, err = legacy.NewRouter(doc)
		}
		c.err = err
	})
	if c.err != nil {
		return nil, fmt.Errorf("openapi check: %w", c.err)
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	err = c.check(req, body, resp)
	if os.Getenv("E2E_OPENAPI_TRACE") != "" { // debugging: every exchange checked
		fmt.Fprintf(os.Stderr, "openapi check: %s %s %d: %v\n", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	if err != nil {
		resp.Body.Close()
		err = fmt.Errorf("openapi: %s %s answered %d: %w", req.Method, req.URL.RequestURI(), resp.StatusCode, err)
		fmt.Fprintln(os.Stderr, err)
		return nil, err
	}
	return resp, nil
}

// check validates one exchange; resp's body is read (except a stream's) and replaced.
func (c *openAPICheck) check(req *http.Request, body []byte, resp *http.Response) error {
	ctx := context.Background()
	is4xx := resp.StatusCode >= 400 && resp.StatusCode < 500
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(bytes.NewReader(body))

	if strings.HasPrefix(req.URL.Path, "/monitoring/") {
		// asynqmon's own pages and API (see above): only swapd's refusals are checked.
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			return nil
		}
		vreq.Method = http.MethodGet
		if strings.HasSuffix(vreq.URL.Path, "/") {
			vreq.URL.Path += "index" // the subtree's root, as its templated path
		}
	}

	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		if is4xx {
			return nil // not described, and refused
		}
		return fmt.Errorf("the document does not describe this request (%v), yet it was not refused", err)
	}
	auth := func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		h := in.RequestValidationInput.Request.Header.Get("Authorization")
		switch in.SecurityScheme.Scheme {
		case "bearer":
			if strings.HasPrefix(h, "Bearer ") {
				return nil
			}
		case "basic":
			if _, _, ok := in.RequestValidationInput.Request.BasicAuth(); ok {
				return nil
			}
		case "": // apiKey: the whole header
			if h != "" && in.SecurityScheme.In == "header" {
				return nil
			}
		}
		return errors.New("no " + in.SecurityScheme.Type + " " + in.SecurityScheme.Scheme + " credentials")
	}
	reqIn := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: auth}}
	if err := openapi3filter.ValidateRequest(ctx, reqIn); err != nil && !is4xx {
		return fmt.Errorf("the document says the request is invalid (%v), yet it was not refused", err)
	}

	respOpts := &openapi3filter.Options{IncludeResponseStatus: true}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var rbody []byte
	if mt == "text/event-stream" {
		respOpts.ExcludeResponseBody = true // a stream until the job ends (see above)
	} else {
		rbody, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(rbody))
		if err != nil {
			return err
		}
	}
	respIn := &openapi3filter.ResponseValidationInput{RequestValidationInput: reqIn, Status: resp.StatusCode,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(rbody)), Options: respOpts}
	if err := openapi3filter.ValidateResponse(ctx, respIn); err != nil {
		return fmt.Errorf("the answer does not match the document: %v (body %.300s)", err, rbody)
	}
	return nil
}

// TestOpenAPICheckCatchesMismatches: the checker itself, against the stack's document
// and a fake API, fails what it should and passes what it should.
func TestOpenAPICheckCatchesMismatches(t *testing.T) {
	doc, err := fetchDocument(st.URL, st.Key, http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	var status int
	var answer string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	defer fake.Close()
	doc.Servers = openapi3.Servers{{URL: fake.URL}}
	u, _ := url.Parse(fake.URL)
	client := &http.Client{Transport: &openAPICheck{base: http.DefaultTransport, host: u.Host, load: func() (*openapi3.T, error) { return doc, nil }}}
	job := `{"id": "0190c0de-0000-7000-8000-000000000000", "kind": "probe", "status": "%s", "progress": {"done": 0, "total": 0},
		"created_at": "2026-01-01T00:00:00Z", "attempts": 0, "sources": [], "target": {}, "options": {}}`
	for _, tc := range []struct {
		name, method, path, auth, body string
		status                         int
		answer                         string
		ok                             bool
	}{
		{"a described job", "GET", "/v1/jobs/0190c0de-0000-7000-8000-000000000000", "Bearer k", "", 200, fmt.Sprintf(job, "queued"), true},
		{"a status outside the enum", "GET", "/v1/jobs/0190c0de-0000-7000-8000-000000000000", "Bearer k", "", 200, fmt.Sprintf(job, "done"), false},
		{"sources null", "GET", "/v1/jobs/0190c0de-0000-7000-8000-000000000000", "Bearer k", "", 200, strings.Replace(fmt.Sprintf(job, "queued"), "[]", "null", 1), false},
		{"an undescribed status", "GET", "/v1/jobs/0190c0de-0000-7000-8000-000000000000", "Bearer k", "", 418, `{"error": {"code": "X", "message": "x"}}`, false},
		{"an error that is not an Error", "GET", "/v1/jobs/0190c0de-0000-7000-8000-000000000000", "Bearer k", "", 404, `{"message": "x"}`, false},
		{"no key, refused", "GET", "/v1/jobs", "", "", 401, `{"error": {"code": "UNAUTHORIZED", "message": "x"}}`, true},
		{"no key, served", "GET", "/v1/jobs", "", "", 200, `{"jobs": []}`, false},
		{"an unknown field, accepted", "POST", "/v1/jobs", "Bearer k", `{"kind": "probe", "colour": "blue"}`, 202, `{"id": "x", "status": "queued"}`, false},
		{"an unknown field in an input, refused", "POST", "/v1/jobs", "Bearer k", `{"source": {"key": "uploads/a", "bogus": 1}, "target": {"key": "uploads/b"}}`, 400, `{"error": {"code": "INVALID_REQUEST", "message": "x"}}`, true},
		{"a probe", "POST", "/v1/jobs", "Bearer k", `{"kind": "probe"}`, 202, `{"id": "x", "status": "queued"}`, true},
		{"an undescribed path, served", "GET", "/v1/nothing", "Bearer k", "", 200, `{}`, false},
		{"an undescribed path, refused", "GET", "/v1/nothing", "Bearer k", "", 404, `{}`, true},
	} {
		status, answer = tc.status, tc.answer
		req, _ := http.NewRequest(tc.method, fake.URL+tc.path, strings.NewReader(tc.body))
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
