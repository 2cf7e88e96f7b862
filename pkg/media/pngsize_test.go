package media_test

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/media"
)

// pngHeader is a PNG signature and an IHDR chunk declaring w×h 8-bit RGB.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	c := binary.BigEndian.AppendUint32(nil, uint32(len(ihdr)))
	c = append(append(c, "IHDR"...), ihdr...)
	c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	return append([]byte("\x89PNG\r\n\x1a\n"), c...)
}

// A PNG declaring a size so large that Go's decoder reports an overflow is too many
// pixels (IMAGE_TOO_LARGE), like any other over the limit, not a corrupt file.
func TestInspectPNGDeclaringHugeSize(t *testing.T) {
	lim := media.Limits{MaxPixels: 40_000_000}
	for _, d := range [][2]uint32{{1<<31 - 1, 1<<31 - 1}, {1 << 30, 1 << 30}, {60000, 60000}, {40_000_001, 1}} {
		_, err := media.Inspect(pngHeader(d[0], d[1]), lim)
		if e, ok := errcode.As(err); !ok || e.Code != errcode.ImageTooLarge {
			t.Errorf("%dx%d: %v, want IMAGE_TOO_LARGE", d[0], d[1], err)
		}
	}
	if info, err := media.Inspect(pngHeader(640, 480), lim); err != nil || info.Width != 640 || info.Height != 480 {
		t.Errorf("640x480: %+v %v", info, err)
	}
	if _, err := media.Inspect(pngHeader(0, 10), lim); errcode.Code(err) != errcode.CorruptInput {
		t.Errorf("0x10: %v, want CORRUPT_INPUT", err)
	}
	// Garbage where IHDR's fields should be (its CRC does not match) is a corrupt
	// file, however large the garbage reads as a size.
	bad := pngHeader(60000, 60000)
	copy(bad[16:29], []byte{0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB})
	if _, err := media.Inspect(bad, lim); errcode.Code(err) != errcode.CorruptInput {
		t.Errorf("garbage IHDR: %v, want CORRUPT_INPUT", err)
	}
}
