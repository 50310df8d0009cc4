package bench

import (
	"syscall"
	"testing"
)

func TestReadProcess(t *testing.T) {
	s, err := ReadProcess()
	if err != nil {
		t.Skipf("process statistics need Linux's /proc: %v", err)
	}
	if s.RSS == 0 || s.PeakRSS < s.RSS {
		t.Errorf("RSS %d and peak %d: want a positive RSS at or below the peak", s.RSS, s.PeakRSS)
	}
	if s.GoTotal == 0 || s.Stacks == 0 {
		t.Errorf("Go memory %d and stacks %d: want both positive", s.GoTotal, s.Stacks)
	}
	if s.Goroutines < 1 {
		t.Errorf("goroutines = %d, want at least this one", s.Goroutines)
	}
}

func TestRaiseFileLimitKeepsEnough(t *testing.T) {
	var current syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &current); err != nil {
		t.Fatal(err)
	}
	limit, err := RaiseFileLimit(current.Cur)
	if err != nil {
		t.Fatalf("asking for the current limit failed: %v", err)
	}
	if limit.After.Cur != current.Cur {
		t.Errorf("limit changed from %d to %d when it was already enough", current.Cur, limit.After.Cur)
	}
}

func TestRaiseFileLimitAboveHardLimit(t *testing.T) {
	var current syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &current); err != nil {
		t.Fatal(err)
	}
	if current.Max >= 1<<40 {
		t.Skip("the hard limit is unlimited")
	}
	limit, err := RaiseFileLimit(current.Max + 1)
	if err == nil {
		// A privileged process may raise the hard limit; put it back.
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &current)
		if limit.After.Cur < current.Max+1 {
			t.Errorf("no error, but the limit is %d", limit.After.Cur)
		}
		return
	}
	if limit.After.Cur != current.Max {
		t.Errorf("after a failed raise the soft limit is %d, want the hard limit %d", limit.After.Cur, current.Max)
	}
}
