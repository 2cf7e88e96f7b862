package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	swapdstack "github.com/swapd/swapd/internal/stack"
	"github.com/swapd/swapd/pkg/jobs"
)

// TestRetentionAndErasure: a key's retention ends its jobs' records and files
// together (the record, the stored inputs, the upload it read and the output), a key
// without one keeps them; an admin erases a key's jobs in a time range; a tenant may
// not.
func TestRetentionAndErasure(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(keys, []byte(`
keys:
  - {name: brief, role: tenant, secret: sk_brief_key, limits: {retention: 2s}}
  - {name: keeper, role: tenant, secret: sk_keeper_key}
  - {name: ops, role: admin, secret: sk_ops_key}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := swapdstack.Start(map[string]string{
		"SWAPD_KEYS_FILE":       keys,
		"SWAPD_S3_BUCKET":       "swapd-retention",
		"SWAPD_RETENTION_MIN":   "1s",
		"SWAPD_REAPER_INTERVAL": "500ms",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	as := func(key string) *stack { return &stack{URL: s.URL, Key: key, Secret: s.Secret, env: s.Env} }
	brief, keeper, ops := as("sk_brief_key"), as("sk_keeper_key"), as("sk_ops_key")
	objects := brief.store(t)
	face, target := readFile(t, "faces/astronaut.png"), readFile(t, "faces/grace_hopper.jpg")

	swap := func(c *stack) (*jobs.Job, string) {
		t.Helper()
		up := c.upload(t, target)
		var cr created
		if resp := c.postJSON(t, "/v1/jobs", map[string]any{
			"source": map[string]string{"base64": b64(face)}, "target": map[string]string{"key": up}}, &cr); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("submit: %d", resp.StatusCode)
		}
		return c.waitStatus(t, cr.ID, jobs.Succeeded), up
	}
	exists := func(key string) bool {
		_, err := objects.Stat(context.Background(), key)
		return err == nil
	}
	briefJob, briefUpload := swap(brief)
	keptJob, keptUpload := swap(keeper)
	if !exists(briefJob.Output.Key) || !exists(jobs.InputKey(briefJob.ID, "source-0")) || !exists(briefUpload) {
		t.Fatal("the brief job's files are missing before its retention ended")
	}

	// Within seconds of its 2 s retention, the brief job is gone, files and all.
	deadline := time.Now().Add(30 * time.Second)
	for {
		gone := !exists(briefJob.Output.Key) && !exists(jobs.InputKey(briefJob.ID, "source-0")) && !exists(briefUpload)
		resp := brief.do(t, "GET", "/v1/jobs/"+briefJob.ID, "", nil, nil)
		if gone && resp.StatusCode == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after its retention: record %d, files gone %v", resp.StatusCode, gone)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The other key's job keeps everything (SWAPD_JOB_TTL, a day).
	if keeper.get(t, keptJob.ID).Status != jobs.Succeeded || !exists(keptJob.Output.Key) || !exists(keptUpload) {
		t.Fatal("a key without a short retention lost its job")
	}

	// Erasure: a tenant may not; an admin removes the key's jobs in a time range.
	var u struct{ ID string }
	keeper.do(t, "GET", "/v1/usage", "", nil, &u)
	since := url.QueryEscape(keptJob.CreatedAt.Add(-time.Second).Format(time.RFC3339))
	if resp := keeper.do(t, "DELETE", "/v1/jobs?owner="+u.ID, "", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tenant erase: %d", resp.StatusCode)
	}
	later := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	var none struct{ Deleted int }
	ops.do(t, "DELETE", "/v1/jobs?owner="+u.ID+"&since="+later, "", nil, &none)
	if none.Deleted != 0 || keeper.get(t, keptJob.ID).Status != jobs.Succeeded {
		t.Fatalf("an erase of a range without jobs removed %d", none.Deleted)
	}
	var erased struct{ Deleted int }
	if resp := ops.do(t, "DELETE", "/v1/jobs?owner="+u.ID+"&since="+since, "", nil, &erased); resp.StatusCode != 200 || erased.Deleted != 1 {
		t.Fatalf("admin erase: %d, %d deleted", resp.StatusCode, erased.Deleted)
	}
	if resp := keeper.do(t, "GET", "/v1/jobs/"+keptJob.ID, "", nil, nil); resp.StatusCode != 404 || exists(keptJob.Output.Key) || exists(keptUpload) {
		t.Fatalf("after the erase: record %d, output there %v, upload there %v", resp.StatusCode, exists(keptJob.Output.Key), exists(keptUpload))
	}
	if resp := ops.do(t, "DELETE", "/v1/jobs?owner=not-a-key", "", nil, nil); resp.StatusCode != 400 {
		t.Fatalf("erase with a bad owner: %d", resp.StatusCode)
	}
}
