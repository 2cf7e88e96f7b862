package media

import (
	"errors"
	"io"
	"os"
)

// videoHeadBytes is how much of a file is read to identify its container.
const videoHeadBytes = 4 << 10

// videoReadHead returns the first videoHeadBytes of r (fewer for a short file).
func videoReadHead(r io.Reader) ([]byte, error) {
	head := make([]byte, videoHeadBytes)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return head[:n], nil
}

// videoSniffFile identifies the container of the file at path ("" when unknown).
func videoSniffFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head, err := videoReadHead(f)
	if err != nil {
		return "", err
	}
	c, _ := SniffVideo(head)
	return c, nil
}

// videoInputArgs returns the ffmpeg/ffprobe arguments that open a local file as an
// input. Inputs are untrusted, so ffmpeg is held to exactly what was checked:
//
//   - the "file:" prefix stops a name such as "concat:…" or "http://…" being taken as a
//     protocol, and -protocol_whitelist file stops the file pulling in other sources
//     (the classic ffmpeg SSRF is a playlist inside an upload);
//   - -f forces the demuxer that SniffVideo's verdict implies instead of letting
//     ffmpeg guess from the content again (container "" leaves ffmpeg to guess).
func videoInputArgs(container, path string) []string {
	args := []string{"-protocol_whitelist", "file"}
	switch container {
	case ContainerMP4, ContainerMOV:
		args = append(args, "-f", "mov")
	case ContainerWebM, ContainerMKV:
		args = append(args, "-f", "matroska")
	}
	return append(args, "-i", "file:"+path)
}

// videoHide lists the paths that must not appear in messages, with their stand-ins.
// The "file:" form is replaced first because it contains the bare path.
func videoHide(path string) [][2]string {
	return [][2]string{{"file:" + path, "input"}, {path, "input"}}
}
