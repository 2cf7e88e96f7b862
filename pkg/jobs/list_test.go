package jobs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/jobs"
)

const indexKey = "swapd:owner:tenant:jobs"

// seed creates one older live job and n newer ones of the same owner, then expires
// the newer ones for real (PEXPIRE 1 ms): the owner's index still names all n+1.
func seed(t *testing.T, s *jobs.Store, rdb *redis.Client, n int) (live string) {
	t.Helper()
	ctx := context.Background()
	// Ids sort by creation like the UUIDv7 ids the API makes.
	live = "job-000000"
	for i := 0; i <= n; i++ {
		j := newJob(fmt.Sprintf("job-%06d", i))
		j.Owner = "tenant"
		if err := s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	pipe := rdb.Pipeline()
	for i := 1; i <= n; i++ {
		pipe.PExpire(ctx, fmt.Sprintf("swapd:job:job-%06d", i), time.Millisecond)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// Wait until the last one is gone (Redis expires a key when it is read after its
	// deadline).
	for rdb.Exists(ctx, fmt.Sprintf("swapd:job:job-%06d", n)).Val() == 1 {
		time.Sleep(5 * time.Millisecond)
	}
	if got := rdb.ZCard(ctx, indexKey).Val(); got != int64(n+1) {
		t.Fatalf("index holds %d entries before listing, want %d", got, n+1)
	}
	return live
}

// Issue 8: 10,000 expired jobs in front of a live older one made the first page empty
// with no cursor, and the index never shrank.
func TestListSkipsAndTrimsExpired(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	live := seed(t, s, rdb, 10_000)

	page, err := s.List(ctx, "tenant", "", 20, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Jobs) != 1 || page.Jobs[0].ID != live || page.Next != "" {
		t.Fatalf("first page: %d jobs, next %q; want only %s and no cursor", len(page.Jobs), page.Next, live)
	}
	if got := rdb.ZCard(ctx, indexKey).Val(); got != 1 {
		t.Fatalf("index holds %d entries after listing, want 1 (the live job)", got)
	}
	// With a status filter too.
	page, err = s.List(ctx, "tenant", "", 20, jobs.Queued)
	if err != nil || len(page.Jobs) != 1 || page.Jobs[0].ID != live {
		t.Fatalf("filtered page: %+v, %v", page, err)
	}
}

// Past the per-request bound a page may come back short, but then with a cursor that
// leads on to the live job, and the entries read are gone for the next request.
func TestListBoundedScanGivesCursor(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	defer jobs.SetListScanMax(300)()
	live := seed(t, s, rdb, 1000)

	var got []string
	cursor, requests := "", 0
	for {
		requests++
		page, err := s.List(ctx, "tenant", cursor, 20, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page.Jobs {
			got = append(got, j.ID)
		}
		if page.Next == "" {
			break
		}
		if requests > 10 {
			t.Fatal("cursor never reached the end of the index")
		}
		cursor = page.Next
	}
	if len(got) != 1 || got[0] != live {
		t.Fatalf("following cursors listed %v, want only %s", got, live)
	}
	if requests < 2 {
		t.Fatalf("one request read 1001 entries with a bound of 300")
	}
	if n := rdb.ZCard(ctx, indexKey).Val(); n != 1 {
		t.Fatalf("index holds %d entries, want 1", n)
	}
}

// Pages of live jobs: newest first, limit respected, cursor only while more remain,
// expired entries between live ones skipped.
func TestListPagesAroundExpired(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	for i := 0; i < 30; i++ {
		j := newJob(fmt.Sprintf("job-%06d", i))
		j.Owner = "tenant"
		if err := s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 {
			rdb.Del(ctx, "swapd:job:"+j.ID) // as if expired: 10 live remain (0, 3, … 27)
		}
	}
	p1, err := s.List(ctx, "tenant", "", 4, "")
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := s.List(ctx, "tenant", p1.Next, 4, "")
	p3, _ := s.List(ctx, "tenant", p2.Next, 4, "")
	ids := func(p jobs.Page) (out []string) {
		for _, j := range p.Jobs {
			out = append(out, j.ID)
		}
		return out
	}
	want := [][]string{{"job-000027", "job-000024", "job-000021", "job-000018"}, {"job-000015", "job-000012", "job-000009", "job-000006"}, {"job-000003", "job-000000"}}
	for i, p := range []jobs.Page{p1, p2, p3} {
		if fmt.Sprint(ids(p)) != fmt.Sprint(want[i]) {
			t.Fatalf("page %d: %v, want %v", i+1, ids(p), want[i])
		}
	}
	if p1.Next == "" || p2.Next == "" || p3.Next != "" {
		t.Fatalf("cursors %q %q %q", p1.Next, p2.Next, p3.Next)
	}
	if n := rdb.ZCard(ctx, indexKey).Val(); n != 10 {
		t.Fatalf("index holds %d entries after listing everything, want 10", n)
	}
}

func TestTrimIndex(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	live := seed(t, s, rdb, 2500)
	other := newJob("other-1")
	other.Owner = "someone"
	if err := s.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	n, err := s.TrimIndexes(ctx)
	if err != nil || n != 2500 {
		t.Fatalf("TrimIndexes removed %d, %v; want 2500", n, err)
	}
	if ids := rdb.ZRange(ctx, indexKey, 0, -1).Val(); len(ids) != 1 || ids[0] != live {
		t.Fatalf("index after trim: %v", ids)
	}
	if rdb.ZCard(ctx, "swapd:owner:someone:jobs").Val() != 1 {
		t.Fatal("trim removed another owner's live job")
	}
	if n, err := s.TrimIndex(ctx, "tenant"); err != nil || n != 0 {
		t.Fatalf("second trim removed %d, %v", n, err)
	}
}
