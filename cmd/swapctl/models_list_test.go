package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// models list shows every model's licence, the swappers and mask models of issue 9 included.
func TestModelsListShowsLicence(t *testing.T) {
	dir := t.TempDir()
	env := func(k string) string {
		if k == "SWAPD_MODELS_DIR" {
			return dir
		}
		return ""
	}
	var out, errb bytes.Buffer
	if code, err := run(context.Background(), []string{"models", "list"}, env, &out, &errb); code != exitOK || err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, errb.String())
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.Contains(lines[0], "LICENCE") {
		t.Errorf("no licence column in the header %q", lines[0])
	}
	want := map[string]string{
		"ghost_1_256":            "Apache-2.0",
		"hyperswap_1a_256":       "ResearchRAIL",
		"simswap_unofficial_512": "Non-Commercial",
		"inswapper_128":          "non-commercial",
		"crossface_simswap":      "no licence",
		"xseg_3":                 "GPL-3.0",
		"bisenet_resnet_18":      "MIT",
		"2dfan4":                 "MIT",
		"fan_68_5":               "OpenRAIL-M",
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if w, ok := want[f[0]]; ok {
			if !strings.Contains(line, w) {
				t.Errorf("%s: want %q in %q", f[0], w, line)
			}
			delete(want, f[0])
		}
	}
	if len(want) > 0 {
		t.Errorf("not listed: %v\n%s", want, out.String())
	}
}
