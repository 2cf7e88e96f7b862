package workercmd

import (
	"path/filepath"
	"testing"
)

func TestParseSwappers(t *testing.T) {
	sw, conv, err := parseSwappers("hyperswap_1a_256=hyperswap_1a_256.onnx, ghost_1_256=/abs/ghost.onnx,crossface_ghost=crossface_ghost.onnx", "/models")
	if err != nil {
		t.Fatal(err)
	}
	if len(sw) != 2 || sw["hyperswap_1a_256"] != filepath.Join("/models", "hyperswap_1a_256.onnx") || sw["ghost_1_256"] != "/abs/ghost.onnx" {
		t.Errorf("swappers %v", sw)
	}
	if len(conv) != 1 || conv["crossface_ghost"] != filepath.Join("/models", "crossface_ghost.onnx") {
		t.Errorf("converters %v", conv)
	}
	for _, bad := range []string{"hyperswap_1a_256", "=x.onnx", "ghost_1_256="} {
		if _, _, err := parseSwappers(bad, "/models"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
