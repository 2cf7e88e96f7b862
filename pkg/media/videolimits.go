package media

import (
	"time"

	"github.com/swapd/swapd/pkg/errcode"
)

// VideoLimits bound what a video may cost. They are checked against Probe's answer,
// before a single frame is decoded: a face swap costs GPU time per frame, so frames,
// duration and frame size decide the price, and bytes decide the download and disk.
// A zero field means no limit; start from DefaultVideoLimits.
type VideoLimits struct {
	MaxDuration time.Duration
	MaxFrames   int
	// MaxWidth × MaxHeight bound the frame size in either orientation: the long side
	// against the larger of the two, the short side against the smaller, so a 3840x2160
	// limit admits a portrait 2160x3840 phone video as well.
	MaxWidth, MaxHeight int
	MaxBytes            int64
}

// DefaultVideoLimits: 10 minutes, 18,000 frames (10 minutes at 30 fps; a 60 fps video
// reaches it in 5), 4K UHD, 2 GiB. At FaceFusion-class throughput of 10–20 frames/s
// on one GPU, the frame cap is the one that bounds a job at about half an hour.
var DefaultVideoLimits = VideoLimits{
	MaxDuration: 10 * time.Minute,
	MaxFrames:   18_000,
	MaxWidth:    3840,
	MaxHeight:   2160,
	MaxBytes:    2 << 30,
}

// Check returns an *errcode.Error for the first limit info exceeds: InputTooLarge
// (bytes), VideoResolutionTooLarge, VideoTooLong, VideoTooManyFrames; nil if none.
// When the frame count is unknown (0) it is estimated from duration and frame rate.
func (l VideoLimits) Check(info VideoInfo) error {
	if l.MaxBytes > 0 && info.Size > l.MaxBytes {
		return errcode.New(errcode.InputTooLarge, "the video is %d bytes; the limit is %d bytes", info.Size, l.MaxBytes)
	}
	if l.MaxWidth > 0 || l.MaxHeight > 0 {
		long, short := max(info.Width, info.Height), min(info.Width, info.Height)
		maxLong, maxShort := max(l.MaxWidth, l.MaxHeight), min(l.MaxWidth, l.MaxHeight)
		if maxShort <= 0 { // only one side limited
			maxShort = maxLong
		}
		if long > maxLong || short > maxShort {
			return errcode.New(VideoResolutionTooLarge, "the video is %dx%d; the limit is %dx%d (either orientation)", info.Width, info.Height, l.MaxWidth, l.MaxHeight)
		}
	}
	if l.MaxDuration > 0 && info.Duration > l.MaxDuration {
		return errcode.New(VideoTooLong, "the video lasts %s; the limit is %s", info.Duration.Round(time.Millisecond), l.MaxDuration)
	}
	frames := info.Frames
	if frames <= 0 {
		frames = int(info.Duration.Seconds()*info.FPS + 0.5)
	}
	if l.MaxFrames > 0 && frames > l.MaxFrames {
		return errcode.New(VideoTooManyFrames, "the video has %d frames; the limit is %d frames", frames, l.MaxFrames)
	}
	return nil
}
