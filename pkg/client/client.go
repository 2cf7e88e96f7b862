// Package client is a Go client for swapd's native API.
//
//	c := client.New("http://127.0.0.1:8080", key)
//	job, err := c.Submit(ctx, client.Request{Sources: []string{"me.jpg"}, Target: "photo.jpg"})
//	job, err = c.Wait(ctx, job.ID, func(j *client.Job) { fmt.Println(j.Progress) })
//	err = c.Download(ctx, job, "out.jpg")
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
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

// Request is a swap to submit from local files.
type Request struct {
	Sources    []string // paths of source images
	Target     string   // path of the target image
	Options    *jobs.Options
	WebhookURL string
}

// Submit uploads the files as one multipart request, streamed from disk.
func (c *Client) Submit(ctx context.Context, r Request) (*Job, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(writeForm(mw, r)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/v1/jobs", pr)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var created struct{ ID string }
	if err := c.do(req, http.StatusAccepted, &created); err != nil {
		return nil, err
	}
	return c.Get(ctx, created.ID)
}

func writeForm(mw *multipart.Writer, r Request) error {
	addFile := func(field, path string) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w, err := mw.CreateFormFile(field, filepath.Base(path))
		if err != nil {
			return err
		}
		_, err = io.Copy(w, f)
		return err
	}
	for _, s := range r.Sources {
		if err := addFile("source", s); err != nil {
			return err
		}
	}
	if err := addFile("target", r.Target); err != nil {
		return err
	}
	if r.Options != nil {
		b, _ := json.Marshal(r.Options)
		if err := mw.WriteField("options", string(b)); err != nil {
			return err
		}
	}
	if r.WebhookURL != "" {
		if err := mw.WriteField("webhook_url", r.WebhookURL); err != nil {
			return err
		}
	}
	return mw.Close()
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
