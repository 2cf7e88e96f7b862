// Package client is a Go client for swapd's native API.
//
//	c := client.New("http://127.0.0.1:8080", key)
//	job, err := c.Submit(ctx, client.Request{Sources: []string{"me.jpg"}, Target: "clip.mp4"})
//	job, err = c.Wait(ctx, job.ID, func(j *client.Job) { fmt.Println(j.Progress) })
//	err = c.Download(ctx, job, "out.jpg")
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/swapd/swapd/pkg/errcode"
	"github.com/swapd/swapd/pkg/jobs"
)

// Job is a job as the API reports it.
type Job = jobs.Job

// Client talks to one swapd API.
type Client struct {
	BaseURL string
	Key     string
	HTTP    *http.Client
}

// New returns a client for baseURL authenticating with key.
func New(baseURL, key string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Key: key, HTTP: &http.Client{}}
}

// Request is a swap to submit. Each input is a local file path (uploaded through a
// presigned URL, straight to object storage) or an http(s) URL the worker fetches.
type Request struct {
	Sources        []string
	Target         string
	Reference      string // optional, for face_selector=reference
	Options        *jobs.Options
	WebhookURL     string
	IdempotencyKey string
	// UploadProgress, if set, is called as local files upload: bytes sent so far and
	// the total of all files.
	UploadProgress func(done, total int64)
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// Submit uploads the request's local files, then submits the job as JSON.
func (c *Client) Submit(ctx context.Context, r Request) (*Job, error) {
	var total int64
	for _, p := range append([]string{r.Target, r.Reference}, r.Sources...) {
		if p != "" && !isURL(p) && !isUploadKey(p) {
			fi, err := os.Stat(p)
			if err != nil {
				return nil, err
			}
			total += fi.Size()
		}
	}
	var sent int64
	input := func(p string) (map[string]string, error) {
		if isURL(p) {
			return map[string]string{"url": p}, nil
		}
		if isUploadKey(p) {
			return map[string]string{"key": p}, nil
		}
		key, err := c.upload(ctx, p, func(n int64) {
			sent += n
			if r.UploadProgress != nil {
				r.UploadProgress(sent, total)
			}
		})
		return map[string]string{"key": key}, err
	}
	body := map[string]any{}
	var sources []any
	for _, p := range r.Sources {
		in, err := input(p)
		if err != nil {
			return nil, err
		}
		sources = append(sources, in)
	}
	if len(sources) > 0 { // a mapped swap's sources are in its mappings
		body["source"] = sources
	}
	in, err := input(r.Target)
	if err != nil {
		return nil, err
	}
	body["target"] = in
	if r.Reference != "" {
		if body["reference"], err = input(r.Reference); err != nil {
			return nil, err
		}
	}
	if r.Options != nil {
		body["options"] = r.Options
	}
	if r.WebhookURL != "" {
		body["webhook"] = map[string]string{"url": r.WebhookURL}
	}
	return c.submit(ctx, body, r.IdempotencyKey)
}

// Upload puts a local file into storage through a presigned URL and returns its
// upload key, for inputs given by key (a mapping's sources and reference).
func (c *Client) Upload(ctx context.Context, path string) (string, error) {
	return c.upload(ctx, path, nil)
}

// isUploadKey reports whether p names an upload already in storage (an analyze job's
// Target.Key, to swap the same target) rather than a local file.
func isUploadKey(p string) bool {
	if !strings.HasPrefix(p, "uploads/") {
		return false
	}
	_, err := os.Stat(p)
	return err != nil
}

// Analyze submits an analyze job of target (a local file, uploaded first, or an
// http(s) URL): the faces of an image, or the people of a video, for a later swap's
// options.mappings. Wait for it like any job; the result is Output.Analysis. To map
// its people, submit the swap with Options.Analysis set to its id and the same
// target: job.Target.Key (the upload) or the same URL as Request.Target.
func (c *Client) Analyze(ctx context.Context, target string, opts *jobs.Options, webhookURL string) (*Job, error) {
	in := map[string]string{"url": target}
	if !isURL(target) {
		key, err := c.upload(ctx, target, nil)
		if err != nil {
			return nil, err
		}
		in = map[string]string{"key": key}
	}
	body := map[string]any{"kind": jobs.KindAnalyze, "target": in}
	if opts != nil {
		body["options"] = opts
	}
	if webhookURL != "" {
		body["webhook"] = map[string]string{"url": webhookURL}
	}
	return c.submit(ctx, body, "")
}

// Probe submits a probe job: it travels API, queue, a device slot and the webhook
// without inference.
func (c *Client) Probe(ctx context.Context, webhookURL string) (*Job, error) {
	body := map[string]any{"kind": "probe"}
	if webhookURL != "" {
		body["webhook"] = map[string]string{"url": webhookURL}
	}
	return c.submit(ctx, body, "")
}

func (c *Client) submit(ctx context.Context, body any, idem string) (*Job, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/v1/jobs", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	var created struct{ ID string }
	if err := c.do(req, http.StatusAccepted, &created); err != nil {
		return nil, err
	}
	return c.Get(ctx, created.ID)
}

// upload sends a file to a presigned PUT URL and returns its key.
func (c *Client) upload(ctx context.Context, path string, progress func(n int64)) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/v1/uploads", strings.NewReader("{}"))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	var up struct{ Key, URL, Method string }
	if err := c.do(req, http.StatusCreated, &up); err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	put, err := http.NewRequestWithContext(ctx, up.Method, up.URL, &countingReader{r: f, add: progress})
	if err != nil {
		return "", err
	}
	put.ContentLength = fi.Size()
	resp, err := c.HTTP.Do(put)
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("upload %s: storage answered %s", path, resp.Status)
	}
	return up.Key, nil
}

type countingReader struct {
	r   io.Reader
	add func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && c.add != nil {
		c.add(int64(n))
	}
	return n, err
}

// List returns a page of the caller's jobs, newest first; status may be empty.
func (c *Client) List(ctx context.Context, status, cursor string, limit int) (*jobs.Page, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+"/v1/jobs?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	var p jobs.Page
	return &p, c.do(req, http.StatusOK, &p)
}

// Get returns the job's current state.
func (c *Client) Get(ctx context.Context, id string) (*Job, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+"/v1/jobs/"+id, nil)
	if err != nil {
		return nil, err
	}
	var j Job
	return &j, c.do(req, http.StatusOK, &j)
}

// Cancel cancels a queued or running job.
func (c *Client) Cancel(ctx context.Context, id string) (*Job, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/v1/jobs/"+id+"/cancel", nil)
	if err != nil {
		return nil, err
	}
	var j Job
	return &j, c.do(req, http.StatusOK, &j)
}

// Wait polls until the job ends, calling progress (if not nil) on every poll.
func (c *Client) Wait(ctx context.Context, id string, progress func(*Job)) (*Job, error) {
	for {
		j, err := c.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress(j)
		}
		if j.Status.Terminal() {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Download writes a succeeded job's output to path.
func (c *Client) Download(ctx context.Context, j *Job, path string) error {
	if j.Output == nil || j.Output.URL == "" {
		return fmt.Errorf("job %s has no output (status %s)", j.ID, j.Status)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.Output.URL, nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download output: %s", resp.Status)
	}
	tmp := path + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// do sends req with the key and decodes a want-status answer into out; any other
// status becomes an *errcode.Error from the API's error body.
func (c *Client) do(req *http.Request, want int, out any) error {
	req.Header.Set("Authorization", "Bearer "+c.Key)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		var e struct{ Error *errcode.Error }
		if json.Unmarshal(body, &e) == nil && e.Error != nil {
			return e.Error
		}
		return fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

// IsCode reports whether err is an API error with the given code.
func IsCode(err error, code string) bool {
	var e *errcode.Error
	return errors.As(err, &e) && e.Code == code
}
