package api

import (
	_ "embed"
	"net/http"
)

// docsPage renders /openapi.json in the browser with a few lines of inline script:
// no CDN, so the docs work on an offline or locked-down network.
//
//go:embed docs.html
var docsPage []byte

func handleDocs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		_, _ = w.Write(docsPage)
	})
}
