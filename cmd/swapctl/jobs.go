package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/schollz/progressbar/v3"

	"github.com/swapd/swapd/pkg/client"
	"github.com/swapd/swapd/pkg/jobs"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func apiFlags(fs *flag.FlagSet, getenv func(string) string) (url, key *string) {
	def := getenv("SWAPD_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	url = fs.String("url", def, "API base URL ($SWAPD_URL)")
	key = fs.String("key", getenv("SWAPD_API_KEY"), "API key ($SWAPD_API_KEY)")
	return url, key
}

func cmdSwap(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("swap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url, key := apiFlags(fs, getenv)
	var sources multi
	fs.Var(&sources, "source", "source face image (repeat to average several)")
	target := fs.String("target", "", "target image")
	out := fs.String("out", "", "where to write the result (default: print the job)")
	opts := fs.String("options", "", `options JSON, e.g. {"face_selector":"many","output_format":"png"}`)
	hook := fs.String("webhook", "", "webhook URL for the job's terminal event")
	if err := fs.Parse(args); err != nil {
		return exitUsage, nil
	}
	if len(sources) == 0 || *target == "" {
		return exitUsage, errors.New("swap needs -source and -target")
	}
	req := client.Request{Sources: sources, Target: *target, WebhookURL: *hook}
	if *opts != "" {
		var o jobs.Options
		if err := json.Unmarshal([]byte(*opts), &o); err != nil {
			return exitUsage, fmt.Errorf("-options: %w", err)
		}
		req.Options = &o
	}
	c := client.New(*url, *key)
	job, err := c.Submit(ctx, req)
	if err != nil {
		return exitAPI, err
	}
	fmt.Fprintf(stderr, "job %s queued\n", job.ID)
	bar := progressbar.NewOptions(1, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("swapping"),
		progressbar.OptionClearOnFinish())
	job, err = c.Wait(ctx, job.ID, func(j *client.Job) {
		if j.Progress.Total > 0 {
			bar.ChangeMax(j.Progress.Total)
			_ = bar.Set(j.Progress.Done)
		}
		bar.Describe(string(j.Status))
	})
	_ = bar.Finish()
	if err != nil {
		return exitAPI, err
	}
	if job.Status != jobs.Succeeded {
		if job.Error != nil {
			return exitFailed, fmt.Errorf("job %s %s: %s: %s", job.ID, job.Status, job.Error.Code, job.Error.Message)
		}
		return exitFailed, fmt.Errorf("job %s %s", job.ID, job.Status)
	}
	if *out == "" {
		return printJSON(stdout, job)
	}
	if err := c.Download(ctx, job, *out); err != nil {
		return exitAPI, err
	}
	fmt.Fprintf(stderr, "wrote %s (%d faces swapped)\n", *out, job.Output.Faces)
	return exitOK, nil
}

func cmdStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, cancel bool) (int, error) {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url, key := apiFlags(fs, getenv)
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return exitUsage, errors.New("give exactly one job id")
	}
	c := client.New(*url, *key)
	var job *client.Job
	var err error
	if cancel {
		job, err = c.Cancel(ctx, fs.Arg(0))
	} else {
		job, err = c.Get(ctx, fs.Arg(0))
	}
	if err != nil {
		return exitAPI, err
	}
	return printJSON(stdout, job)
}

func printJSON(w io.Writer, v any) (int, error) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return exitOK, enc.Encode(v)
}
