package tasks

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/internal/testenv"
	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
	"github.com/swapd/swapd/pkg/media"
	"github.com/swapd/swapd/pkg/netguard"
)

// noDevice fails every slot request, counting them: the job has got past its
// memory reservation and the target's decode by then.
type noDevice struct{ asked int }

var errNoDevice = errors.New("no device in this test")

func (d *noDevice) Acquire(ctx context.Context) (Pipeline, func(), error) {
	d.asked++
	return nil, nil, errNoDevice
}

// An image job reserves its images' decoded size from the worker's budget before
// decoding, gives it back when it ends, and fails with IMAGE_TOO_LARGE, before
// decoding anything or taking a slot, when the images could never fit.
func TestImageJobReservesMemory(t *testing.T) {
	var target, source bytes.Buffer
	if err := png.Encode(&target, image.NewRGBA64(image.Rect(0, 0, 800, 600))); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&source, image.NewRGBA(image.Rect(0, 0, 200, 200))); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := source.Bytes()
		if strings.HasSuffix(r.URL.Path, "/target.png") {
			b = target.Bytes()
		}
		_, _ = io.Copy(w, bytes.NewReader(b))
	}))
	defer srv.Close()
	base := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	store := jobs.NewStore(rdb, time.Hour)
	job := &jobs.Job{ID: "budget-1", Kind: jobs.KindImage, CreatedAt: time.Now(),
		Sources: []jobs.Input{{URL: base + "/source.png"}}, Target: jobs.Input{URL: base + "/target.png"}}
	if err := store.Create(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	cost := media.JobCost(target.Bytes(), source.Bytes())
	run := func(budget *media.Budget) (*noDevice, error) {
		dev := &noDevice{}
		h := &SwapHandler{
			Jobs: store, Devices: dev, Limits: media.DefaultLimits, Memory: budget,
			Fetcher: &Fetcher{Client: netguard.NewClient(netguard.Policy{Allow: []string{"localhost"}}, 5*time.Second)},
			Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		_, _, err := h.runImage(context.Background(), job)
		return dev, err
	}

	b := media.NewBudget(cost)
	dev, err := run(b)
	if !errors.Is(err, errNoDevice) || dev.asked != 1 {
		t.Fatalf("job within the budget: %v after %d slot requests, want it to reach the device", err, dev.asked)
	}
	if b.Peak() != cost || b.Held() != 0 {
		t.Fatalf("budget peak %d (want the job's cost %d), %d still held after the job ended", b.Peak(), cost, b.Held())
	}

	b = media.NewBudget(cost - 1)
	dev, err = run(b)
	if errcode.Code(err) != errcode.ImageTooLarge || dev.asked != 0 || b.Peak() != 0 {
		t.Fatalf("job over the whole budget: %v, %d slot requests, peak %d; want IMAGE_TOO_LARGE before any", err, dev.asked, b.Peak())
	}
}
