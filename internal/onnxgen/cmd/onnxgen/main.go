// Command onnxgen writes the stand-in test models (see internal/onnxgen) into a
// directory, for the Makefile's test-model preparation:
//
//	onnxgen -out testdata/models
//
// It writes inswapper_128.onnx, its dynamic-batch variant inswapper_128_batch.onnx
// the other swappers (hyperswap_1a/1b/1c_256, ghost_1/2/3_256, simswap_256,
// simswap_unofficial_512) with their embedding converters crossface_ghost.onnx and
// crossface_simswap.onnx, and the face enhancers (gfpgan_1.2/1.3/1.4, codeformer,
// gpen_bfr_256/512/1024/2048, restoreformer_plus_plus) and the mask models
// (xseg_1/2/3, bisenet_resnet_18/34, 2dfan4, fan_68_5), each with the official
// model's signature. (The YOLOFace
// stand-in's output is a constant chosen per test, so tests generate it themselves.)
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/swapd/swapd/internal/onnxgen"
)

func main() {
	out := flag.String("out", ".", "directory to write the models into")
	seed := flag.Int64("seed", 1, "seed for the generated weights")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "onnxgen:", err)
		os.Exit(1)
	}
	write := func(file string, w func(string) error) {
		path := filepath.Join(*out, file)
		if err := w(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(path)
	}
	write(onnxgen.SwapperFile, func(p string) error { return onnxgen.WriteSwapper(p, *seed) })
	write(onnxgen.SwapperDynamicFile, func(p string) error { return onnxgen.WriteSwapperDynamic(p, *seed) })
	for _, name := range onnxgen.SwapperModels[2:] {
		write(name+".onnx", func(p string) error { return onnxgen.WriteStandinSwapper(p, name, *seed) })
	}
	for _, name := range onnxgen.ConverterModels {
		write(name+".onnx", func(p string) error { return onnxgen.WriteStandinConverter(p, name, *seed) })
	}
	for _, name := range onnxgen.EnhancerModels {
		write(name+".onnx", func(p string) error { return onnxgen.WriteEnhancer(p, name) })
	}
	for _, name := range append(append(append([]string(nil), onnxgen.OccluderModels...), onnxgen.ParserModels...), onnxgen.LandmarkerModels...) {
		write(name+".onnx", func(p string) error { return onnxgen.WriteMaskModel(p, name) })
	}
}
