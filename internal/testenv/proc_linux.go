package testenv

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the service in its own process group (so stop can kill
// any children too) and asks the kernel to kill it if the test binary dies
// without running cleanups (e.g. a panic or a -timeout abort).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killProc(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}
