package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/swapd/swapd/pkg/webhook"
)

// cmdWebhook verifies a captured webhook delivery: the raw HTTP request as a receiver
// saw it (-request, e.g. from `nc -l` or a request bin), or its parts (-id,
// -timestamp, -signature, -body). Exit 0 when the signature is valid.
func cmdWebhook(args []string, getenv func(string) string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 || args[0] != "verify" {
		return exitUsage, errors.New("usage: swapctl webhook verify -secret whsec_… (-request FILE | -id ID -timestamp TS -signature SIG -body FILE)")
	}
	fs := flag.NewFlagSet("webhook verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := fs.String("secret", getenv("SWAPD_WEBHOOK_SECRET"), "signing secret ($SWAPD_WEBHOOK_SECRET)")
	reqFile := fs.String("request", "", "file holding the raw HTTP request")
	id := fs.String("id", "", "webhook-id header")
	ts := fs.String("timestamp", "", "webhook-timestamp header")
	sig := fs.String("signature", "", "webhook-signature header")
	bodyFile := fs.String("body", "", "file holding the raw body")
	tolerance := fs.Duration("tolerance", 0, "reject timestamps further than this from now (0: do not check the age, for old captures)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage, nil
	}
	sec, err := webhook.ParseSecret(*secret)
	if err != nil {
		return exitUsage, err
	}
	var header http.Header
	var body []byte
	if *reqFile != "" {
		raw, err := os.ReadFile(*reqFile)
		if err != nil {
			return exitUsage, err
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return exitUsage, fmt.Errorf("%s is not an HTTP request: %w", *reqFile, err)
		}
		header = req.Header
		if body, err = io.ReadAll(req.Body); err != nil {
			return exitUsage, err
		}
	} else {
		header = http.Header{}
		header.Set(webhook.HeaderID, *id)
		header.Set(webhook.HeaderTimestamp, *ts)
		header.Set(webhook.HeaderSignature, *sig)
		if body, err = os.ReadFile(*bodyFile); err != nil {
			return exitUsage, err
		}
	}
	now, tol := time.Now(), *tolerance
	if tol == 0 {
		// Check the signature only: verify as of the delivery's own timestamp.
		var unix int64
		if _, err := fmt.Sscan(header.Get(webhook.HeaderTimestamp), &unix); err == nil {
			now, tol = time.Unix(unix, 0), time.Minute
		}
	}
	if err := webhook.Verify(sec, header, body, tol, now); err != nil {
		return exitFailed, fmt.Errorf("signature does not verify: %w", err)
	}
	fmt.Fprintf(stdout, "valid: webhook-id %s, %d byte body\n", header.Get(webhook.HeaderID), len(body))
	return exitOK, nil
}
