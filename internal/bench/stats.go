// Package bench contains the measuring tools behind salesagent bench. They
// are a fake OpenAI-compatible LLM with a fixed time to first token and
// token rate, a load generator of shoppers speaking the widget protocol,
// an opener of idle widget connections, latency summaries and process
// statistics.
//
// Every tool sends traffic only to the URLs it is given, and every loop is
// bounded by a count and a deadline, so a run stops by itself.
package bench

import (
	"slices"
	"time"
)

// Summary describes a sample of durations.
type Summary struct {
	Count              int
	Mean               time.Duration
	P50, P95, P99, Max time.Duration
}

// Summarize returns the count, mean, nearest-rank percentiles and maximum
// of samples. An empty sample gives a zero Summary.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var total time.Duration
	for _, d := range sorted {
		total += d
	}
	return Summary{
		Count: len(sorted),
		Mean:  total / time.Duration(len(sorted)),
		P50:   percentile(sorted, 50),
		P95:   percentile(sorted, 95),
		P99:   percentile(sorted, 99),
		Max:   sorted[len(sorted)-1],
	}
}

// percentile returns the nearest-rank p-th percentile of sorted, a
// non-empty ascending slice: the smallest sample with at least p% of the
// samples at or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(float64(len(sorted))*p/100 + 0.999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Milliseconds converts d to fractional milliseconds, for reports.
func Milliseconds(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}
