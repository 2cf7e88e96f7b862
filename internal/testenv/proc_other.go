//go:build !linux

package testenv

import "os/exec"

func setProcAttr(*exec.Cmd) {}

func killProc(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
