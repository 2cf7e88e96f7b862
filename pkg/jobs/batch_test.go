package jobs_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

// Items of one batch ending at once on many goroutines (as on several workers) give
// exactly one BatchEnded claim, and only after the last one ended; counts follow the
// items' statuses; paging walks the items in order.
func TestBatchEndsOnce(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	const n = 40
	b := &jobs.Batch{ID: "b-ends-once", Owner: "owner-b", Total: n, CreatedAt: time.Now().UTC(),
		Sources: []jobs.Input{{Key: "jobs/b-ends-once/source-0"}}, Webhook: &jobs.Webhook{URL: "https://example.com/h"}}
	if err := s.CreateBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBatch(ctx, b); errcode.Code(err) != errcode.Conflict {
		t.Fatalf("second CreateBatch: %v, want CONFLICT", err)
	}
	ids := make([]string, n)
	for i := range ids {
		j := newJob(fmt.Sprintf("b-ends-once-item-%02d", i))
		j.Owner = "owner-b"
		ids[i] = j.ID
		if err := s.CreateItem(ctx, b.ID, j, 0); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, j.ID); got == nil || got.Batch != b.ID {
			t.Fatalf("Get(%s).Batch = %+v", j.ID, got)
		}
	}
	// Not every item has ended: no claim.
	if ok, err := s.BatchEnded(ctx, b.ID); err != nil || ok {
		t.Fatalf("BatchEnded before any item ended = %v, %v", ok, err)
	}

	var claims atomic.Int32
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 0:
				_, _ = s.Start(ctx, id)
				_, _ = s.Succeed(ctx, id, &jobs.Output{Key: "k"}, nil)
			case 1:
				_, _ = s.Fail(ctx, id, errcode.New(errcode.NoFaceInTarget, "none"))
			case 2:
				_, _ = s.Cancel(ctx, id)
			case 3:
				_, _ = s.Start(ctx, id)
				_, _ = s.Cancel(ctx, id)
			}
			// Every item's Notify asks, some twice (a reaper's second Notify).
			for range 2 {
				if ok, err := s.BatchEnded(ctx, b.ID); err != nil {
					t.Error(err)
				} else if ok {
					claims.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if c := claims.Load(); c != 1 {
		t.Fatalf("%d claims of the batch's end, want exactly 1", c)
	}
	counts, ended, err := s.BatchCounts(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := jobs.BatchCounts{Succeeded: n / 4, Failed: n / 4, Canceled: n / 2}
	if counts != want || ended != n {
		t.Fatalf("counts %+v ended %d, want %+v ended %d", counts, ended, want, n)
	}
	got, err := s.GetBatch(ctx, b.ID)
	if err != nil || got.CompletedAt == nil || got.Total != n || got.Owner != "owner-b" || len(got.Sources) != 1 || got.Webhook == nil {
		t.Fatalf("GetBatch = %+v, %v", got, err)
	}
	if ttl := rdb.TTL(ctx, "swapd:batch:"+b.ID).Val(); ttl <= 0 {
		t.Fatalf("a completed batch record has TTL %v, want an expiry", ttl)
	}
	// A released claim is granted again, once.
	if err := s.ReleaseBatch(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.BatchEnded(ctx, b.ID); !ok {
		t.Fatal("a released claim is not granted again")
	}
	if ok, _ := s.BatchEnded(ctx, b.ID); ok {
		t.Fatal("a claim granted twice")
	}

	// Pages of 15: 15, 15, 10, in item order.
	var seen []string
	cursor := ""
	for range 4 {
		page, next, err := s.BatchItems(ctx, b.ID, cursor, 15)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(seen) != fmt.Sprint(ids) {
		t.Fatalf("paged items %v, want %v", seen, ids)
	}

	if err := s.DeleteBatch(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetBatch(ctx, b.ID); errcode.Code(err) != errcode.NotFound {
		t.Fatalf("GetBatch after delete: %v", err)
	}
}

// A job that is not a batch item is in no batch, and its end touches no batch set.
func TestPlainJobHasNoBatch(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	j := newJob("plain-no-batch")
	if err := s.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cancel(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, j.ID); err != nil || got.Batch != "" {
		t.Fatalf("Get(%s).Batch = %+v, %v", j.ID, got, err)
	}
	if keys := rdb.Keys(ctx, "swapd:batch:*").Val(); len(keys) != 0 {
		t.Fatalf("batch keys %v after a plain job ended", keys)
	}
}
