// Package errcode defines the stable error codes swapd reports to clients.
//
// A code is part of the public API: clients branch on it, so codes are never renamed.
// The message is for people and may change. Every error that reaches a client, over
// HTTP or in a job record, is an *Error; anything else is reported as INTERNAL and
// only logged, so internals never leak.
package errcode

import (
	"errors"
	"fmt"
	"net/http"
)

// Codes. Keep the list in the README in step with this one.
const (
	InvalidRequest          = "INVALID_REQUEST"            // malformed JSON, bad option, missing field
	UnsupportedOption       = "UNSUPPORTED_OPTION"         // a valid option no worker offers (a swapper model none has)
	Unauthorized            = "UNAUTHORIZED"               // missing or wrong API key
	Forbidden               = "FORBIDDEN"                  // a valid key without the role the route needs (admin)
	RateLimited             = "RATE_LIMITED"               // the key's requests per minute are used up; see Retry-After
	QuotaExceeded           = "QUOTA_EXCEEDED"             // the key's jobs in flight or daily quota are used up
	NotFound                = "NOT_FOUND"                  // no such job or object
	MethodNotAllowed        = "METHOD_NOT_ALLOWED"         // the path exists, not under this method
	Conflict                = "CONFLICT"                   // the job is in a state that forbids the action
	IdempotencyMismatch     = "IDEMPOTENCY_KEY_REUSED"     // an Idempotency-Key sent again with a different request
	UnsupportedMedia        = "UNSUPPORTED_MEDIA"          // not a JPEG, PNG or WebP image (by content)
	InputTooLarge           = "INPUT_TOO_LARGE"            // more bytes than SWAPD_MAX_INPUT_BYTES
	ImageTooLarge           = "IMAGE_TOO_LARGE"            // more pixels than SWAPD_MAX_PIXELS
	EmptyInput              = "EMPTY_INPUT"                // a zero-byte file
	CorruptInput            = "CORRUPT_INPUT"              // looks like an image, does not decode
	VideoTooLong            = "VIDEO_TOO_LONG"             // duration over the limit
	VideoTooManyFrames      = "VIDEO_TOO_MANY_FRAMES"      // frame count over the limit
	VideoResolutionTooLarge = "VIDEO_RESOLUTION_TOO_LARGE" // frame size over the limit
	InputNotFound           = "INPUT_NOT_FOUND"            // an upload key that holds no object
	URLBlocked              = "URL_BLOCKED"                // a URL that points at a private address
	FetchFailed             = "FETCH_FAILED"               // a URL input that could not be downloaded
	NoFaceInSource          = "NO_FACE_IN_SOURCE"          // a source image without a detectable face
	NoFaceInTarget          = "NO_FACE_IN_TARGET"          // a target image without a detectable face
	LowSimilarity           = "LOW_SIMILARITY"             // a swapped face below options.min_similarity with on_low_similarity=fail
	AnalysisNotFound        = "ANALYSIS_NOT_FOUND"         // options.analysis names no analyze job of this key (another key's looks the same)
	AnalysisNotReady        = "ANALYSIS_NOT_READY"         // options.analysis names an analyze job that has not succeeded (yet)
	AnalysisTargetMismatch  = "ANALYSIS_TARGET_MISMATCH"   // options.analysis analysed another target than the swap's
	UnknownIdentity         = "UNKNOWN_IDENTITY"           // a mapping names an identity or face the analysis does not have
	MappingWithoutSource    = "MAPPING_WITHOUT_SOURCE"     // a mapping with no source input
	Unavailable             = "UNAVAILABLE"                // a dependency (Redis, storage) is down
	TimedOut                = "TIMED_OUT"                  // the job ran past its execution timeout
	Internal                = "INTERNAL"                   // a bug or an unexpected failure; see the logs
)

// Error is an error with a stable code and a message a person understands.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns an *Error with a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Code returns err's code, or Internal when err carries none.
func Code(err error) string {
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}

// HTTPStatus maps a code to the status an HTTP response carries.
func HTTPStatus(code string) int {
	switch code {
	case InvalidRequest, UnsupportedOption, URLBlocked, EmptyInput, InputNotFound,
		AnalysisNotFound, AnalysisTargetMismatch, UnknownIdentity, MappingWithoutSource:
		return http.StatusBadRequest
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case RateLimited, QuotaExceeded:
		return http.StatusTooManyRequests
	case NotFound:
		return http.StatusNotFound
	case MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case Conflict, AnalysisNotReady:
		return http.StatusConflict
	case InputTooLarge, ImageTooLarge, VideoTooLong, VideoTooManyFrames, VideoResolutionTooLarge:
		return http.StatusRequestEntityTooLarge
	case UnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case CorruptInput, NoFaceInSource, NoFaceInTarget, FetchFailed, IdempotencyMismatch, LowSimilarity:
		return http.StatusUnprocessableEntity
	case Unavailable:
		return http.StatusServiceUnavailable
	case TimedOut:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}
