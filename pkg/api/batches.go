package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/tasks"
)

// Batches: one identity swapped into many targets (POST /v1/batches). Each target is an
// ordinary job of the key (an item: listed under /v1/jobs, canceled, deleted and
// webhooked as any job) whose sources are the batch's, stored once under the batch's
// prefix, so the worker's embedding cache (keyed by the sources' bytes) computes the
// identity for the first item only. The batch record and its counting are in
// pkg/jobs/batch.go; batch.completed is enqueued by the worker that ends the last item
// (tasks/batchhook.go).
//
// Limits: every item counts as a job against the key's daily job quota, and a batch
// takes them all or none (429 QUOTA_EXCEEDED before anything is stored). A batch must
// also fit under max_in_flight as a whole: one whose items would take the key past the
// limit is refused with QUOTA_EXCEEDED up front rather than accepted and fed to the
// queue as places free. Holding items back would need a per-key scheduler outside the
// queue (state that could strand items across API restarts); refusing keeps one rule,
// enforced where records are created, and the client can split the batch or wait.

// maxBatchBody caps a batch request; large batches should send url or key inputs.
const maxBatchBody = 64 << 20

// DefaultMaxBatch is the most targets one batch may have unless Deps.MaxBatch
// (SWAPD_MAX_BATCH) says otherwise.
const DefaultMaxBatch = 1000

// BatchSubmission is a batch as a client sends it.
type BatchSubmission struct {
	Source  json.RawMessage `json:"source"` // one input or a list, as for a job
	Targets []Input         `json:"targets"`
	Options jobs.Options    `json:"options"`
	Webhook *struct {
		URL string `json:"url"`
	} `json:"webhook,omitempty"`
}

// batchCreated is the 202 answer to POST /v1/batches.
type batchCreated struct {
	ID     string   `json:"id"`
	Status string   `json:"status"` // running
	Total  int      `json:"total"`
	Items  []string `json:"items"` // the items' job ids, in the order of the targets
}

// batchView is GET /v1/batches/{id}: the batch, its counts and a page of its items.
type batchView struct {
	ID          string           `json:"id"`
	Status      string           `json:"status"` // running, or completed once every item has ended
	Total       int              `json:"total"`
	Ended       int              `json:"ended"` // items that have ended
	Counts      jobs.BatchCounts `json:"counts"`
	CreatedAt   time.Time        `json:"created_at"`
	CompletedAt *time.Time       `json:"completed_at,omitempty"`
	Items       []*jobs.Job      `json:"items"` // in target order; items deleted or expired are left out
	Next        string           `json:"next_cursor,omitempty"`
}

func handleCreateBatch(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
			writeError(w, d.Log, errcode.New(errcode.UnsupportedMedia, "send application/json, not %q", ct))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBatchBody))
		if err != nil {
			writeError(w, d.Log, readError(err, maxBatchBody))
			return
		}
		var sub BatchSubmission
		if err := unmarshalStrict(body, &sub); err != nil {
			writeError(w, d.Log, errcode.New(errcode.InvalidRequest, "the body is not a valid batch: %v", err))
			return
		}
		created, err := createBatch(r.Context(), d, sub)
		if err != nil {
			writeError(w, d.Log, err)
			return
		}
		d.Log.Info("batch queued", "batch", created.ID, "items", created.Total)
		w.Header().Set("Location", "/v1/batches/"+created.ID)
		writeJSON(w, http.StatusAccepted, created)
	})
}

func isJSON(ct string) bool {
	return ct == "application/json" || len(ct) > 16 && ct[:17] == "application/json;"
}

// createBatch validates the batch, takes its quota, stores the sources once and each
// target under its item, then writes the batch and item records and enqueues the
// items. Anything that fails undoes all of it: a batch is accepted whole or not at all.
func createBatch(ctx context.Context, d *Deps, sub BatchSubmission) (*batchCreated, error) {
	key := keyOf(ctx)
	n := len(sub.Targets)
	switch {
	case n == 0:
		return nil, errcode.New(errcode.InvalidRequest, "targets: at least one target is required")
	case n > d.MaxBatch:
		return nil, errcode.New(errcode.InvalidRequest, "targets: %d targets; the limit is %d (SWAPD_MAX_BATCH)", n, d.MaxBatch)
	}
	var sources []Input
	if len(sub.Source) > 0 && sub.Source[0] == '{' {
		var one Input
		if err := unmarshalStrict(sub.Source, &one); err != nil {
			return nil, errcode.New(errcode.InvalidRequest, "source: %v", err)
		}
		sources = []Input{one}
	} else if len(sub.Source) > 0 {
		if err := unmarshalStrict(sub.Source, &sources); err != nil {
			return nil, errcode.New(errcode.InvalidRequest, "source must be an input or a list of inputs: %v", err)
		}
	}
	if err := checkCounts(d, len(sources), true); err != nil {
		return nil, err
	}
	hook := ""
	if sub.Webhook != nil {
		hook = sub.Webhook.URL
	}
	tmpl := &jobs.Job{}
	if err := setSpec(d, tmpl, sub.Options, hook); err != nil {
		return nil, err
	}
	if len(tmpl.Options.Mappings) > 0 {
		// A mapping names the people of one target (its analysis looked at that target).
		return nil, errcode.New(errcode.InvalidRequest, "options.mappings are per target; submit mapped swaps as jobs")
	}
	if max := key.Limits.MaxInFlight; max > 0 {
		live, err := d.Jobs.InFlight(ctx, key.ID)
		if err != nil {
			return nil, err
		}
		if live+int64(n) > int64(max) {
			return nil, errcode.New(errcode.QuotaExceeded, "this batch has %d items and this API key has %d jobs queued or running; its limit is %d", n, live, max)
		}
	}
	taken, err := takeJobs(ctx, d, n)
	if err != nil {
		return nil, err
	}

	b := &jobs.Batch{ID: uuid.Must(uuid.NewV7()).String(), Owner: key.ID, Total: n, CreatedAt: time.Now().UTC(),
		Options: tmpl.Options, Webhook: tmpl.Webhook}
	items := make([]*jobs.Job, 0, n)
	var created []*jobs.Job
	undo := func() {
		ctx := context.WithoutCancel(ctx)
		for _, j := range created {
			_, _ = d.Jobs.Cancel(ctx, j.ID)
			_ = d.Inspector.DeleteTask(tasks.JobQueue(j), j.ID)
			_, _ = d.Jobs.Delete(ctx, j)
		}
		for _, j := range items {
			_ = d.Store.DeletePrefix(ctx, jobs.ObjectPrefix(j.ID))
		}
		_ = d.Store.DeletePrefix(ctx, jobs.ObjectPrefix(b.ID))
		_ = d.Jobs.DeleteBatch(ctx, b.ID)
		for range taken {
			d.Usage.ReturnJob(ctx, key.ID)
		}
	}
	fail := func(err error) (*batchCreated, error) { undo(); return nil, err }

	var stored int64
	for i, s := range sources {
		in, err := resolveInput(ctx, d, b.ID, fmt.Sprintf("source-%d", i), s)
		if err != nil {
			return fail(err)
		}
		b.Sources = append(b.Sources, in)
		stored += in.Size
	}
	for i, t := range sub.Targets {
		j := newJob(key.ID)
		j.Sources, j.Options, j.Webhook, j.Queue = b.Sources, b.Options, b.Webhook, tmpl.Queue
		items = append(items, j)
		in, err := resolveInput(ctx, d, j.ID, "target", t)
		if err != nil {
			return fail(targetError(i, err))
		}
		j.Target = in
		if err := setKind(j, ""); err != nil {
			return fail(targetError(i, err))
		}
		stored += in.Size
	}

	if err := d.Jobs.CreateBatch(ctx, b); err != nil {
		return fail(err)
	}
	ids := make([]string, 0, n)
	for _, j := range items {
		// The limit is checked again for each record (concurrent submits of the same key
		// may have used the places counted above): the batch is refused whole then too.
		if err := d.Jobs.CreateItem(ctx, b.ID, j, key.Limits.MaxInFlight); err != nil {
			return fail(err)
		}
		created = append(created, j)
		ids = append(ids, j.ID)
	}
	// The records on SWAPD_REDIS_MIN_REPLICAS replicas before any task exists (or
	// 503, and no worker can have started an item), then the tasks (as enqueue).
	if err := d.Jobs.Confirm(ctx); err != nil {
		return fail(err)
	}
	for _, j := range items {
		if err := tasks.EnqueueSwap(ctx, d.Queue, d.Redis, j); err != nil {
			d.Log.Error("enqueue", "job", j.ID, "batch", b.ID, "err", err)
			return fail(errcode.New(errcode.Unavailable, "the job queue is unavailable; try again"))
		}
	}
	if err := d.Jobs.Confirm(ctx); err != nil {
		return fail(err)
	}
	for _, j := range items {
		d.Metrics.JobSubmitted(string(j.Kind))
	}
	if d.Usage != nil {
		if err := d.Usage.AddBytes(context.WithoutCancel(ctx), key.ID, stored); err != nil {
			d.Log.Warn("count usage", "batch", b.ID, "err", err)
		}
	}
	return &batchCreated{ID: b.ID, Status: "running", Total: n, Items: ids}, nil
}

// takeJobs counts n jobs against the key's daily job quota, all or none.
func takeJobs(ctx context.Context, d *Deps, n int) (taken int, err error) {
	if d.Usage == nil {
		return 0, nil
	}
	key := keyOf(ctx)
	for taken = 0; taken < n; taken++ {
		if err := d.Usage.TakeJob(ctx, key); err != nil {
			for i := 0; i < taken; i++ {
				d.Usage.ReturnJob(context.WithoutCancel(ctx), key.ID)
			}
			if e, ok := errcode.As(err); ok && e.Code == errcode.QuotaExceeded {
				return 0, errcode.New(errcode.QuotaExceeded, "this batch's %d items do not fit in the key's daily quota: %s", n, e.Message)
			}
			return 0, err
		}
	}
	return taken, nil
}

// targetError names the target an input error is about.
func targetError(i int, err error) error {
	if e, ok := errcode.As(err); ok {
		return errcode.New(e.Code, "targets[%d]: %s", i, e.Message)
	}
	return err
}

// loadBatch reads the batch named in the path, or answers 404 (also for another key's
// batch) and returns nil.
func loadBatch(w http.ResponseWriter, r *http.Request, d *Deps) *jobs.Batch {
	id := r.PathValue("id")
	notFound := errcode.New(errcode.NotFound, "no batch with id %q", id)
	if !idPattern.MatchString(id) {
		writeError(w, d.Log, notFound)
		return nil
	}
	b, err := d.Jobs.GetBatch(r.Context(), id)
	if err == nil && b.Owner != owner(r) {
		err = notFound
	}
	if err != nil {
		writeError(w, d.Log, err)
		return nil
	}
	return b
}

func handleGetBatch(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := loadBatch(w, r, d)
		if b == nil {
			return
		}
		q := r.URL.Query()
		limit := 20
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				writeError(w, d.Log, errcode.New(errcode.InvalidRequest, "limit must be 1–100"))
				return
			}
			limit = n
		}
		cursor := q.Get("cursor")
		if cursor != "" && !idPattern.MatchString(cursor) {
			writeError(w, d.Log, errcode.New(errcode.InvalidRequest, "cursor %q is not a cursor from this API", cursor))
			return
		}
		view, err := viewBatch(r.Context(), d, b, cursor, limit)
		if err != nil {
			writeError(w, d.Log, err)
			return
		}
		writeJSON(w, http.StatusOK, view)
	})
}

// viewBatch is the batch with its counts and a page of its items.
func viewBatch(ctx context.Context, d *Deps, b *jobs.Batch, cursor string, limit int) (*batchView, error) {
	counts, ended, err := d.Jobs.BatchCounts(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	ids, next, err := d.Jobs.BatchItems(ctx, b.ID, cursor, limit)
	if err != nil {
		return nil, err
	}
	if ended >= b.Total && b.CompletedAt == nil && d.Notifier != nil {
		// Every item ended but the batch was never marked completed (its last item's
		// worker died before announcing it): claim and announce it now.
		if err := d.Notifier.NotifyBatch(ctx, b.ID); err != nil {
			d.Log.Warn("complete batch", "batch", b.ID, "err", err)
		} else if nb, err := d.Jobs.GetBatch(ctx, b.ID); err == nil {
			b = nb
		}
	}
	v := &batchView{ID: b.ID, Status: "running", Total: b.Total, Ended: ended, Counts: counts,
		CreatedAt: b.CreatedAt, CompletedAt: b.CompletedAt, Items: []*jobs.Job{}, Next: next}
	if ended >= b.Total {
		v.Status = "completed"
	}
	for _, id := range ids {
		j, err := d.Jobs.Get(ctx, id)
		if errcode.Code(err) == errcode.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		v.Items = append(v.Items, jobs.Present(ctx, d.Store, j, d.URLExpiry))
	}
	return v, nil
}

// handleCancelBatch cancels every item still queued or running and answers the batch.
func handleCancelBatch(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := loadBatch(w, r, d)
		if b == nil {
			return
		}
		if err := cancelItems(r.Context(), d, b); err != nil {
			writeError(w, d.Log, err)
			return
		}
		d.Log.Info("batch canceled", "batch", b.ID)
		if b = loadBatch(w, r, d); b == nil {
			return
		}
		view, err := viewBatch(r.Context(), d, b, "", 20)
		if err != nil {
			writeError(w, d.Log, err)
			return
		}
		writeJSON(w, http.StatusOK, view)
	})
}

// cancelItems cancels the batch's live items; items that already ended (or are gone)
// are left as they are.
func cancelItems(ctx context.Context, d *Deps, b *jobs.Batch) error {
	ids, err := d.Jobs.BatchItemIDs(ctx, b.ID)
	if err != nil {
		return err
	}
	statuses := make(map[string]jobs.Status, len(ids))
	for _, id := range ids {
		st, err := d.Jobs.Status(ctx, id)
		if errcode.Code(err) == errcode.NotFound {
			continue
		}
		if err != nil {
			return err
		}
		statuses[id] = st
	}
	for _, id := range ids {
		if st, ok := statuses[id]; !ok || st.Terminal() {
			continue
		}
		if err := cancelJob(ctx, d, b.Owner, id); err != nil && errcode.Code(err) != errcode.Conflict && errcode.Code(err) != errcode.NotFound {
			return err
		}
	}
	return nil
}

// handleDeleteBatch cancels the live items, then removes every item (record, target,
// output), the batch's sources and the batch record.
func handleDeleteBatch(d *Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := loadBatch(w, r, d)
		if b == nil {
			return
		}
		ctx := r.Context()
		if err := cancelItems(ctx, d, b); err != nil {
			writeError(w, d.Log, err)
			return
		}
		ids, err := d.Jobs.BatchItemIDs(ctx, b.ID)
		if err != nil {
			writeError(w, d.Log, err)
			return
		}
		// The sources are the batch's (every item names them): deleted once, last.
		uploads := ownUploads(b.Owner, b.Sources)
		for _, id := range ids {
			j, err := d.Jobs.Get(ctx, id)
			if errcode.Code(err) == errcode.NotFound {
				continue
			}
			if err != nil {
				writeError(w, d.Log, err)
				return
			}
			uploads = append(uploads, ownUploads(j.Owner, []jobs.Input{j.Target})...)
			if err := removeJob(ctx, d, j); err != nil {
				writeError(w, d.Log, err)
				return
			}
		}
		if err := d.Store.Delete(ctx, uploads...); err != nil {
			writeError(w, d.Log, fmt.Errorf("delete inputs of batch %s: %w", b.ID, err))
			return
		}
		if err := d.Store.DeletePrefix(ctx, jobs.ObjectPrefix(b.ID)); err != nil {
			writeError(w, d.Log, fmt.Errorf("delete objects of batch %s: %w", b.ID, err))
			return
		}
		if err := d.Jobs.DeleteBatch(ctx, b.ID); err != nil {
			writeError(w, d.Log, fmt.Errorf("delete batch %s: %w", b.ID, err))
			return
		}
		d.Log.Info("batch deleted", "batch", b.ID, "items", len(ids))
		w.WriteHeader(http.StatusNoContent)
	})
}

// batchPaths describes the batch routes in the OpenAPI document (Document).
func batchPaths() map[string]any {
	errResp := resp("error with a stable code", ref("Error"))
	unavailable := map[string]any{"description": "UNAVAILABLE: Redis or object storage is down; retry after Retry-After seconds",
		"headers": map[string]any{"Retry-After": map[string]any{"schema": map[string]any{"type": "integer"}}},
		"content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
	batchID := map[string]any{"parameters": []any{map[string]any{"name": "id", "in": "path", "required": true,
		"description": "the batch id from POST /v1/batches", "schema": map[string]any{"type": "string", "format": "uuid"}}}}
	page := map[string]any{"parameters": []any{
		batchID["parameters"].([]any)[0],
		map[string]any{"name": "limit", "in": "query", "description": "items per page, default 20", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 100}},
		map[string]any{"name": "cursor", "in": "query", "description": "next_cursor of the previous page", "schema": map[string]any{"type": "string"}},
	}}
	batches := func(id, desc string) map[string]any { return about(id, "Batches", desc) }
	return map[string]any{
		"/v1/batches": map[string]any{"post": op("Submit a batch: one identity, many targets", map[string]any{
			"202": resp("queued: the batch id and its items' job ids in target order", ref("BatchCreated")),
			"400": errResp, "401": errResp, "413": errResp, "415": errResp, "503": unavailable,
		}, batches("createBatch", "Stores the sources once and each target as an item, an ordinary job of the key (listed under /v1/jobs) sharing the batch's sources, options and webhook; "+
			"the items run in parallel across workers and one failing does not fail the others. Each item counts as a job for the key's daily quota and max_in_flight: "+
			"a batch that does not fit as a whole is refused with 429 QUOTA_EXCEEDED before anything is stored. With a webhook, every item sends its own job event and "+
			"the batch one batch.completed event (data: id, total, counts) once every item has ended."), map[string]any{
			"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref("BatchSubmission")}}},
		})},
		"/v1/batches/{id}": map[string]any{
			"get": op("A batch's counts by status and a page of its items", map[string]any{"200": resp("the batch", ref("Batch")), "400": errResp, "401": errResp, "404": errResp, "503": unavailable}, page,
				batches("getBatch", "Counts of the items by status, and the items in target order, a page at a time (pass next_cursor as cursor). Another key's batch is a 404.")),
			"delete": op("Delete the batch and all its items", map[string]any{"204": resp("deleted", nil), "401": errResp, "404": errResp, "503": unavailable}, batchID,
				batches("deleteBatch", "Cancels the live items, then removes every item's record, target and output, the batch's sources and the batch.")),
		},
		"/v1/batches/{id}/cancel": map[string]any{"post": op("Cancel every queued or running item", map[string]any{"200": resp("the batch after the cancel", ref("Batch")), "401": errResp, "404": errResp, "503": unavailable}, batchID,
			batches("cancelBatch", "Cancels the items still queued or running (each sends its job.canceled webhook); items that ended stay as they are."))},
	}
}
