package api

import (
	"bytes"
	_ "embed"
	"net/http"
	"sync"
)

// docsPage renders the OpenAPI document in the browser with a few lines of inline
// script: no CDN, so the docs work on an offline or locked-down network.
//
// The document is embedded in the page when it is served, not fetched by the page: a
// page opened as http://user:KEY@host/docs cannot fetch() a URL relative to its own
// (browsers refuse URLs with credentials), and one request is all the page needs.
//
//go:embed docs.html
var docsPage []byte

// docsSlot is where the document goes: inside <script type="application/json">,
// which the browser does not run. encoding/json escapes <, > and & as \u003c…, so
// the document cannot close the element.
var docsSlot = []byte("/*OPENAPI*/")

func handleDocs(d *Deps) http.Handler {
	doc := documentJSON(d)
	var once sync.Once
	var page []byte
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { page = bytes.Replace(docsPage, docsSlot, doc(), 1) })
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		_, _ = w.Write(page)
	})
}
