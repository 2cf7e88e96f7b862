package inference_test

import (
	"reflect"
	"testing"

	"github.com/swapd/swapd/internal/fixtures"
	"github.com/swapd/swapd/pkg/inference"
)

// Device.WarmUp runs every open session exactly once, at the shapes it was given
// for dynamic inputs (the detector at its canvas) and the declared shapes elsewhere,
// and RunShapes records exactly those shapes; a later run at another shape shows up
// as a new key.
func TestDeviceWarmUp(t *testing.T) {
	initORT(t)
	devs, _ := inference.ParseDevices("cpu", 1)
	dev := devs[0]
	defer dev.Close()
	det, err := dev.OpenSession(scrfdModel)
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close()
	rec, err := dev.OpenSession(fixtures.Path("models", "arcface_compat_512.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if got := dev.Sessions(); len(got) != 2 {
		t.Fatalf("Sessions() = %d sessions, want 2", len(got))
	}
	detIn := det.Inputs[0]
	if detIn.Dimensions[2] >= 0 {
		t.Fatalf("scrfd_500m's input %v was expected to have a dynamic size", detIn.Dimensions)
	}
	canvas := map[string][]int64{detIn.Name: {1, 3, 640, 640}}
	if _, err := dev.WarmUp(func(s *inference.Session) map[string][]int64 {
		if s == det {
			return canvas
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s    *inference.Session
		want string
	}{{det, "1x3x640x640"}, {rec, "1x3x112x112"}} {
		if runs, _ := c.s.RunStats(); runs != 1 {
			t.Errorf("%s ran %d times during warm-up, want 1", c.s.Path, runs)
		}
		if got := c.s.RunShapes(); !reflect.DeepEqual(got, map[string]int64{c.want: 1}) {
			t.Errorf("%s warm-up shapes %v, want %s once", c.s.Path, got, c.want)
		}
	}
	if _, err := det.RunFloat32(inference.Tensor{Shape: []int64{1, 3, 320, 320}, Data: make([]float32, 3*320*320)}); err != nil {
		t.Fatal(err)
	}
	if got := det.RunShapes(); got["1x3x320x320"] != 1 || got["1x3x640x640"] != 1 {
		t.Errorf("shapes after a 320 run: %v", got)
	}
}

func TestWarmUpShapesChecked(t *testing.T) {
	initORT(t)
	devs, _ := inference.ParseDevices("cpu", 1)
	dev := devs[0]
	defer dev.Close()
	rec, err := dev.OpenSession(fixtures.Path("models", "arcface_compat_512.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	name := rec.Inputs[0].Name
	for _, bad := range [][]int64{{1, 3, 640, 640}, {1, 3, 112}, {0, 3, 112, 112}} {
		if _, err := rec.WarmUpShapes(map[string][]int64{name: bad}); err == nil {
			t.Errorf("warm-up shape %v accepted for a [1,3,112,112] input", bad)
		}
	}
	if err := rec.WarmUp(map[string][]int64{name: {1, 3, 64, 64}}); err == nil {
		t.Error("WarmUp ran with a shape the model does not take")
	}
	if runs, _ := rec.RunStats(); runs != 0 {
		t.Errorf("a refused warm-up ran the model %d times", runs)
	}
}
