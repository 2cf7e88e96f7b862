package media

import "bytes"

// Container names returned by SniffVideo and stored in VideoInfo.Container.
const (
	ContainerMP4  = "mp4"
	ContainerMOV  = "mov"
	ContainerWebM = "webm"
	ContainerMKV  = "mkv"
)

// SniffVideo recognises the video containers swapd accepts from a file's first bytes
// (a few hundred are enough; HeaderBytes is plenty), by content only, never by name:
//
//   - ISO base media ("ftyp" box): "mov" when the major brand is QuickTime's "qt  ",
//     otherwise "mp4" (isom, mp41, mp42, avc1, 3gp…). HEIF/AVIF still images share the
//     box structure and are rejected by their brands.
//   - Old QuickTime files without an ftyp box, which start with a moov, mdat or wide
//     atom: "mov".
//   - EBML (1A 45 DF A3): "webm" when the header's DocType is "webm", otherwise "mkv"
//     (DocType "matroska", or no DocType, whose default is "matroska").
//
// It does not prove the file decodes; Probe does that.
func SniffVideo(head []byte) (container string, ok bool) {
	if len(head) >= 12 {
		switch string(head[4:8]) {
		case "ftyp":
			return sniffFtyp(head)
		case "moov", "mdat", "wide":
			return ContainerMOV, true
		}
	}
	if bytes.HasPrefix(head, []byte{0x1A, 0x45, 0xDF, 0xA3}) {
		if sniffEBMLDocType(head) == "webm" {
			return ContainerWebM, true
		}
		return ContainerMKV, true
	}
	return "", false
}

// sniffImageBrands are ftyp major brands of still images (HEIF, AVIF), not videos.
var sniffImageBrands = map[string]bool{
	"heic": true, "heix": true, "heim": true, "heis": true, "hevc": true, "hevx": true,
	"mif1": true, "msf1": true, "avif": true, "avis": true,
}

func sniffFtyp(head []byte) (string, bool) {
	brand := string(head[8:12])
	switch {
	case brand == "qt  ":
		return ContainerMOV, true
	case sniffImageBrands[brand]:
		return "", false
	}
	return ContainerMP4, true
}

// sniffEBMLDocType returns the DocType string (element ID 0x4282) of the EBML header at
// the start of head, or "" when it is not within head.
func sniffEBMLDocType(head []byte) string {
	// The EBML header is element 1A45DFA3 with a vint size; DocType is one of its
	// children. Scanning the header's bytes for the two-byte ID is enough here: the
	// header holds only small integers and this string.
	end := len(head)
	if end > 4 {
		if size, n := sniffVint(head[4:]); n > 0 && 4+n+int(size) < end && size < 1<<16 {
			end = 4 + n + int(size)
		}
	}
	hdr := head[:end]
	i := bytes.Index(hdr, []byte{0x42, 0x82})
	if i < 0 {
		return ""
	}
	size, n := sniffVint(hdr[i+2:])
	start := i + 2 + n
	if n == 0 || size > 64 || start+int(size) > len(hdr) {
		return ""
	}
	return string(bytes.TrimRight(hdr[start:start+int(size)], "\x00"))
}

// sniffVint decodes an EBML variable-length size and returns it with its length in
// bytes (0 when b does not start with a valid vint).
func sniffVint(b []byte) (uint64, int) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0
	}
	n := 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 8 || len(b) < n {
		return 0, 0
	}
	v := uint64(b[0] & (0xFF >> n))
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n
}
