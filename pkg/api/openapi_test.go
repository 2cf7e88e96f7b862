package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/metrics"
)

type recorder []string

func (r *recorder) Handle(pattern string, _ http.Handler) { *r = append(*r, pattern) }

// served builds the routes as NewServer does, without a server, and returns the
// patterns registered and the document /openapi.json serves.
func served(t *testing.T) (recorder, []byte) {
	t.Helper()
	d := &Deps{Keys: []string{"k"}, Metrics: metrics.New(), Monitor: http.NotFoundHandler()}
	d.defaults()
	var routes recorder
	addRoutes(&routes, d)
	b, err := json.MarshalIndent(Document(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return routes, b
}

// TestDocumentIsTheSameEachTime: /openapi.json and /docs each build the document from
// the same path items; building it must not change them.
func TestDocumentIsTheSameEachTime(t *testing.T) {
	d := &Deps{Keys: []string{"k"}, Metrics: metrics.New(), Monitor: http.NotFoundHandler()}
	d.defaults()
	var routes recorder
	addRoutes(&routes, d)
	a, _ := json.Marshal(Document())
	b, _ := json.Marshal(Document())
	if string(a) != string(b) {
		t.Fatal("a second Document differs from the first")
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the second document is not valid: %v", err)
	}
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	routes, b := served(t)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("the document does not parse as OpenAPI: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("version %s", doc.OpenAPI)
	}
	described := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described[method+" "+path] = true
		}
	}
	served := map[string]bool{}
	methodPath := regexp.MustCompile(`^([A-Z]+) (\S+)$`)
	for _, p := range routes {
		if p == "/" {
			continue // the catch-all 404
		}
		key := "GET " + p
		if m := methodPath.FindStringSubmatch(p); m != nil {
			key = m[1] + " " + m[2]
		}
		if strings.HasSuffix(key, "/") {
			// A subtree ("/monitoring/") is described as one templated path below it
			// ("/monitoring/{page}"): OpenAPI has no trailing-slash paths.
			sub := regexp.MustCompile("^" + regexp.QuoteMeta(key) + `\{\w+\}$`)
			for k := range described {
				if sub.MatchString(k) {
					key = k
				}
			}
		}
		served[key] = true
		if !described[key] {
			t.Errorf("route %q is not in the OpenAPI document", p)
		}
	}
	for k := range described {
		if !served[k] {
			t.Errorf("the document describes %q, which no route serves", k)
		}
	}
	for _, name := range []string{"Job", "Options", "Submission", "Page", "Error"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("schema %s missing", name)
		}
	}
	// Generated from the Go types: a field of jobs.Options is in the schema.
	if doc.Components.Schemas["Options"].Value.Properties["mouth_mask"] == nil {
		t.Error("Options schema lacks mouth_mask: not generated from the type?")
	}
}

func TestDocsPageIsSelfContained(t *testing.T) {
	d := &Deps{Keys: []string{"k"}, Metrics: metrics.New(), Monitor: http.NotFoundHandler()}
	d.defaults()
	var routes recorder
	addRoutes(&routes, d)
	w := httptest.NewRecorder()
	handleDocs(d).ServeHTTP(w, httptest.NewRequest("GET", "/docs", nil))
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "openapi.json") {
		t.Fatalf("%d", w.Code)
	}
	if regexp.MustCompile(`(?i)<script[^>]+src=|<link[^>]+href="?https?:|https?://[a-z0-9.-]+/[^"']*\.js`).MatchString(body) {
		t.Fatal("the docs page loads something from outside")
	}
	// The document is in the page (a page opened as http://user:KEY@host/docs cannot
	// fetch it), complete and parseable, and the page fetches nothing.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="openapi">(.*?)</script>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the document is not embedded in the page")
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(m[1]), &doc); err != nil {
		t.Fatalf("the embedded document does not parse: %v", err)
	}
	if paths, _ := doc["paths"].(map[string]any); paths["/v1/jobs"] == nil || paths["/v2/{endpoint}/run"] == nil {
		t.Fatalf("the embedded document lacks paths: %v", doc["paths"])
	}
	if strings.Contains(body, "fetch(") {
		t.Fatal("the docs page fetches; it should render the embedded document")
	}
}

// TestOpenAPIWhatLintersAsk checks what redocly and spectral ask of the document, so
// a regression shows without npm: servers, license and contact, and every operation
// with a unique operationId, a defined tag, a description, a 2xx and (unless public)
// a 401; no trailing-slash path. And what clients rely on: options optional, source
// one Input or a list, enums for status and kind, strict request objects.
func TestOpenAPIWhatLintersAsk(t *testing.T) {
	_, b := served(t)
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) == 0 || doc.Info.License == nil || doc.Info.Contact == nil {
		t.Error("servers, info.license and info.contact are required")
	}
	tags := map[string]bool{}
	for _, tg := range doc.Tags {
		tags[tg.Name] = true
	}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		if len(path) > 1 && strings.HasSuffix(path, "/") {
			t.Errorf("path %q ends in a slash", path)
		}
		for method, o := range item.Operations() {
			where := method + " " + path
			if o.OperationID == "" {
				t.Errorf("%s has no operationId", where)
			} else if other, dup := ids[o.OperationID]; dup {
				t.Errorf("%s and %s share operationId %s", where, other, o.OperationID)
			}
			ids[o.OperationID] = where
			if len(o.Tags) == 0 || !tags[o.Tags[0]] {
				t.Errorf("%s has no defined tag: %v", where, o.Tags)
			}
			if strings.HasPrefix(path, "/v1/") && o.Description == "" {
				t.Errorf("%s has no description", where)
			}
			public := o.Security != nil && len(*o.Security) == 0
			if !public && o.Responses.Value("401") == nil {
				t.Errorf("%s is authenticated but does not describe 401", where)
			}
		}
	}
	s := doc.Components.Schemas
	for _, r := range s["Submission"].Value.Required {
		if r == "options" {
			t.Error("options is required in Submission")
		}
	}
	src := s["Submission"].Value.Properties["source"].Value
	if len(src.OneOf) != 2 || src.OneOf[0].Ref != "#/components/schemas/Input" || src.OneOf[1].Value.Items.Ref != "#/components/schemas/Input" {
		t.Errorf("source is not one Input or a list of Input: %s", mustJSON(src))
	}
	job := s["Job"].Value.Properties
	if e := job["status"].Value.Enum; len(e) != 5 {
		t.Errorf("Job.status enum %v", e)
	}
	if e := job["kind"].Value.Enum; len(e) != 4 { // image, video, probe, analyze
		t.Errorf("Job.kind enum %v", e)
	}
	if job["sources"].Value.Items.Ref == "" && job["sources"].Value.Items.Value == nil {
		t.Error("Job.sources has no item schema")
	}
	for _, name := range []string{"Submission", "Input", "Options"} {
		if ap := s[name].Value.AdditionalProperties.Has; ap == nil || *ap {
			t.Errorf("%s allows unknown fields; the decoder refuses them", name)
		}
	}
	if s["Page"].Value.Properties["jobs"].Value.Items.Ref != "#/components/schemas/Job" {
		t.Error("Page.jobs does not reference Job")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestUnknownFieldsInInputsAreRefused: an input object is decoded as strictly as the
// body around it, wherever it appears (the schema says additionalProperties: false).
func TestUnknownFieldsInInputsAreRefused(t *testing.T) {
	d := &Deps{Keys: []string{"k"}}
	d.defaults()
	for name, body := range map[string]string{
		"source object":    `{"source": {"key": "uploads/a", "bogus": 1}, "target": {"key": "uploads/b"}}`,
		"source list":      `{"source": [{"key": "uploads/a"}, {"url": "https://example.com/a.png", "bogus": 1}], "target": {"key": "uploads/b"}}`,
		"target":           `{"source": {"key": "uploads/a"}, "target": {"key": "uploads/b", "bogus": 1}}`,
		"reference":        `{"source": {"key": "uploads/a"}, "target": {"key": "uploads/b"}, "reference": {"key": "uploads/c", "bogus": 1}}`,
		"top level (same)": `{"source": {"key": "uploads/a"}, "target": {"key": "uploads/b"}, "bogus": 1}`,
	} {
		var sub Submission
		err := decodeStrict([]byte(body), &sub)
		if err == nil {
			err = resolve(context.Background(), d, newJob("o"), sub)
		}
		if errcode.Code(err) != errcode.InvalidRequest || !strings.Contains(err.Error(), "bogus") {
			t.Errorf("%s: %v, want INVALID_REQUEST naming the field", name, err)
		}
	}
}

// TestProbeJobSourcesAreAList: the schema says sources is an array; a probe job has
// none and must show [], not null.
func TestProbeJobSourcesAreAList(t *testing.T) {
	for _, v := range []any{jobs.Job{Kind: jobs.KindProbe}, &jobs.Job{Kind: jobs.KindProbe}, jobs.Page{Jobs: []*jobs.Job{{}}}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"sources":[]`) || strings.Contains(string(b), "null") || strings.Contains(string(b), `"Owner"`) {
			t.Errorf("%s", b)
		}
	}
}
