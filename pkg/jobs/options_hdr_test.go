package jobs

import (
	"strings"
	"testing"
)

func TestVideoHDROption(t *testing.T) {
	for _, tc := range []struct {
		hdr, encoder string
		ok           bool
	}{
		{"", "", true}, {"tonemap", "", true}, {"keep", "", true}, {"keep", "libx265", true},
		{"tonemap", "h264_nvenc", true},
		{"keep", "libx264", false}, {"keep", "h264_nvenc", false}, {"hdr10", "", false}, {"Keep", "", false},
	} {
		err := Options{VideoHDR: tc.hdr, VideoEncoder: tc.encoder}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("video_hdr %q with video_encoder %q: %v, want ok=%v", tc.hdr, tc.encoder, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "video_hdr") {
			t.Errorf("error %q does not name video_hdr", err)
		}
	}
}
