package media

import (
	"regexp"
	"strings"
	"sync"
)

// videoStderrMax bounds how much ffmpeg stderr is kept per process. With -v error
// ffmpeg prints little, but a corrupt stream can print one line per broken frame;
// only the tail is interesting.
const videoStderrMax = 4 << 10

// videoStderr keeps the last videoStderrMax bytes written to it. exec copies the
// child's stderr into it from its own goroutine, so it is locked.
type videoStderr struct {
	mu  sync.Mutex
	buf []byte
}

func (s *videoStderr) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	if over := len(s.buf) - videoStderrMax; over > 0 {
		s.buf = append(s.buf[:0], s.buf[over:]...)
	}
	return len(p), nil
}

// Tail returns the kept stderr on one line (" ; " between ffmpeg's lines), with every path hide[i][0] replaced by its
// stand-in hide[i][1]: messages reach clients, and server paths are not theirs to see.
func (s *videoStderr) Tail(hide [][2]string) string {
	s.mu.Lock()
	out := string(s.buf)
	s.mu.Unlock()
	for _, h := range hide {
		if h[0] != "" {
			out = strings.ReplaceAll(out, h[0], h[1])
		}
	}
	out = videoLogContext.ReplaceAllString(out, "[$1] ")
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(out), "\n", " ; ")), " ")
}

// videoLogContext matches the "[h264 @ 0x55d1c0a8e2c0] " prefix ffmpeg puts on
// messages; the address is noise to anyone reading the error.
var videoLogContext = regexp.MustCompile(`\[([^\]@]+?) @ 0x[0-9a-f]+\] `)

// videoDetail formats a stderr tail for an error message.
func videoDetail(tail string) string {
	if tail == "" {
		return "ffmpeg printed no reason"
	}
	return tail
}
