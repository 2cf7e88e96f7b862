package workercmd

import "testing"

func TestParseModelList(t *testing.T) {
	m, err := parseModelList("SWAPD_OCCLUDER_MODELS", "xseg_1=xseg_1.onnx, xseg_3=/abs/xseg_3.onnx", "/models")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["xseg_1"] != "/models/xseg_1.onnx" || m["xseg_3"] != "/abs/xseg_3.onnx" {
		t.Errorf("parsed %v", m)
	}
	if m, err := parseModelList("SWAPD_PARSER_MODELS", "", "/models"); err != nil || len(m) != 0 {
		t.Errorf("empty list: %v, %v", m, err)
	}
	for _, bad := range []string{"xseg_1", "=x.onnx", "xseg_1=", "xseg_1=a.onnx,xseg_1=b.onnx"} {
		if _, err := parseModelList("SWAPD_OCCLUDER_MODELS", bad, "/models"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
