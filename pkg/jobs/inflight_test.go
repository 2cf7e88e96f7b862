package jobs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/errcode"
)

// TestCreateWithinInFlight: a key's jobs queued or running are counted in one Lua step
// with the create, so the limit holds under concurrent submits; ending, canceling and
// deleting free a place, a RunPod retry takes one again.
func TestCreateWithinInFlight(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	s := NewStore(rdb, time.Hour)
	job := func(id string) *Job { return &Job{ID: id, Owner: "acme", CreatedAt: time.Now()} }

	// 20 concurrent submits against a limit of 3: exactly 3 get in.
	errs := make(chan error, 20)
	for i := range 20 {
		go func() { errs <- s.CreateWithin(ctx, job(fmt.Sprintf("c%d", i)), 3) }()
	}
	in, refused := 0, 0
	for range 20 {
		switch err := <-errs; {
		case err == nil:
			in++
		case errcode.Code(err) == errcode.QuotaExceeded:
			refused++
		default:
			t.Fatal(err)
		}
	}
	if in != 3 || refused != 17 {
		t.Fatalf("%d created, %d refused; want 3 and 17", in, refused)
	}
	if n, _ := s.InFlight(ctx, "acme"); n != 3 {
		t.Fatalf("in flight %d", n)
	}
	// Another key is not affected.
	if err := s.CreateWithin(ctx, &Job{ID: "other", Owner: "beta", CreatedAt: time.Now()}, 3); err != nil {
		t.Fatal(err)
	}

	var live []string
	for i := range 20 {
		if j, err := s.Get(ctx, fmt.Sprintf("c%d", i)); err == nil {
			live = append(live, j.ID)
		}
	}
	// Running still counts; succeeding frees a place.
	if _, err := s.Start(ctx, live[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWithin(ctx, job("d1"), 3); errcode.Code(err) != errcode.QuotaExceeded {
		t.Fatalf("a running job did not count: %v", err)
	}
	if _, err := s.Fail(ctx, live[0], errcode.New(errcode.NoFaceInTarget, "x")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWithin(ctx, job("d1"), 3); err != nil {
		t.Fatalf("after a job ended: %v", err)
	}
	// Cancel and delete free places too.
	if _, err := s.Cancel(ctx, live[1]); err != nil {
		t.Fatal(err)
	}
	j2, _ := s.Get(ctx, live[2])
	if _, err := s.Delete(ctx, j2); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.InFlight(ctx, "acme"); n != 1 {
		t.Fatalf("in flight after cancel and delete: %d, want 1 (d1)", n)
	}
	// A retried job is live again.
	if err := s.Retry(ctx, live[0]); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.InFlight(ctx, "acme"); n != 2 {
		t.Fatalf("in flight after a retry: %d, want 2", n)
	}
}
