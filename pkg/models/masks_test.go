package models

import (
	"strings"
	"testing"
)

// The mask models of issue 9 are in the catalogue with FaceFusion's URLs (the
// release each lives in), a CRC32 sidecar beside every file, and a licence.
func TestMaskModelEntries(t *testing.T) {
	want := map[string]struct {
		role    Role
		release string
		license string
	}{
		"xseg_1":            {RoleOccluder, "models-3.1.0", "GPL-3.0"},
		"xseg_2":            {RoleOccluder, "models-3.1.0", "GPL-3.0"},
		"xseg_3":            {RoleOccluder, "models-3.2.0", "GPL-3.0"},
		"bisenet_resnet_18": {RoleParser, "models-3.1.0", "MIT"},
		"bisenet_resnet_34": {RoleParser, "models-3.0.0", "MIT"},
		"2dfan4":            {RoleLandmarker, "models-3.0.0", "MIT"},
		"fan_68_5":          {RoleLandmarker, "models-3.0.0", "OpenRAIL-M"},
	}
	for name, w := range want {
		e, ok := Lookup(name)
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if e.Role != w.role || e.File != name+".onnx" || e.Default || !strings.Contains(e.License, w.license) || e.SHA256 != "" {
			t.Errorf("%s: %+v", name, e)
		}
		if len(e.Sources) != 2 {
			t.Errorf("%s: %d sources, want GitHub and Hugging Face", name, len(e.Sources))
		}
		for _, s := range e.Sources {
			if !strings.Contains(s.URL, "/"+w.release+"/") || s.HashURL != strings.TrimSuffix(s.URL, ".onnx")+".hash" {
				t.Errorf("%s: source %+v, want release %s with a .hash sidecar", name, s, w.release)
			}
		}
	}
}
