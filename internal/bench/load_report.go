package bench

import (
	"encoding/json"
	"time"
)

// LoadReport is the summary of a load run, with the turns matched to the
// fake LLM's record of their requests.
type LoadReport struct {
	Conversations int `json:"conversations"`
	Connected     int `json:"connected"`
	TurnsSent     int `json:"turns_sent"`
	Replies       int `json:"replies"`
	// Errors counts turns that ended without a reply, by outcome, apart
	// from those the duration cap cut.
	Errors map[string]int `json:"errors"`
	// Cut counts turns still waiting when the duration cap ended the run.
	Cut            int     `json:"cut_by_duration"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// TurnsPerSecond is replies per second of the run's wall time.
	TurnsPerSecond float64 `json:"turns_per_second"`

	// Ack, TTFT and Reply are what the shoppers saw: from sending a
	// message to its ack, its first text and its stored reply.
	Ack   Summary `json:"ack"`
	TTFT  Summary `json:"ttft"`
	Reply Summary `json:"reply"`

	// Matched counts the replied turns whose LLM request the fake
	// recorded. The summaries below cover those turns.
	Matched int `json:"matched"`
	// FakeTTFT is the fake LLM's own time to first token: from reading a
	// request to flushing its first token.
	FakeTTFT Summary `json:"fake_ttft"`
	// BeforeLLM is from the shopper's send to the fake reading the
	// request, and AfterFirstToken from the fake flushing the first token
	// to the shopper reading it. Added is their sum: the shopper's time
	// to first token minus the fake's own.
	BeforeLLM       Summary `json:"before_llm"`
	AfterFirstToken Summary `json:"after_first_token"`
	Added           Summary `json:"added"`
	// TTFTRatio is the mean and the p50 and p99 of the matched turns'
	// TTFT divided by the fake's TTFT of the same request.
	TTFTRatio Ratios `json:"ttft_ratio"`
}

// Ratios are a mean and percentiles of per-turn ratios.
type Ratios struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
}

// Analyze summarizes the run, matching its turns to the fake LLM's
// requests by TurnMarker.
func (r *LoadResult) Analyze(requests []FakeRequest) LoadReport {
	report := LoadReport{Conversations: r.Config.Conversations, Connected: r.Connected, Errors: map[string]int{}}
	elapsed := r.Ended.Sub(r.Started)
	report.ElapsedSeconds = elapsed.Seconds()

	byMarker := map[string]FakeRequest{}
	for _, req := range requests {
		if _, seen := byMarker[req.Marker]; req.Marker != "" && !req.FirstToken.IsZero() && !seen {
			byMarker[req.Marker] = req
		}
	}

	var ack, ttft, reply, fake, before, after, added []time.Duration
	var ratios []time.Duration
	for _, t := range r.Turns {
		if t.Outcome != OutcomeDial {
			report.TurnsSent++
		}
		switch t.Outcome {
		case "":
			report.Replies++
		case OutcomeCut:
			report.Cut++
			continue
		default:
			report.Errors[t.Outcome]++
			continue
		}
		ack = append(ack, t.Ack)
		reply = append(reply, t.Reply)
		if t.FirstText == 0 {
			continue
		}
		ttft = append(ttft, t.FirstText)

		req, ok := byMarker[t.Marker]
		if !ok {
			continue
		}
		report.Matched++
		own := req.FirstToken.Sub(req.Received)
		fake = append(fake, own)
		before = append(before, req.Received.Sub(t.Sent))
		after = append(after, t.Sent.Add(t.FirstText).Sub(req.FirstToken))
		added = append(added, t.FirstText-own)
		if own > 0 {
			// Ratios are kept as durations of ratio × 1 s so that
			// Summarize can rank them.
			ratios = append(ratios, time.Duration(float64(time.Second)*float64(t.FirstText)/float64(own)))
		}
	}

	if elapsed > 0 {
		report.TurnsPerSecond = float64(report.Replies) / elapsed.Seconds()
	}
	report.Ack, report.TTFT, report.Reply = Summarize(ack), Summarize(ttft), Summarize(reply)
	report.FakeTTFT, report.BeforeLLM, report.AfterFirstToken, report.Added = Summarize(fake), Summarize(before), Summarize(after), Summarize(added)
	if s := Summarize(ratios); s.Count > 0 {
		report.TTFTRatio = Ratios{Mean: s.Mean.Seconds(), P50: s.P50.Seconds(), P99: s.P99.Seconds()}
	}
	return report
}

// MarshalJSON writes the durations as fractional milliseconds.
func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Count int     `json:"count"`
		Mean  float64 `json:"mean_ms"`
		P50   float64 `json:"p50_ms"`
		P95   float64 `json:"p95_ms"`
		P99   float64 `json:"p99_ms"`
		Max   float64 `json:"max_ms"`
	}{s.Count, Milliseconds(s.Mean), Milliseconds(s.P50), Milliseconds(s.P95), Milliseconds(s.P99), Milliseconds(s.Max)})
}
