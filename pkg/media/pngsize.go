package media

import (
	"encoding/binary"
	"hash/crc32"
)

// pngSize reads the width and height a PNG's IHDR chunk declares (each at most
// 2^31−1 by the PNG specification, so their product fits an int64), without the
// checks png.DecodeConfig makes. ok is false unless IHDR is whole, 13 bytes long
// and its CRC matches: garbage where IHDR should be is a corrupt file, not a size.
func pngSize(head []byte) (w, h int64, ok bool) {
	if len(head) < 33 || binary.BigEndian.Uint32(head[8:12]) != 13 || string(head[12:16]) != "IHDR" {
		return 0, 0, false
	}
	if crc32.ChecksumIEEE(head[12:29]) != binary.BigEndian.Uint32(head[29:33]) {
		return 0, 0, false
	}
	w = int64(binary.BigEndian.Uint32(head[16:20]) & 0x7FFFFFFF)
	h = int64(binary.BigEndian.Uint32(head[20:24]) & 0x7FFFFFFF)
	return w, h, true
}
