package media

// Error codes for videos that are readable but over a limit. They live here, not in
// package errcode, while the video path is new; the API layer maps them to HTTP
// statuses (413 is the natural fit for all three). Byte size reuses
// errcode.InputTooLarge, and unreadable or unsupported files reuse
// errcode.CorruptInput and errcode.UnsupportedMedia.
const (
	VideoTooLong            = "VIDEO_TOO_LONG"             // duration over VideoLimits.MaxDuration
	VideoTooManyFrames      = "VIDEO_TOO_MANY_FRAMES"      // frame count over VideoLimits.MaxFrames
	VideoResolutionTooLarge = "VIDEO_RESOLUTION_TOO_LARGE" // frame size over VideoLimits.MaxWidth × MaxHeight
)
