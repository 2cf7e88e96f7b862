package faceswap

import "fmt"

// Tracking options of video swaps and analyses (issue #10).
const (
	// DefaultTrackHold is how many frames a tracked face may go undetected and
	// still be swapped. On the test video SCRFD 500m at score 0.5 loses a
	// small face for runs of up to five frames (25 of 90 frames miss one of
	// the five people), so five bridges them; at 30 fps that is 0.17 s, short
	// enough that a face that really left does not linger.
	DefaultTrackHold = 5
	// TrackHoldNone turns hold-over off (TrackHold 0 selects the default).
	TrackHoldNone = -1
	// MaxTrackHold bounds TrackHold: every frame of hold can keep one more
	// frame buffer in flight (6 MB at 1080p, 24 MB at 4K), and a face gone for
	// a second is gone, not missed. Callers validating a hold of their own
	// should check against it.
	MaxTrackHold = 30
)

// trackHold is opts.TrackHold with its default applied and TrackHoldNone as 0.
func (o Options) trackHold() int {
	switch {
	case o.TrackHold == 0:
		return DefaultTrackHold
	case o.TrackHold < 0:
		return 0
	}
	return o.TrackHold
}

func checkTrackOptions(o Options) error {
	if o.TrackHold < TrackHoldNone || o.TrackHold > MaxTrackHold {
		return fmt.Errorf("faceswap: TrackHold %d: want 0 (default %d), 1 to %d frames, or %d (none)",
			o.TrackHold, DefaultTrackHold, MaxTrackHold, TrackHoldNone)
	}
	return nil
}

// afterDetect applies the test hook that drops detections, if set.
func (p *Pipeline) afterDetect(seq int, faces []Face) []Face {
	if p.dropDetections != nil {
		return p.dropDetections(seq, faces)
	}
	return faces
}
