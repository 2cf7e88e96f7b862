package faceswap_test

import (
	"math"
	"testing"

	"github.com/swapd/swapd/pkg/faceswap"
)

func TestBoxMask128(t *testing.T) {
	const w = 128
	// The default blur 0.3 gives b = 19 and a 9-row zero border before blurring.
	// To see that border unblurred, take blur 0.01 (b = 0: no blur, a = 1) with
	// padding 9/128 = 7.03125 %, which zeroes exactly the same 9 rows.
	sharp := faceswap.BoxMask(w, 0.01, [4]float64{7.03125, 7.03125, 7.03125, 7.03125})
	for y := 0; y < w; y++ {
		v := sharp[y*w+w/2]
		if want := float32(1); y < 9 || y >= w-9 {
			if v != 0 {
				t.Fatalf("row %d = %v, want 0", y, v)
			}
		} else if v != want {
			t.Fatalf("row %d = %v, want 1", y, v)
		}
	}

	m := faceswap.BoxMask(w, 0.3, [4]float64{})
	// Centre is fully opaque.
	if c := m[64*w+64]; math.Abs(float64(c)-1) > 1e-5 {
		t.Errorf("centre %v, want 1", c)
	}
	// Edges fade: small at the border, monotone towards the centre, symmetric.
	if e := m[0*w+64]; e > 0.15 {
		t.Errorf("top edge %v, want near 0", e)
	}
	if corner := m[0]; corner > m[64] {
		t.Errorf("corner %v above edge midpoint %v", corner, m[64])
	}
	for y := 1; y <= 64; y++ {
		if m[y*w+64] < m[(y-1)*w+64]-1e-6 {
			t.Fatalf("not monotone at row %d: %v < %v", y, m[y*w+64], m[(y-1)*w+64])
		}
		if d := math.Abs(float64(m[y*w+64] - m[(w-1-y)*w+64])); d > 1e-5 {
			t.Fatalf("not symmetric at row %d", y)
		}
	}
	// The zeroed 9 rows sit under the blur: row 9 is about half-way.
	if v := m[9*w+64]; v < 0.35 || v > 0.65 {
		t.Errorf("row 9 = %v, want about 0.5 (edge of the 9-row zero border)", v)
	}
	for _, v := range m {
		if v < 0 || v > 1+1e-6 {
			t.Fatalf("value %v outside [0,1]", v)
		}
	}
	// MaskBlurNone: the 1-row minimum border, no blur.
	none := faceswap.BoxMask(w, faceswap.Options{MaskBlur: faceswap.MaskBlurNone}.WithDefaults().MaskBlur, [4]float64{})
	if none[0*w+64] != 0 || none[1*w+64] != 1 || none[64*w+64] != 1 {
		t.Errorf("MaskBlurNone mask rows: %v %v", none[0*w+64], none[1*w+64])
	}
	// Padding moves the edge inwards on its own side only.
	p := faceswap.BoxMask(w, 0.3, [4]float64{30, 0, 0, 0})
	if p[20*w+64] >= m[20*w+64] || math.Abs(float64(p[110*w+64]-m[110*w+64])) > 1e-6 {
		t.Errorf("top padding did not only affect the top")
	}
}
