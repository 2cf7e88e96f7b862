package inference

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestProviderOptionMaps(t *testing.T) {
	devs, err := ParseDevicesWithOptions("cuda:2,tensorrt:1", 1, DeviceOptions{
		MemoryLimit: 6 << 30, CudnnConvAlgoSearch: "exhaustive", TensorRTCacheDir: t.TempDir(), TensorRTFP16: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := devs[0].cudaOptions()
	want := map[string]string{"device_id": "2", "gpu_mem_limit": "6442450944", "cudnn_conv_algo_search": "EXHAUSTIVE"}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("cuda option %s = %q, want %q", k, c[k], v)
		}
	}
	if len(c) != len(want) {
		t.Errorf("cuda options %v", c)
	}
	trt, err := devs[1].tensorRTOptions()
	if err != nil {
		t.Fatal(err)
	}
	if trt["device_id"] != "1" || trt["trt_fp16_enable"] != "1" || trt["trt_engine_cache_enable"] != "1" || trt["trt_timing_cache_enable"] != "1" {
		t.Errorf("tensorrt options %v", trt)
	}
	if p := trt["trt_engine_cache_path"]; !strings.HasPrefix(filepath.Base(p), "ort-") || trt["trt_timing_cache_path"] != p {
		t.Errorf("cache paths %q %q", p, trt["trt_timing_cache_path"])
	}
	// Defaults add nothing beyond the device id.
	plain, _ := ParseDevicesWithOptions("cuda:0,tensorrt:1", 1, DeviceOptions{})
	if c := plain[0].cudaOptions(); len(c) != 1 {
		t.Errorf("default cuda options %v", c)
	}
	if m, _ := plain[1].tensorRTOptions(); len(m) != 1 {
		t.Errorf("default tensorrt options %v", m)
	}
}
