package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/swapd/swapd/pkg/models"
)

func cmdModels(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 {
		return exitUsage, errors.New("usage: swapctl models list | download | verify [-dir DIR] [-all] [NAME ...]")
	}
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultDir := getenv("SWAPD_MODELS_DIR")
	if defaultDir == "" {
		defaultDir = "./models"
	}
	dir := fs.String("dir", defaultDir, "directory for model files ($SWAPD_MODELS_DIR when set, else ./models)")
	all := fs.Bool("all", false, "download every catalogue model, not just the defaults")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage, nil
	}
	switch args[0] {
	case "list":
		// The licence is the last column: it says whether (and how) each model
		// may be used; see the README's model table for whole swap chains.
		fmt.Fprintf(stdout, "%-23s %-10s %-27s %-17s %s\n", "NAME", "ROLE", "FILE", "STATUS", "LICENCE")
		for _, e := range models.Catalogue() {
			state := models.Status(e, *dir)
			def := ""
			if e.Default {
				def = " (default)"
			}
			fmt.Fprintf(stdout, "%-23s %-10s %-27s %-17s %s%s\n", e.Name, e.Role, e.File, state, e.License, def)
		}
		return exitOK, nil
	case "verify":
		bad := 0
		for _, e := range selected(models.Defaults(), *all, fs.Args()) {
			if err := models.Verify(e, *dir); err != nil {
				fmt.Fprintf(stdout, "%-20s FAIL %v\n", e.Name, err)
				bad++
				continue
			}
			fmt.Fprintf(stdout, "%-20s ok   %s\n", e.Name, e.Path(*dir))
		}
		if bad > 0 {
			return exitFailed, fmt.Errorf("%s missing or corrupt; run swapctl models download", plural(bad, "model", "models"))
		}
		return exitOK, nil
	case "download":
		entries := models.Defaults()
		if *all {
			entries = models.Catalogue()
		}
		if fs.NArg() > 0 {
			entries = nil
			for _, n := range fs.Args() {
				e, ok := models.Lookup(n)
				if !ok {
					return exitUsage, fmt.Errorf("no model named %q (see swapctl models list)", n)
				}
				entries = append(entries, e)
			}
		}
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			return exitFailed, err
		}
		for _, e := range entries {
			fmt.Fprintf(stderr, "%s → %s\n", e.Name, e.Path(*dir))
			if err := models.Download(ctx, http.DefaultClient, e, *dir, stderr); err != nil {
				return exitFailed, fmt.Errorf("%s: %w", e.Name, err)
			}
		}
		return exitOK, nil
	}
	return exitUsage, fmt.Errorf("unknown models command %q", args[0])
}

// selected narrows the catalogue to names, or to defaults (all of it with -all).
func selected(defaults []models.Entry, all bool, names []string) []models.Entry {
	if len(names) > 0 {
		var out []models.Entry
		for _, n := range names {
			if e, ok := models.Lookup(n); ok {
				out = append(out, e)
			} else {
				out = append(out, models.Entry{Name: n, File: n + ".onnx"})
			}
		}
		return out
	}
	if all {
		return models.Catalogue()
	}
	return defaults
}
