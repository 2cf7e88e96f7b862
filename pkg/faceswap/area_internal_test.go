package faceswap

import (
	"testing"

	"github.com/swapd/swapd/pkg/media"
)

// The landmarker crop is black outside the frame and planar B, G, R in [0,1].
func TestWarpConstantBGR(t *testing.T) {
	f := media.NewFrame(8, 8)
	for i := 0; i < 64; i++ {
		copy(f.Pix[i*3:], []uint8{255, 128, 0}) // orange: R 255, G 128, B 0
	}
	const size = 16
	dst := make([]float32, 3*size*size)
	warpConstantBGR(f, Affine{1, 0, 4, 0, 1, 4}, size, dst) // the frame at (4..11, 4..11) of the crop
	plane := size * size
	at := func(c, x, y int) float32 { return dst[c*plane+y*size+x] }
	if at(0, 8, 8) != 0 || at(1, 8, 8) != 128.0/255 || at(2, 8, 8) != 1 {
		t.Errorf("inside: B %v G %v R %v, want 0, 128/255, 1", at(0, 8, 8), at(1, 8, 8), at(2, 8, 8))
	}
	for _, p := range [][2]int{{0, 0}, {2, 8}, {13, 8}, {8, 14}} {
		if at(2, p[0], p[1]) != 0 || at(1, p[0], p[1]) != 0 {
			t.Errorf("outside the frame at %v: R %v G %v, want black", p, at(2, p[0], p[1]), at(1, p[0], p[1]))
		}
	}
	if v := at(2, 3, 8); v != 0 { // the source position −1: one tap at 0 on each side
		t.Errorf("one pixel off the edge: R %v, want 0", v)
	}
}
