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
	"github.com/swapd/swapd/pkg/errcode"
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
	fs.Var(&sources, "source", "source face image, file or URL (repeat to average several)")
	target := fs.String("target", "", "target image or video, file or URL")
	reference := fs.String("reference", "", "reference face image (with face_selector=reference)")
	out := fs.String("out", "", "where to write the result (default: print the job as JSON)")
	fs.StringVar(out, "o", "", "shorthand for -out")
	enhance := fs.Bool("enhance", false, "restore faces with GFPGAN 1.4 after the swap")
	mouth := fs.Bool("mouth-mask", false, "keep the target's own mouth")
	many := fs.Bool("many", false, "swap every face, not only the largest")
	opts := fs.String("options", "", `more options as JSON, e.g. {"face_order":"left-right","output_format":"png"}`)
	hook := fs.String("webhook", "", "webhook URL for the job's terminal event")
	idem := fs.String("idempotency-key", "", "Idempotency-Key: a retried command returns the same job")
	quiet := fs.Bool("q", false, "no progress bars")
	if err := fs.Parse(args); err != nil {
		return exitUsage, nil
	}
	if len(sources) == 0 || *target == "" {
		return exitUsage, errors.New("swap needs -source and -target")
	}
	var o jobs.Options
	if *opts != "" {
		if err := json.Unmarshal([]byte(*opts), &o); err != nil {
			return exitUsage, fmt.Errorf("-options: %w", err)
		}
	}
	if *enhance {
		o.Enhancer = "gfpgan_1.4"
	}
	if *mouth {
		o.MouthMask = true
	}
	if *many {
		o.FaceSelector = "many"
	}
	barOut := stderr
	if *quiet {
		barOut = io.Discard
	}
	up := progressbar.NewOptions64(1, progressbar.OptionSetWriter(barOut), progressbar.OptionSetDescription("uploading"),
		progressbar.OptionShowBytes(true), progressbar.OptionClearOnFinish())
	req := client.Request{Sources: sources, Target: *target, Reference: *reference, Options: &o, WebhookURL: *hook,
		IdempotencyKey: *idem, UploadProgress: func(done, total int64) {
			up.ChangeMax64(total)
			_ = up.Set64(done)
		}}
	c := client.New(*url, *key)
	job, err := c.Submit(ctx, req)
	_ = up.Finish()
	if err != nil {
		return exitCode(err), err
	}
	fmt.Fprintf(stderr, "job %s queued\n", job.ID)
	bar := progressbar.NewOptions(1, progressbar.OptionSetWriter(barOut), progressbar.OptionSetDescription("queued"),
		progressbar.OptionClearOnFinish(), progressbar.OptionShowCount())
	job, err = c.Wait(ctx, job.ID, func(j *client.Job) {
		if j.Progress.Total > 0 {
			bar.ChangeMax(j.Progress.Total)
			_ = bar.Set(j.Progress.Done)
		}
		unit := "steps"
		if j.Kind == jobs.KindVideo {
			unit = "frames"
		}
		bar.Describe(fmt.Sprintf("%s (%s)", j.Status, unit))
	})
	_ = bar.Finish()
	if err != nil {
		return exitCode(err), err
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
	what := plural(job.Output.Faces, "face", "faces") + " swapped"
	if job.Output.Frames > 0 {
		what = plural(job.Output.Frames, "frame", "frames") + ", " + what
	}
	fmt.Fprintf(stderr, "wrote %s (%s)\n", *out, what)
	return exitOK, nil
}

// exitCode is exitUsage for a request the API refused as invalid, exitAPI otherwise.
func exitCode(err error) int {
	var e *errcode.Error
	if errors.As(err, &e) && errcode.HTTPStatus(e.Code)/100 == 4 {
		return exitFailed
	}
	return exitAPI
}

func cmdList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url, key := apiFlags(fs, getenv)
	status := fs.String("status", "", "only jobs with this status")
	limit := fs.Int("limit", 20, "jobs per page")
	cursor := fs.String("cursor", "", "next_cursor of a previous page")
	if err := fs.Parse(args); err != nil {
		return exitUsage, nil
	}
	page, err := client.New(*url, *key).List(ctx, *status, *cursor, *limit)
	if err != nil {
		return exitCode(err), err
	}
	for _, j := range page.Jobs {
		fmt.Fprintf(stdout, "%s  %-6s %-9s %s  %d/%d\n", j.ID, j.Kind, j.Status, j.CreatedAt.Format("2006-01-02 15:04:05"), j.Progress.Done, j.Progress.Total)
	}
	if page.Next != "" {
		fmt.Fprintf(stderr, "more: swapctl list -cursor %s\n", page.Next)
	}
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
		return exitCode(err), err
	}
	return printJSON(stdout, job)
}

func printJSON(w io.Writer, v any) (int, error) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return exitOK, enc.Encode(v)
}
