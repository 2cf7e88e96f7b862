package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// hookPoster stands in for a queue under test: it accepts a job and posts its webhook
// (to the URL found by hookURL in the body) from a goroutine, with a fresh webhook-id.
func hookPoster(t *testing.T, path string, hookURL func(body []byte) string) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		hook := hookURL(b)
		id := fmt.Sprintf("msg_%s_%d", strings.Trim(path, "/"), n.Add(1))
		go func() {
			req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader("{}"))
			req.Header.Set("webhook-id", id)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// swapctl bench -probes -peer -repeat 3 runs three swapd/peer pairs and prints each
// pair's ratios and their medians.
func TestBenchProbesRepeatPrintsMedians(t *testing.T) {
	swapd := hookPoster(t, "/v1/jobs", func(b []byte) string {
		var sub struct{ Webhook struct{ URL string } }
		_ = json.Unmarshal(b, &sub)
		return sub.Webhook.URL
	})
	peer := hookPoster(t, "/jobs", func(b []byte) string {
		var sub struct {
			WebhookURL string `json:"webhook_url"`
		}
		_ = json.Unmarshal(b, &sub)
		return sub.WebhookURL
	})
	var out, errOut bytes.Buffer
	code, err := run(context.Background(), []string{"bench", "-url", swapd.URL, "-key", "k", "-probes", "30", "-parallel", "4", "-peer", peer.URL, "-repeat", "3"},
		func(string) string { return "" }, &out, &errOut)
	if err != nil || code != exitOK {
		t.Fatalf("exit %d, %v\n%s", code, err, out.String())
	}
	pairs := regexp.MustCompile(`(?m)^ratios swapd/peer: .*finished jobs/s ([0-9.]+)×$`).FindAllStringSubmatch(out.String(), -1)
	med := regexp.MustCompile(`(?m)^median of 3 pairs swapd/peer: .*finished jobs/s ([0-9.]+)×$`).FindStringSubmatch(out.String())
	if len(pairs) != 3 || med == nil || strings.Count(out.String(), "swapd max rate, 4 clients: 30 jobs: 30 accepted") != 3 {
		t.Fatalf("want 3 pairs and their median:\n%s", out.String())
	}
	var finished []float64
	for _, p := range pairs {
		v, _ := strconv.ParseFloat(p[1], 64)
		finished = append(finished, v)
	}
	if got := fmt.Sprintf("%.2f", median(finished)); got != med[1] {
		t.Fatalf("median of %v printed as %s, want %s", finished, med[1], got)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
