package media

import "github.com/swapd/swapd/pkg/errcode"

// Error codes for videos that are readable but over a limit (the codes are defined,
// with their HTTP statuses, in package errcode). Byte size reuses
// errcode.InputTooLarge, and unreadable or unsupported files reuse
// errcode.CorruptInput and errcode.UnsupportedMedia.
const (
	VideoTooLong            = errcode.VideoTooLong            // duration over VideoLimits.MaxDuration
	VideoTooManyFrames      = errcode.VideoTooManyFrames      // frame count over VideoLimits.MaxFrames
	VideoResolutionTooLarge = errcode.VideoResolutionTooLarge // frame size over VideoLimits.MaxWidth × MaxHeight
)
