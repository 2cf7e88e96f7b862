package main

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// pausing is a set of processes the probe benchmark stops (SIGSTOP) while it
// measures the other system, and resumes (SIGCONT) after: both stacks run on one
// machine, and an idle stack still costs CPU (swapd's workers poll Redis, MinIO
// runs its scanners), which would otherwise be charged to the one measured.
type pausing []int

// parsePIDs parses -pause-swapd and -pause-peer: process ids separated by commas or
// spaces (empty: none).
func parsePIDs(s string) (pausing, error) {
	var p pausing
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("%q is not a process id", f)
		}
		p = append(p, pid)
	}
	return p, nil
}

// stop stops the processes and returns the function that resumes them.
func (p pausing) stop() (resume func(), err error) {
	resume = func() {
		for _, pid := range p {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	for _, pid := range p {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			resume()
			return func() {}, fmt.Errorf("pause process %d: %w", pid, err)
		}
	}
	return resume, nil
}
