package media

import "encoding/binary"

// pngSize reads the width and height a PNG's IHDR chunk declares (each at most
// 2^31−1 by the PNG specification, so their product fits an int64), without the
// checks png.DecodeConfig makes.
func pngSize(head []byte) (w, h int64, ok bool) {
	if len(head) < 24 || string(head[12:16]) != "IHDR" {
		return 0, 0, false
	}
	w = int64(binary.BigEndian.Uint32(head[16:20]) & 0x7FFFFFFF)
	h = int64(binary.BigEndian.Uint32(head[20:24]) & 0x7FFFFFFF)
	return w, h, true
}
