package e2e

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/swapd/swapd/pkg/jobs"
)

// The stack's worker has an occluder (xseg_1) but no face parser and no
// landmarker: a job with an occlusion mask runs, one asking for a region or area
// mask, or for an occluder the worker lacks, is refused at submit with
// UNSUPPORTED_OPTION (the worker publishes what it offers).
func TestMaskOptionsOffered(t *testing.T) {
	source := base64.StdEncoding.EncodeToString(readFile(t, "faces/astronaut.png"))
	target := base64.StdEncoding.EncodeToString(readFile(t, "faces/grace_hopper.jpg"))
	body := func(opts map[string]any) map[string]any {
		return map[string]any{"source": map[string]string{"base64": source}, "target": map[string]string{"base64": target}, "options": opts}
	}
	for _, c := range []struct {
		opts map[string]any
		want string
	}{
		{map[string]any{"mask_types": []string{"box", "region"}, "mask_regions": []string{"nose"}}, "SWAPD_PARSER_MODELS"},
		{map[string]any{"mask_types": []string{"area"}}, "SWAPD_LANDMARKER_MODELS"},
		{map[string]any{"mask_types": []string{"occlusion"}, "occluder_model": "xseg_2"}, "SWAPD_OCCLUDER_MODELS"},
	} {
		var e apiError
		resp := st.postJSON(t, "/v1/jobs", body(c.opts), &e)
		if resp.StatusCode != 400 || e.Error.Code != "UNSUPPORTED_OPTION" || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("%v: got %d %+v, want 400 UNSUPPORTED_OPTION naming %s", c.opts, resp.StatusCode, e.Error, c.want)
		}
	}
	var bad apiError
	if resp := st.postJSON(t, "/v1/jobs", body(map[string]any{"mask_types": []string{"hull"}}), &bad); resp.StatusCode != 400 || bad.Error.Code != "INVALID_REQUEST" {
		t.Errorf("unknown mask type: got %d %+v, want 400 INVALID_REQUEST", resp.StatusCode, bad.Error)
	}
	for _, opts := range []map[string]any{
		{"mask_types": []string{"box", "occlusion"}},
		{"mask_types": []string{"occlusion"}, "occluder_model": "many", "pixel_boost": 256},
	} {
		var c created
		if resp := st.postJSON(t, "/v1/jobs", body(opts), &c); resp.StatusCode != 202 {
			t.Fatalf("%v: submit %d", opts, resp.StatusCode)
		}
		if j := st.waitStatus(t, c.ID, jobs.Succeeded); j.Output == nil || j.Output.Faces != 1 {
			t.Errorf("%v: output %+v, want one swapped face", opts, j.Output)
		}
	}
}
