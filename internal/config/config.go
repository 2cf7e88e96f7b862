// Package config reads swapd's settings: SWAPD_* environment variables, each with a
// command-line flag of the same name (SWAPD_REDIS_URL is -redis-url), and a safe
// default for a local run. A flag wins over the environment.
package config

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Set collects settings for one binary.
type Set struct {
	fs     *flag.FlagSet
	getenv func(string) string
	vals   map[string]*string
	errs   []error
}

// New returns a Set reading from getenv, with flags parsed from args (without the
// program name) when Parse is called.
func New(name string, getenv func(string) string, usage io.Writer) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	return &Set{fs: fs, getenv: getenv, vals: map[string]*string{}}
}

func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "SWAPD_")), "_", "-")
}

// String declares a setting and returns a pointer filled in by Parse.
func (s *Set) String(env, def, help string) *string {
	p := new(string)
	s.vals[env] = p
	if v := s.getenv(env); v != "" {
		def = v
	}
	s.fs.StringVar(p, flagName(env), def, help+" ($"+env+")")
	return p
}

// Parse parses flags.
func (s *Set) Parse(args []string) error { return s.fs.Parse(args) }

// Int converts a parsed setting, recording an error for Err.
func (s *Set) Int(env string) int {
	v, err := strconv.Atoi(*s.vals[env])
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s: %q is not an integer", env, *s.vals[env]))
	}
	return v
}

// Int64 converts a parsed setting.
func (s *Set) Int64(env string) int64 {
	v, err := strconv.ParseInt(*s.vals[env], 10, 64)
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s: %q is not an integer", env, *s.vals[env]))
	}
	return v
}

// Bool converts a parsed setting.
func (s *Set) Bool(env string) bool {
	v, err := strconv.ParseBool(*s.vals[env])
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s: %q is not a boolean", env, *s.vals[env]))
	}
	return v
}

// Duration converts a parsed setting ("30s", "24h").
func (s *Set) Duration(env string) time.Duration {
	v, err := time.ParseDuration(*s.vals[env])
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s: %q is not a duration", env, *s.vals[env]))
	}
	return v
}

// Durations converts a comma-separated list of durations; empty gives nil.
func (s *Set) Durations(env string) []time.Duration {
	var out []time.Duration
	for _, f := range List(*s.vals[env]) {
		d, err := time.ParseDuration(f)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s: %q is not a duration", env, f))
		}
		out = append(out, d)
	}
	return out
}

// Err reports every conversion error at once.
func (s *Set) Err() error {
	if len(s.errs) == 0 {
		return nil
	}
	msgs := make([]string, len(s.errs))
	for i, e := range s.errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("bad settings: %s", strings.Join(msgs, "; "))
}

// List splits a comma-separated setting, dropping blanks.
func List(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Get returns a parsed setting's text.
func (s *Set) Get(env string) string { return *s.vals[env] }
