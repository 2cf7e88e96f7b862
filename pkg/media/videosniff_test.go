package media

import (
	"os"
	"testing"
)

func TestSniffVideoGeneratedFiles(t *testing.T) {
	for name, want := range map[string]string{vtMP4: ContainerMP4, vtMOV: ContainerMOV, vtWebM: ContainerWebM, vtMKV: ContainerMKV} {
		f, err := os.Open(vtFixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		head, err := videoReadHead(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := SniffVideo(head); !ok || got != want {
			t.Errorf("SniffVideo(%s) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

func TestSniffVideoSynthetic(t *testing.T) {
	ftyp := func(brand string) []byte {
		return append([]byte{0, 0, 0, 0x18}, []byte("ftyp"+brand+"\x00\x00\x02\x00isomiso2")...)
	}
	// EBML header: ID, size, then DocType (42 82) with a 1-byte vint size.
	ebml := func(doctype string) []byte {
		body := append([]byte{0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x80 | byte(len(doctype))}, doctype...)
		return append([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x80 | byte(len(body))}, body...)
	}
	cases := []struct {
		name string
		head []byte
		want string
		ok   bool
	}{
		{"mp4 isom", ftyp("isom"), ContainerMP4, true},
		{"mp4 mp42", ftyp("mp42"), ContainerMP4, true},
		{"3gp", ftyp("3gp4"), ContainerMP4, true},
		{"mov", ftyp("qt  "), ContainerMOV, true},
		{"old mov", []byte("\x00\x00\x00\x08wide\x00\x00\x00\x10mdat"), ContainerMOV, true},
		{"webm", ebml("webm"), ContainerWebM, true},
		{"mkv", ebml("matroska"), ContainerMKV, true},
		{"ebml without doctype", []byte{0x1A, 0x45, 0xDF, 0xA3, 0x84, 0x42, 0x86, 0x81, 0x01}, ContainerMKV, true},
		{"heic image", ftyp("heic"), "", false},
		{"avif image", ftyp("avif"), "", false},
		{"jpeg", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0, 1}, "", false},
		{"avi", []byte("RIFF\x00\x00\x00\x00AVI LIST"), "", false},
		{"short", []byte{0x1A, 0x45}, "", false},
		{"empty", nil, "", false},
	}
	for _, c := range cases {
		got, ok := SniffVideo(c.head)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: SniffVideo = %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
