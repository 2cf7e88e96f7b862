package faceswap_test

import (
	"image"
	"image/draw"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/swapd/swapd/internal/fixtures"
	"github.com/swapd/swapd/internal/onnxgen"
	"github.com/swapd/swapd/pkg/faceswap"
	"github.com/swapd/swapd/pkg/inference"
	"github.com/swapd/swapd/pkg/media"
)

var (
	testdata       = fixtures.Dir()
	detectorModel  = fixtures.Path("models", "scrfd_500m.onnx")
	recognizerPath = fixtures.Path("models", "arcface_compat_512.onnx")
)

// initORT loads the real ONNX Runtime; a missing library fails the test.
func initORT(t testing.TB) {
	t.Helper()
	lib := inference.LibraryPath()
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("ONNX Runtime library not found (set %s): %v", inference.LibraryEnv, err)
	}
	if err := inference.Init(lib); err != nil {
		t.Fatal(err)
	}
}

// loadFrame decodes a test image into a packed RGB frame.
func loadFrame(t testing.TB, name string) media.Frame {
	t.Helper()
	f, err := os.Open(filepath.Join(testdata, "faces", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return frameFromImage(img)
}

func frameFromImage(img image.Image) media.Frame {
	b := img.Bounds()
	rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	fr := media.NewFrame(b.Dx(), b.Dy())
	for i := 0; i < b.Dx()*b.Dy(); i++ {
		copy(fr.Pix[i*3:i*3+3], rgba.Pix[i*4:i*4+3])
	}
	return fr
}

func grayFrame(w, h int) media.Frame {
	f := media.NewFrame(w, h)
	for i := range f.Pix {
		f.Pix[i] = 128
	}
	return f
}

var (
	swapperOnce sync.Once
	swapperPath string
	swapperErr  error
	swapperDir  string
)

// testSwapper writes the generated inswapper stand-in once per test binary.
func testSwapper(t testing.TB) string {
	t.Helper()
	swapperOnce.Do(func() {
		swapperDir, swapperErr = os.MkdirTemp("", "faceswap-test-")
		if swapperErr != nil {
			return
		}
		swapperPath = filepath.Join(swapperDir, onnxgen.SwapperFile)
		swapperErr = onnxgen.WriteSwapper(swapperPath, 1)
	})
	if swapperErr != nil {
		t.Fatal(swapperErr)
	}
	return swapperPath
}

// testModelSet holds the generated stand-in models, written once per test binary.
type testModelSet struct {
	SwapperDynamic string
	Enhancers      map[string]string
}

var (
	modelsOnce sync.Once
	models     testModelSet
	modelsErr  error
)

func testModels(t testing.TB) testModelSet {
	t.Helper()
	testSwapper(t) // creates swapperDir
	modelsOnce.Do(func() {
		models.SwapperDynamic = filepath.Join(swapperDir, onnxgen.SwapperDynamicFile)
		if modelsErr = onnxgen.WriteSwapperDynamic(models.SwapperDynamic, 1); modelsErr != nil {
			return
		}
		models.Enhancers = map[string]string{}
		for _, name := range faceswap.EnhancerModels {
			path := filepath.Join(swapperDir, name+".onnx")
			if modelsErr = onnxgen.WriteEnhancer(path, name); modelsErr != nil {
				return
			}
			models.Enhancers[name] = path
		}
	})
	if modelsErr != nil {
		t.Fatal(modelsErr)
	}
	return models
}

var (
	fullOnce sync.Once
	fullPipe *faceswap.Pipeline
	fullErr  error
)

// fullPipeline is a shared CPU pipeline with every enhancer and the fixed-batch
// swapper (sessions are shared with testPipeline's on the same device).
func fullPipeline(t testing.TB) *faceswap.Pipeline {
	t.Helper()
	p := testPipeline(t)
	m := testModels(t)
	fullOnce.Do(func() {
		fullPipe, fullErr = faceswap.New(faceswap.ModelPaths{
			Detector: detectorModel, Recognizer: recognizerPath, Swapper: testSwapper(t), Enhancers: m.Enhancers,
		}, p.Device())
	})
	if fullErr != nil {
		t.Fatal(fullErr)
	}
	return fullPipe
}

// newPipeline opens a pipeline on the shared CPU device, closed when the test ends.
func newPipeline(t testing.TB, paths faceswap.ModelPaths) *faceswap.Pipeline {
	t.Helper()
	p, err := faceswap.New(paths, testPipeline(t).Device())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

var (
	pipeOnce sync.Once
	pipe     *faceswap.Pipeline
	pipeErr  error
)

// testPipeline returns one shared CPU pipeline with all three models.
func testPipeline(t testing.TB) *faceswap.Pipeline {
	t.Helper()
	initORT(t)
	sw := testSwapper(t)
	pipeOnce.Do(func() {
		devs, err := inference.ParseDevices("cpu", 1)
		if err != nil {
			pipeErr = err
			return
		}
		pipe, pipeErr = faceswap.New(faceswap.ModelPaths{
			Detector: detectorModel, Recognizer: recognizerPath, Swapper: sw,
		}, devs[0])
	})
	if pipeErr != nil {
		t.Fatal(pipeErr)
	}
	return pipe
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fullPipe != nil {
		fullPipe.Close()
	}
	if pipe != nil {
		pipe.Close()
	}
	if swapperDir != "" {
		os.RemoveAll(swapperDir)
	}
	os.Exit(code)
}
