package faceswap

import (
	"runtime"
	"sync"
)

// bandPixels is the least work, in pixels, worth handing to a goroutine of its own.
// Below it the goroutine costs more than it saves: a 640×480 frame's faces are pasted
// on one goroutine, a 4K frame's on every core.
const bandPixels = 64 << 10

// inBands runs fn over the rows [y1, y2) of an image region rowPixels wide, split
// into bands of whole rows run at once on up to GOMAXPROCS goroutines, and returns
// when every band is done. Regions under two bands' worth of pixels run on the
// calling goroutine.
//
// Why: the CPU stages of a video frame (letterboxing for the detector, pasting the
// faces back) run on one goroutine per frame, which on a GPU host with many cores
// and one video job leaves all but one core idle while the GPU waits; every row of
// these stages is independent of the others, so splitting by rows gives the same
// bytes on more cores.
func inBands(y1, y2, rowPixels int, fn func(ya, yb int)) {
	rows := y2 - y1
	if rows <= 0 {
		return
	}
	n := min(runtime.GOMAXPROCS(0), rows*rowPixels/bandPixels, rows)
	if n < 2 {
		fn(y1, y2)
		return
	}
	var wg sync.WaitGroup
	wg.Add(n - 1)
	for i := 1; i < n; i++ {
		go func() {
			defer wg.Done()
			fn(y1+rows*i/n, y1+rows*(i+1)/n)
		}()
	}
	fn(y1, y1+rows/n)
	wg.Wait()
}
