//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package runtime

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// reap waits for cmd's process and reaps it, then calls beforeReap. Without
// waitid(WNOWAIT) the group is killed just after the leader is reaped; its
// surviving members still hold the group id, so it cannot have been reused.
func reap(cmd *exec.Cmd, beforeReap func()) error {
	err := cmd.Wait()
	beforeReap()
	return err
}

// exited cannot tell without reaping here; the runtime's exit is noticed
// by watch instead.
func exited(pid int) bool { return false }

// peakRSSKB is unavailable without /proc; the exit-time rusage figure is used.
func peakRSSKB(pid int) int64 { return 0 }

// rusageKB returns an exited process's peak RSS in KiB.
func rusageKB(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return ru.Maxrss / 1024 // bytes there
	}
	return ru.Maxrss
}

// ioctlPendingBytes is FIONREAD, _IOR('f', 127, int) on Darwin and the BSDs:
// the bytes waiting in a pipe. Neither syscall nor x/sys/unix names it there.
const ioctlPendingBytes = 0x4004667f
