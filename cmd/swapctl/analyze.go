package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/swapd/swapd/pkg/client"
	"github.com/swapd/swapd/pkg/jobs"
)

// cmdAnalyze submits an analyze job, waits for it and prints the job (its
// output.analysis: faces or identities, with thumbnail URLs) as JSON. The target's
// upload key is in the printed job's target.key: pass it as swap's -target, with
// -options '{"analysis": "<id>", "mappings": [...]}', to swap the same target.
func cmdAnalyze(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url, key := apiFlags(fs, getenv)
	target := fs.String("target", "", "target image or video, file or URL")
	stride := fs.Int("stride", 0, "video: detect on every n-th frame (options.analyze_stride)")
	opts := fs.String("options", "", `more options as JSON, e.g. {"detector_score":0.6}`)
	hook := fs.String("webhook", "", "webhook URL for the job's terminal event")
	if err := fs.Parse(args); err != nil {
		return exitUsage, nil
	}
	if *target == "" {
		return exitUsage, errors.New("analyze needs -target")
	}
	var o jobs.Options
	if *opts != "" {
		if err := json.Unmarshal([]byte(*opts), &o); err != nil {
			return exitUsage, fmt.Errorf("-options: %w", err)
		}
	}
	if *stride > 0 {
		o.AnalyzeStride = *stride
	}
	c := client.New(*url, *key)
	job, err := c.Analyze(ctx, *target, &o, *hook)
	if err != nil {
		return exitCode(err), err
	}
	fmt.Fprintf(stderr, "job %s queued\n", job.ID)
	if job, err = c.Wait(ctx, job.ID, nil); err != nil {
		return exitCode(err), err
	}
	if job.Status != jobs.Succeeded {
		if job.Error != nil {
			return exitFailed, fmt.Errorf("job %s %s: %s: %s", job.ID, job.Status, job.Error.Code, job.Error.Message)
		}
		return exitFailed, fmt.Errorf("job %s %s", job.ID, job.Status)
	}
	if a := job.Output.Analysis; a != nil {
		fmt.Fprintf(stderr, "%s, %s\n", plural(len(a.Faces), "face", "faces"), plural(len(a.Identities), "identity", "identities"))
	}
	return printJSON(stdout, job)
}
