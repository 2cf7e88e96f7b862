package api

import (
	"net/http"
	"time"

	"github.com/google/uuid"
)

type uploadResponse struct {
	Key       string    `json:"key"`
	URL       string    `json:"url"`
	Method    string    `json:"method"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleCreateUpload hands out a presigned PUT URL so large files go straight to object
// storage. The key is then used as {"key": ...} in a job; the job checks the content.
func handleCreateUpload(d *Deps) http.Handler {
	const expiry = 15 * time.Minute
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := uploadPrefix(owner(r)) + uuid.Must(uuid.NewV7()).String()
		u, err := d.Store.PresignPut(r.Context(), key, expiry)
		if err != nil {
			writeError(w, d.Log, err)
			return
		}
		writeJSON(w, http.StatusCreated, uploadResponse{Key: key, URL: u, Method: http.MethodPut, ExpiresAt: time.Now().Add(expiry).UTC()})
	})
}
