package faceswap

import (
	"math"

	"github.com/swapd/swapd/pkg/media"
)

// Hold-over's appearance check. When a track misses a few frames and comes back,
// the frames in between get its face at interpolated landmarks (hold-over). A
// detector miss is what that is for: the face is still there, blurred or turned
// a little. But a face can also vanish because something passed in front of
// it, or the picture cut to another shot; pasting the swapped face there would
// draw it over a hand or a wall. So before a gap frame gets the face, the box
// region of that frame is compared with the same person's box region where it
// was last detected, at a tiny resolution (appearanceSide² cells of mean luma,
// which ignores the pixel or two a face moves and the detector's noise), and the
// face is held over only when the two look alike.
const (
	appearanceSide = 12
	// appearanceMaxDiff is the largest mean absolute luma difference, in 8-bit
	// levels, between the two patches. A face one to five frames later differs by
	// a few levels (motion, compression); a different picture by tens.
	appearanceMaxDiff = 18
)

// appearance is a face box's mean luma on an appearanceSide² grid.
type appearance struct {
	ok   bool
	luma [appearanceSide * appearanceSide]float32
}

// appearanceOf samples box of frame. A box that lies outside the frame gives a
// patch that is not ok (nothing to compare).
func appearanceOf(frame media.Frame, box [4]float32) appearance {
	var a appearance
	x1, y1 := math.Max(float64(box[0]), 0), math.Max(float64(box[1]), 0)
	x2, y2 := math.Min(float64(box[2]), float64(frame.Width)), math.Min(float64(box[3]), float64(frame.Height))
	if x2-x1 < 2 || y2-y1 < 2 {
		return a
	}
	cw, ch := (x2-x1)/appearanceSide, (y2-y1)/appearanceSide
	for cy := 0; cy < appearanceSide; cy++ {
		ya, yb := int(y1+float64(cy)*ch), int(math.Ceil(y1+float64(cy+1)*ch))
		for cx := 0; cx < appearanceSide; cx++ {
			xa, xb := int(x1+float64(cx)*cw), int(math.Ceil(x1+float64(cx+1)*cw))
			var sum float64
			var n int
			for y := ya; y < min(yb, frame.Height); y++ {
				row := frame.Pix[y*frame.Width*3:]
				for x := xa; x < min(xb, frame.Width); x++ {
					p := row[x*3:]
					sum += 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
					n++
				}
			}
			if n > 0 {
				a.luma[cy*appearanceSide+cx] = float32(sum / float64(n))
			}
		}
	}
	a.ok = true
	return a
}

// diff is the mean absolute difference of two patches, +Inf when either is not ok.
func (a appearance) diff(b appearance) float64 {
	if !a.ok || !b.ok {
		return math.Inf(1)
	}
	var s float64
	for i := range a.luma {
		s += math.Abs(float64(a.luma[i] - b.luma[i]))
	}
	return s / float64(len(a.luma))
}
