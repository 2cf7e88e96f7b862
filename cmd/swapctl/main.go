// Command swapctl is swapd's command-line client: submit a swap and wait for it with a
// progress bar, inspect or cancel jobs, and download the production models.
//
//	swapctl swap -source me.jpg -target clip.mp4 [-enhance] [-mouth-mask] -o out.mp4
//	swapctl analyze -target group.jpg|clip.mp4 [-stride 3]   (faces or people, for mappings)
//	swapctl status <id> | cancel <id> | list [-status failed]
//	swapctl models list | download | verify [-dir ./models]
//	swapctl webhook verify -secret whsec_… -request captured.http
//	swapctl bench -source me.jpg -target photo.jpg   (measure a running stack)
//
// The API address and key come from SWAPD_URL and SWAPD_API_KEY (or -url, -key).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "swapctl:", err)
	}
	os.Exit(code)
}

// Exit codes: 0 success, 1 the job failed or was canceled, 2 usage, 3 the API or
// network refused the request.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	exitAPI    = 3
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: swapctl swap|analyze|status|cancel|list|models|webhook|bench ...")
		return exitUsage, nil
	}
	switch args[0] {
	case "swap":
		return cmdSwap(ctx, args[1:], getenv, stdout, stderr)
	case "analyze":
		return cmdAnalyze(ctx, args[1:], getenv, stdout, stderr)
	case "status":
		return cmdStatus(ctx, args[1:], getenv, stdout, stderr, false)
	case "cancel":
		return cmdStatus(ctx, args[1:], getenv, stdout, stderr, true)
	case "models":
		return cmdModels(ctx, args[1:], getenv, stdout, stderr)
	case "list":
		return cmdList(ctx, args[1:], getenv, stdout, stderr)
	case "webhook":
		return cmdWebhook(args[1:], getenv, stdout, stderr)
	case "bench":
		return cmdBench(ctx, args[1:], getenv, stdout, stderr)
	}
	return exitUsage, fmt.Errorf("unknown command %q (want swap, analyze, status, cancel, list, models, webhook or bench)", args[0])
}

// plural writes a count with its noun: "1 face", "2 faces", "0 faces".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
