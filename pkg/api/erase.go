package api

import (
	"net/http"
	"regexp"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
)

// keyIDPattern is what apikeys.ID returns: 24 hex digits.
var keyIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

// eraseResponse answers DELETE /v1/jobs.
type eraseResponse struct {
	Owner   string `json:"owner"`
	Deleted int    `json:"deleted"` // jobs removed with their records, inputs, uploads and outputs
}

// handleEraseJobs serves DELETE /v1/jobs?owner=<key id>&since=<RFC 3339>&until=<RFC
// 3339>, for admin keys: every job of that key created in [since, until) (either end
// may be left open) goes, live ones canceled first, with its inputs, uploads and
// output. It is how an operator answers an erasure request (GDPR art. 17) for a
// tenant's data, or clears a key's history; the key's id is what GET /v1/usage shows.
func handleEraseJobs(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		owner := q.Get("owner")
		if !keyIDPattern.MatchString(owner) {
			writeError(w, d.Log, errcode.New(errcode.InvalidRequest, "owner must be a key id (the id GET /v1/usage shows)"))
			return
		}
		var since, until time.Time
		for _, b := range []struct {
			name string
			t    *time.Time
		}{{"since", &since}, {"until", &until}} {
			if v := q.Get(b.name); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					writeError(w, d.Log, errcode.New(errcode.InvalidRequest, "%s %q is not an RFC 3339 time", b.name, v))
					return
				}
				*b.t = t
			}
		}
		ids, err := d.Jobs.IDsOf(r.Context(), owner)
		if err != nil {
			writeError(w, d.Log, err)
			return
		}
		deleted := 0
		for _, id := range ids {
			j, err := d.Jobs.Get(r.Context(), id)
			if errcode.Code(err) == errcode.NotFound {
				continue
			}
			if err != nil {
				writeError(w, d.Log, err)
				return
			}
			if j.Owner != owner || (!since.IsZero() && j.CreatedAt.Before(since)) || (!until.IsZero() && !j.CreatedAt.Before(until)) {
				continue
			}
			if err := deleteJob(r.Context(), d, j); err != nil {
				writeError(w, d.Log, err)
				return
			}
			deleted++
		}
		d.Log.Info("jobs erased", "owner", owner, "since", since, "until", until, "deleted", deleted)
		writeJSON(w, http.StatusOK, eraseResponse{Owner: owner, Deleted: deleted})
	})
}
