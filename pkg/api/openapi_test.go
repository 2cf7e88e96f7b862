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

	"github.com/swapd/swapd/pkg/metrics"
)

type recorder []string

func (r *recorder) Handle(pattern string, _ http.Handler) { *r = append(*r, pattern) }

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	d := &Deps{Keys: []string{"k"}, Metrics: metrics.New(), Monitor: http.NotFoundHandler()}
	d.defaults()
	var routes recorder
	addRoutes(&routes, d)

	b, err := json.Marshal(Document(d.ExtraPaths))
	if err != nil {
		t.Fatal(err)
	}
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
	w := httptest.NewRecorder()
	handleDocs().ServeHTTP(w, httptest.NewRequest("GET", "/docs", nil))
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "openapi.json") {
		t.Fatalf("%d", w.Code)
	}
	if regexp.MustCompile(`(?i)<script[^>]+src=|<link[^>]+href="?https?:|https?://[a-z0-9.-]+/[^"']*\.js`).MatchString(body) {
		t.Fatal("the docs page loads something from outside")
	}
}
