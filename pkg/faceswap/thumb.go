package faceswap

import (
	"math"

	"github.com/swapd/swapd/pkg/media"
)

// thumbMargin is how much of the box's size is added on each side of a
// thumbnail: enough to show the hair and chin the detector box cuts off, so a
// user recognises the person at a glance.
const thumbMargin = 0.25

// thumbnail is a face's small RGB crop; the zero value is none.
type thumbnail = media.Frame

// Thumbnail returns a small RGB crop of frame around face's box, grown by a
// quarter of its size on each side, scaled so that its long side is ThumbSize
// (bilinear, the border replicated where the grown box leaves the frame). The
// service layer encodes it for the analysis result.
func Thumbnail(frame media.Frame, face Face) media.Frame {
	bw, bh := float64(face.Box[2]-face.Box[0]), float64(face.Box[3]-face.Box[1])
	if bw <= 0 || bh <= 0 || frame.Width == 0 || frame.Height == 0 {
		return media.Frame{}
	}
	x1, y1 := float64(face.Box[0])-thumbMargin*bw, float64(face.Box[1])-thumbMargin*bh
	w, h := bw*(1+2*thumbMargin), bh*(1+2*thumbMargin)
	scale := ThumbSize / math.Max(w, h)
	tw, th := max(int(math.Round(w*scale)), 1), max(int(math.Round(h*scale)), 1)
	// m maps frame coordinates to the thumbnail's.
	m := Affine{scale, 0, -x1 * scale, 0, scale, -y1 * scale}
	return WarpFrame(frame, m, tw, th)
}
