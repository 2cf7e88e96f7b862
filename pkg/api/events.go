package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/swapd/swapd/pkg/jobs"
)

// eventPoll is how often the events stream re-reads the job record. The worker writes
// progress at most a few times a second, so polling one hash is cheaper than a pub/sub
// channel per job and needs nothing from the worker.
const eventPoll = 200 * time.Millisecond

// handleJobEvents streams Server-Sent Events: a "status" event whenever the status or
// progress changes, in order, ending with the terminal status, after which the stream
// closes. Each event's data is the job as GET returns it.
func handleJobEvents(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j := loadJob(w, r, d)
		if j == nil {
			return
		}
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Accel-Buffering", "no") // let proxies pass events through at once
		w.WriteHeader(http.StatusOK)
		seq := 0
		var last string
		tick := time.NewTicker(eventPoll)
		defer tick.Stop()
		heartbeat := time.Now()
		for {
			state := fmt.Sprintf("%s/%d/%d", j.Status, j.Progress.Done, j.Progress.Total)
			if state != last {
				last = state
				seq++
				b, _ := json.Marshal(jobs.Present(r.Context(), d.Store, j, d.URLExpiry))
				fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, eventName(j.Status), b)
				_ = rc.Flush()
				heartbeat = time.Now()
			} else if time.Since(heartbeat) > 15*time.Second {
				fmt.Fprint(w, ": keep-alive\n\n")
				_ = rc.Flush()
				heartbeat = time.Now()
			}
			if j.Status.Terminal() {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
			next, err := d.Jobs.Get(r.Context(), j.ID)
			if err != nil {
				return // deleted or expired: the stream ends
			}
			j = next
		}
	})
}

// eventName is "progress" while the job lives, "done" for its terminal event, so a
// client can stop listening on the event name alone.
func eventName(s jobs.Status) string {
	if s.Terminal() {
		return "done"
	}
	return "progress"
}
