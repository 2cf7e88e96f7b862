package media

import (
	"bytes"
	"encoding/binary"
)

// EXIF orientation (TIFF tag 0x0112). Phones store a portrait photo as the sensor saw
// it, landscape, and record the turn needed to show it upright; viewers apply it, so
// a decoder that ignores it hands the detector a face lying on its side. Decode applies
// it, so sources, targets and references reach the pipeline upright, and the output
// (encoded without EXIF) is upright in every viewer.
//
// The tag is parsed here rather than with an EXIF library: one SHORT in IFD0 is all
// swapd needs, and the parser below reads nothing else, bounded by the buffer.

const tagOrientation = 0x0112

// Orientation returns the EXIF orientation (1–8) of an encoded JPEG, PNG (eXIf
// chunk) or WebP (EXIF chunk) image, or 1 (as stored) when it has none or the EXIF
// block is malformed: a broken tag never fails a decode.
func Orientation(data []byte) int {
	var tiff []byte
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8}):
		tiff = jpegEXIF(data)
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		tiff = pngEXIF(data)
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		tiff = webpEXIF(data)
	}
	if o := tiffOrientation(tiff); o >= 1 && o <= 8 {
		return o
	}
	return 1
}

// jpegEXIF returns the TIFF block of the first Exif APP1 segment before the scan.
func jpegEXIF(b []byte) []byte {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return nil
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7): // no length
			i += 2
			continue
		case m == 0xDA || m == 0xD9: // start of scan, end of image: no EXIF past here
			return nil
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return nil
		}
		seg := b[i+4 : i+2+n]
		if m == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// pngEXIF returns the data of the eXIf chunk (PNG 1.5 extension), which must come
// before the image data.
func pngEXIF(b []byte) []byte {
	i := 8
	for i+8 <= len(b) {
		n := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		if n < 0 || n > len(b)-i-8 {
			return nil
		}
		switch typ {
		case "eXIf":
			return b[i+8 : i+8+n]
		case "IDAT", "IEND":
			return nil
		}
		i += 12 + n // length, type, data, CRC
	}
	return nil
}

// webpEXIF returns the data of an extended WebP's EXIF chunk.
func webpEXIF(b []byte) []byte {
	i := 12
	for i+8 <= len(b) {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if n < 0 || n > len(b)-i-8 {
			return nil
		}
		if string(b[i:i+4]) == "EXIF" {
			d := b[i+8 : i+8+n]
			return bytes.TrimPrefix(d, []byte("Exif\x00\x00")) // some writers keep the JPEG prefix
		}
		i += 8 + n + n&1 // chunks are padded to an even size
	}
	return nil
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF block; 0 when absent.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 0
	}
	n := int64(bo.Uint16(t[off:]))
	for k := int64(0); k < n; k++ {
		e := off + 2 + 12*k
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) != tagOrientation {
			continue
		}
		typ, count := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		if typ != 3 || count != 1 { // one SHORT, stored in the value field itself
			return 0
		}
		return int(bo.Uint16(t[e+8:]))
	}
	return 0
}

// Orient returns f turned as EXIF orientation o asks for display (2–8; 1 and any
// other value return f itself). Orientations 5–8 swap width and height.
func Orient(f Frame, o int) Frame {
	if o < 2 || o > 8 {
		return f
	}
	w, h := f.Width, f.Height
	out := NewFrame(w, h)
	if o >= 5 {
		out = NewFrame(h, w)
	}
	for y := 0; y < out.Height; y++ {
		for x := 0; x < out.Width; x++ {
			var sx, sy int
			switch o {
			case 2: // mirrored horizontally
				sx, sy = w-1-x, y
			case 3: // turned 180°
				sx, sy = w-1-x, h-1-y
			case 4: // mirrored vertically
				sx, sy = x, h-1-y
			case 5: // transposed
				sx, sy = y, x
			case 6: // shown turned 90° clockwise
				sx, sy = y, h-1-x
			case 7: // transversed
				sx, sy = w-1-y, h-1-x
			case 8: // shown turned 90° counter-clockwise
				sx, sy = w-1-y, x
			}
			copy(out.Pix[(y*out.Width+x)*3:(y*out.Width+x)*3+3], f.Pix[(sy*w+sx)*3:(sy*w+sx)*3+3])
		}
	}
	return out
}
