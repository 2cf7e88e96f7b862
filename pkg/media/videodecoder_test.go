package media

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

func TestDecoderSample(t *testing.T) {
	vtRequireFFmpeg(t)
	path := vtSampleVideo(t)
	info := vtProbe(t, path)
	d, err := NewDecoder(context.Background(), path, info)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var f Frame
	var first *byte
	for {
		err := d.Next(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Width != 640 || f.Height != 480 || len(f.Pix) != 640*480*3 {
			t.Fatalf("frame %dx%d with %d bytes", f.Width, f.Height, len(f.Pix))
		}
		if first == nil {
			first = &f.Pix[0]
		} else if &f.Pix[0] != first {
			t.Fatal("Next allocated a new buffer instead of reusing dst")
		}
	}
	if d.Frames() != info.Frames {
		t.Errorf("decoded %d frames, probe said %d", d.Frames(), info.Frames)
	}
	if err := d.Next(&f); err != io.EOF {
		t.Errorf("Next after the end: %v, want io.EOF", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestDecoderNextDoesNotAllocate(t *testing.T) {
	path := vtFixture(t, vtMP4)
	d, err := NewDecoder(context.Background(), path, vtProbe(t, path))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f := NewFrame(320, 240)
	allocs := testing.AllocsPerRun(20, func() {
		if err := d.Next(&f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %v times per frame", allocs)
	}
}

func TestDecoderContextCancelStopsFFmpeg(t *testing.T) {
	vtRequireFFmpeg(t)
	path := vtSampleVideo(t)
	ctx, cancel := context.WithCancel(context.Background())
	d, err := NewDecoder(ctx, path, vtProbe(t, path))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var f Frame
	if err := d.Next(&f); err != nil {
		t.Fatal(err)
	}
	cancel()
	start := time.Now()
	for {
		err := d.Next(&f)
		if err == nil {
			continue // frames already in the pipe
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Next after cancel: %v, want context.Canceled", err)
		}
		break
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("cancel took %v", time.Since(start))
	}
	if d.cmd.ProcessState == nil {
		t.Error("ffmpeg was not reaped after cancel")
	}
}

func TestDecoderCloseEarly(t *testing.T) {
	path := vtFixture(t, vtMKV)
	d, err := NewDecoder(context.Background(), path, vtProbe(t, path))
	if err != nil {
		t.Fatal(err)
	}
	var f Frame
	if err := d.Next(&f); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close with frames left: %v", err)
	}
	if d.cmd.ProcessState == nil {
		t.Error("ffmpeg was not reaped by Close")
	}
	if err := d.Next(&f); err == nil || err == io.EOF {
		t.Errorf("Next after Close: %v, want an error", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
