package media

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/swapd/swapd/pkg/errcode"
)

// FFmpegEnv names the environment variable that overrides the ffmpeg binary.
const FFmpegEnv = "SWAPD_FFMPEG_BIN"

// FFmpegPath returns the ffmpeg binary to run: $SWAPD_FFMPEG_BIN when set, else
// "ffmpeg" looked up on $PATH.
func FFmpegPath() string {
	if p := os.Getenv(FFmpegEnv); p != "" {
		return p
	}
	return "ffmpeg"
}

// FFprobePath returns the ffprobe that belongs to FFmpegPath. ffprobe is taken from
// the same directory, with "ffmpeg" in the file name replaced by "ffprobe"
// (/opt/ff6/bin/ffmpeg-6 → /opt/ff6/bin/ffprobe-6), so an override never mixes two
// ffmpeg versions whose JSON output or flags differ.
func FFprobePath() string {
	bin := FFmpegPath()
	dir, base := filepath.Split(bin)
	probe := "ffprobe"
	if strings.Contains(base, "ffmpeg") {
		probe = strings.Replace(base, "ffmpeg", "ffprobe", 1)
	}
	if dir == "" {
		return probe
	}
	return filepath.Join(dir, probe)
}

// videoStartErr turns a failure to start ffmpeg or ffprobe into an error: a missing
// binary is reported as Unavailable (the service is misconfigured, the input is fine).
func videoStartErr(bin string, err error) error {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		return errcode.New(errcode.Unavailable, "video processing is unavailable: %s cannot be run (%v); install ffmpeg or set %s", filepath.Base(bin), err, FFmpegEnv)
	}
	return err
}
