// Command onnxgen writes the stand-in test models (see internal/onnxgen) into a
// directory, for the Makefile's test-model preparation:
//
//	onnxgen -out testdata/models
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
	path := filepath.Join(*out, onnxgen.SwapperFile)
	if err := onnxgen.WriteSwapper(path, *seed); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(path)
}
