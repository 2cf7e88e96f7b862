package media

import (
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
)

func TestVideoLimitsCodes(t *testing.T) {
	ok := VideoInfo{Size: 50 << 20, Width: 1920, Height: 1080, FPS: 30, FPSRational: "30/1", Frames: 1800, Duration: time.Minute}
	with := func(f func(*VideoInfo)) VideoInfo { i := ok; f(&i); return i }
	cases := []struct {
		name string
		info VideoInfo
		code string // "" for no error
	}{
		{"fits", ok, ""},
		{"portrait 4K fits either orientation", with(func(i *VideoInfo) { i.Width, i.Height = 2160, 3840 }), ""},
		{"bytes", with(func(i *VideoInfo) { i.Size = 3 << 30 }), errcode.InputTooLarge},
		{"8K", with(func(i *VideoInfo) { i.Width, i.Height = 7680, 4320 }), VideoResolutionTooLarge},
		{"too wide", with(func(i *VideoInfo) { i.Width, i.Height = 4096, 1080 }), VideoResolutionTooLarge},
		{"short side too long", with(func(i *VideoInfo) { i.Width, i.Height = 3000, 3000 }), VideoResolutionTooLarge},
		{"11 minutes", with(func(i *VideoInfo) { i.Duration = 11 * time.Minute; i.Frames = 100 }), VideoTooLong},
		{"frames", with(func(i *VideoInfo) { i.Frames = 18_001 }), VideoTooManyFrames},
		{"frames estimated", with(func(i *VideoInfo) { i.Frames, i.FPS, i.Duration = 0, 60, 9*time.Minute+30*time.Second }), VideoTooManyFrames},
	}
	for _, c := range cases {
		err := DefaultVideoLimits.Check(c.info)
		if c.code == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if got := errcode.Code(err); got != c.code {
			t.Errorf("%s: %v, want code %s", c.name, err, c.code)
		}
	}
	if err := (VideoLimits{}).Check(with(func(i *VideoInfo) { i.Size, i.Frames, i.Duration = 1<<40, 1<<30, 100*time.Hour })); err != nil {
		t.Errorf("zero limits limit nothing: %v", err)
	}
}

// The real sample passes the defaults and trips each limit set just below it.
func TestVideoLimitsOnSample(t *testing.T) {
	vtRequireFFmpeg(t)
	info := vtProbe(t, vtSampleVideo(t))
	if err := DefaultVideoLimits.Check(info); err != nil {
		t.Fatal(err)
	}
	for code, lim := range map[string]VideoLimits{
		errcode.InputTooLarge:   {MaxBytes: info.Size - 1},
		VideoResolutionTooLarge: {MaxWidth: 640, MaxHeight: 360},
		VideoTooLong:            {MaxDuration: 2 * time.Second},
		VideoTooManyFrames:      {MaxFrames: 89},
	} {
		if got := errcode.Code(lim.Check(info)); got != code {
			t.Errorf("%+v: %s, want %s", lim, got, code)
		}
	}
}
