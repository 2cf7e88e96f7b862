package faceswap

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/swapd/swapd/pkg/media"
)

// inBands covers every row exactly once, whatever the split.
func TestInBandsCoversEveryRow(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	for _, c := range []struct{ y1, y2, w int }{{0, 0, 100}, {3, 4, 1 << 20}, {0, 100, 10}, {10, 1000, 4000}, {0, 7, 1 << 20}} {
		hits := make([]int32, c.y2)
		var mu = make(chan struct{}, 1)
		inBands(c.y1, c.y2, c.w, func(a, b int) {
			mu <- struct{}{}
			for y := a; y < b; y++ {
				hits[y]++
			}
			<-mu
		})
		for y := range hits {
			want := int32(0)
			if y >= c.y1 {
				want = 1
			}
			if hits[y] != want {
				t.Fatalf("%+v: row %d ran %d times, want %d", c, y, hits[y], want)
			}
		}
	}
}

// Splitting by rows changes no byte: letterboxing a 4K frame and pasting a large
// face into it give the same result on one goroutine and on eight.
func TestBandsSameBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	frame := media.NewFrame(3840, 2160)
	for i := range frame.Pix {
		frame.Pix[i] = byte(rng.IntN(256))
	}
	const size = 512
	crop := make([]float32, size*size*3)
	for i := range crop {
		crop[i] = float32(rng.IntN(256))
	}
	mask := BoxMask(size, DefaultMaskBlur, [4]float64{})
	m := Affine{0.4, 0.05, -700, -0.05, 0.4, -300} // a ~1300 px face region
	run := func(procs int) ([]float32, []byte) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		blob := make([]float32, 3*640*640)
		resizeInto(frame, blob, 640, 640, 640, 360, true, 1/128.0, -127.5/128)
		out := frame.Clone()
		PasteBack(out, crop, mask, size, m)
		return blob, out.Pix
	}
	blob1, pix1 := run(1)
	blob8, pix8 := run(8)
	if !slices.Equal(blob1, blob8) {
		t.Fatal("letterbox differs between 1 and 8 goroutines")
	}
	if !bytes.Equal(pix1, pix8) {
		t.Fatal("paste-back differs between 1 and 8 goroutines")
	}
	if bytes.Equal(pix1, frame.Pix) {
		t.Fatal("paste-back changed nothing: the test pastes outside the frame")
	}
}
