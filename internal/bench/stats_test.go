package bench

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var samples []time.Duration
	for i := 100; i >= 1; i-- {
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(samples)
	if s.Count != 100 {
		t.Errorf("count = %d, want 100", s.Count)
	}
	if s.P50 != 50*time.Millisecond {
		t.Errorf("p50 = %v, want 50ms", s.P50)
	}
	if s.P95 != 95*time.Millisecond {
		t.Errorf("p95 = %v, want 95ms", s.P95)
	}
	if s.P99 != 99*time.Millisecond {
		t.Errorf("p99 = %v, want 99ms", s.P99)
	}
	if s.Max != 100*time.Millisecond {
		t.Errorf("max = %v, want 100ms", s.Max)
	}
	if s.Mean != 50500*time.Microsecond {
		t.Errorf("mean = %v, want 50.5ms", s.Mean)
	}
	if samples[0] != 100*time.Millisecond {
		t.Error("Summarize reordered its input")
	}
}

func TestSummarizeSmallSamples(t *testing.T) {
	if s := Summarize(nil); s != (Summary{}) {
		t.Errorf("empty sample gives %+v, want zero", s)
	}
	s := Summarize([]time.Duration{3 * time.Millisecond})
	if s.P50 != 3*time.Millisecond || s.P99 != 3*time.Millisecond {
		t.Errorf("one sample gives p50 %v and p99 %v, want 3ms", s.P50, s.P99)
	}
}
