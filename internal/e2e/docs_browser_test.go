package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDocsRenderInABrowser opens /docs the way the README tells a person to, with the
// key in the URL (http://user:KEY@host/docs, which the browser turns into Basic auth),
// in headless Chromium, and checks the page rendered every operation. A page that
// fetches its document with a URL relative to its own fails here: browsers refuse
// fetch() of a URL with credentials, and the page showed "Could not load openapi.json".
//
// Chromium comes from scripts/deps.sh (Debian package chromium); SWAPD_CHROMIUM_BIN
// names another binary.
func TestDocsRenderInABrowser(t *testing.T) {
	bin := os.Getenv("SWAPD_CHROMIUM_BIN")
	if bin == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				bin = p
				break
			}
		}
	}
	if bin == "" {
		t.Fatal("no chromium: install it (scripts/deps.sh does) or set SWAPD_CHROMIUM_BIN")
	}
	page := strings.Replace(st.URL, "://", "://docs-reader:"+st.Key+"@", 1) + "/docs"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000", "--dump-dom", page)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	dom := string(out)
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	// The operations list replaces "Loading…"; on failure it says "Could not load …".
	// (Both strings are also in the page's script, which the dump includes.)
	if i := strings.Index(dom, `<div id="ops">`); i < 0 || !strings.HasPrefix(dom[i+len(`<div id="ops">`):], "<details") {
		t.Fatalf("the page did not render the document:\n%.300s", dom[max(i, 0):])
	}
	// Operations of both APIs, rendered by the page's script (the HTML as served has
	// none of them outside the embedded JSON), and the schemas.
	for _, want := range []string{
		`<span class="path">/v1/jobs</span>`, `<span class="path">/v1/jobs/{id}/cancel</span>`,
		`<span class="path">/v2/{endpoint}/run</span>`, `class="m post">POST</span>`, `class="m delete">DELETE</span>`,
		"Submit a face-swap job", `<span class="path">Submission</span>`, "Self-hosted face-swap job service",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%.3000s", dom)
	}
}
