//go:build linux

package runtime

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// reap waits for cmd's process to exit and reaps it, calling beforeReap in
// between: while the exited leader is a zombie its pid, and so its process
// group id, cannot be reused, which makes it safe for beforeReap to kill the
// rest of the group.
func reap(cmd *exec.Cmd, beforeReap func()) error {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break // exited, or ECHILD: cmd.Wait reports the latter
		}
	}
	beforeReap()
	return cmd.Wait()
}

// exited reports whether the process has exited (and is not yet reaped),
// without reaping it.
func exited(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	// With WNOHANG Linux leaves info zeroed for a running child; an exited
	// one is reported as SIGCHLD.
	return err == nil && info.Signo == int32(unix.SIGCHLD)
}

// peakRSSKB returns the peak resident set size (VmHWM) of a live process in
// KiB, or 0 when it cannot be read. It runs once per invocation, so it reads
// with plain syscalls into a stack buffer rather than through os.File.
func peakRSSKB(pid int) int64 {
	fd, err := syscall.Open("/proc/"+strconv.Itoa(pid)+"/status", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	var buf [4096]byte // the whole file is about 1.5 KB
	n, err := syscall.Read(fd, buf[:])
	_ = syscall.Close(fd) // read-only procfs file
	if err != nil || n <= 0 {
		return 0
	}
	_, rest, ok := bytes.Cut(buf[:n], []byte("\nVmHWM:"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	line = bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))
	kb, err := strconv.ParseInt(string(line), 10, 64)
	if err != nil {
		return 0
	}
	return kb
}

// rusageKB returns an exited process's peak RSS in KiB (Linux reports
// ru_maxrss in KiB).
func rusageKB(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}

// ioctlPendingBytes is FIONREAD, named TIOCINQ on Linux: the bytes waiting
// in a pipe.
const ioctlPendingBytes = unix.TIOCINQ
