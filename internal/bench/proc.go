package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcessStats is a snapshot of this process's resource use.
type ProcessStats struct {
	// RSS and PeakRSS are VmRSS and VmHWM from /proc/self/status: the
	// resident memory now and its high-water mark, in bytes.
	RSS, PeakRSS uint64
	// HeapLive is the Go heap that the last garbage collection found
	// live, and Stacks the memory of goroutine stacks, from runtime/metrics.
	HeapLive, Stacks uint64
	// GoTotal is all memory the Go runtime has mapped, minus what it has
	// returned to the operating system.
	GoTotal    uint64
	Goroutines int
	// CPU is the user plus system CPU time the process has used, from
	// getrusage(RUSAGE_SELF).
	CPU time.Duration
}

// ReadProcess takes a snapshot of this process. The memory figures need
// Linux's /proc; elsewhere it returns an error.
func ReadProcess() (ProcessStats, error) {
	var s ProcessStats
	rss, peak, err := ReadRSS("self")
	if err != nil {
		return s, err
	}
	s.RSS, s.PeakRSS = rss, peak

	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	metrics.Read(samples)
	value := func(i int) uint64 {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return samples[i].Value.Uint64()
	}
	s.HeapLive, s.Stacks = value(0), value(1)
	s.GoTotal = value(2) - value(3)
	s.Goroutines = int(value(4))

	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return s, fmt.Errorf("read CPU time: %w", err)
	}
	s.CPU = time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	return s, nil
}

// ReadRSS returns VmRSS and VmHWM, in bytes, of the process named by pid:
// "self" or a process id.
func ReadRSS(pid string) (rss, peak uint64, err error) {
	path := "/proc/" + pid + "/status"
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("read memory use from %s (needs Linux): %w", path, err)
	}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kib, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s in %s: %w", name, path, err)
		}
		if name == "VmRSS" {
			rss = kib << 10
		} else {
			peak = kib << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS line in %s", path)
	}
	return rss, peak, nil
}

// FileLimit is the process's RLIMIT_NOFILE before and after
// RaiseFileLimit.
type FileLimit struct {
	Before, After syscall.Rlimit
}

// RaiseFileLimit raises the soft limit on open files to at least want, and
// the hard limit too where the process may (root, or CAP_SYS_RESOURCE). It
// returns the limits before and after, and an error when the soft limit
// stays below want.
func RaiseFileLimit(want uint64) (FileLimit, error) {
	var limit FileLimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit.Before); err != nil {
		return limit, fmt.Errorf("read the open file limit: %w", err)
	}
	limit.After = limit.Before
	if limit.Before.Cur >= want {
		return limit, nil
	}

	next := syscall.Rlimit{Cur: want, Max: max(want, limit.Before.Max)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err != nil {
		// Without privilege the hard limit is the ceiling.
		next = syscall.Rlimit{Cur: limit.Before.Max, Max: limit.Before.Max}
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next)
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit.After); err != nil {
		return limit, fmt.Errorf("read the open file limit: %w", err)
	}
	if limit.After.Cur < want {
		return limit, fmt.Errorf("open file limit is %d (hard limit %d), below the %d needed: raise the hard limit (ulimit -Hn, or LimitNOFILE in a systemd unit) or use fewer sockets",
			limit.After.Cur, limit.After.Max, want)
	}
	return limit, nil
}
