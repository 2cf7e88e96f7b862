package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParsePIDs(t *testing.T) {
	p, err := parsePIDs("12, 34,56")
	if err != nil || len(p) != 3 || p[0] != 12 || p[2] != 56 {
		t.Fatalf("parsePIDs = %v, %v; want [12 34 56]", p, err)
	}
	if p, err := parsePIDs(""); err != nil || len(p) != 0 {
		t.Fatalf("parsePIDs(\"\") = %v, %v; want none", p, err)
	}
	for _, bad := range []string{"12,x", "-3", "0"} {
		if _, err := parsePIDs(bad); err == nil {
			t.Errorf("parsePIDs(%q) took it", bad)
		}
	}
}

// TestPausingStopsAndResumes stops a real process and checks the kernel says so.
func TestPausingStopsAndResumes(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	state := func() string {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))[0]
	}
	waitFor := func(want string) {
		for deadline := time.Now().Add(5 * time.Second); state() != want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("process state %s, want %s", state(), want)
			}
		}
	}
	resume, err := pausing{cmd.Process.Pid}.stop()
	if err != nil {
		t.Fatal(err)
	}
	waitFor("T")
	resume()
	waitFor("S")
	if _, err := (pausing{cmd.Process.Pid, 1 << 30}).stop(); err == nil {
		t.Fatal("stopping a process that does not exist did not fail")
	}
	waitFor("S") // resumed again after the failure
}
