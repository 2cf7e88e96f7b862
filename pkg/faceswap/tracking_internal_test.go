package faceswap

import "testing"

func TestTrackHoldOption(t *testing.T) {
	for _, c := range []struct {
		hold, want int
		ok         bool
	}{
		{0, DefaultTrackHold, true},
		{TrackHoldNone, 0, true},
		{1, 1, true},
		{MaxTrackHold, MaxTrackHold, true},
		{MaxTrackHold + 1, 0, false},
		{-2, 0, false},
	} {
		o := Options{TrackHold: c.hold}
		err := o.Validate()
		if (err == nil) != c.ok {
			t.Errorf("TrackHold %d: Validate %v, want ok %v", c.hold, err, c.ok)
		}
		if c.ok && o.trackHold() != c.want {
			t.Errorf("TrackHold %d: effective hold %d, want %d", c.hold, o.trackHold(), c.want)
		}
	}
}
