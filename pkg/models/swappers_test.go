package models

import (
	"strings"
	"testing"
)

// The swappers of issue 9 are in the catalogue with FaceFusion's URLs (the
// release each lives in), a CRC32 sidecar beside every file, and a licence; the
// ghost and SimSwap swappers' converters are there too.
func TestSwapperEntries(t *testing.T) {
	release := map[string]string{
		"hyperswap_1a_256": "models-3.3.0", "hyperswap_1b_256": "models-3.3.0", "hyperswap_1c_256": "models-3.3.0",
		"ghost_1_256": "models-3.0.0", "ghost_2_256": "models-3.0.0", "ghost_3_256": "models-3.0.0",
		"simswap_256": "models-3.0.0", "simswap_unofficial_512": "models-3.0.0",
		"crossface_ghost": "models-3.4.0", "crossface_simswap": "models-3.4.0",
	}
	for name, rel := range release {
		e, ok := Lookup(name)
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		want := RoleSwapper
		if strings.HasPrefix(name, "crossface_") {
			want = RoleConverter
		}
		if e.Role != want || e.File != name+".onnx" || e.Default || e.License == "" {
			t.Errorf("%s: %+v", name, e)
		}
		if len(e.Sources) != 2 {
			t.Errorf("%s: %d sources, want GitHub and Hugging Face", name, len(e.Sources))
		}
		for _, s := range e.Sources {
			if !strings.Contains(s.URL, "/"+rel+"/") || s.HashURL != strings.TrimSuffix(s.URL, ".onnx")+".hash" {
				t.Errorf("%s: source %+v, want release %s with a .hash sidecar", name, s, rel)
			}
		}
	}
	if e, _ := Lookup("ghost_1_256"); !strings.Contains(e.License, "Apache-2.0") || !strings.Contains(e.License, "InsightFace") {
		t.Errorf("ghost licence %q must say Apache-2.0 and that it is fed an InsightFace embedding", e.License)
	}
	if e, _ := Lookup("hyperswap_1a_256"); !strings.Contains(e.License, "ResearchRAIL") {
		t.Errorf("hyperswap licence %q", e.License)
	}
}
