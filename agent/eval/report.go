package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/salesagent/salesagent/agent"
)

// Scenario statuses in a report.
const (
	StatusPassed  = "passed"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Report is the outcome of a run.
type Report struct {
	// Brains maps each shop name that ran to the names of the brains that
	// replied in its turns, in the order first seen.
	Brains map[string][]string `json:"brains"`
	// Groups summarizes each group that has scenarios, in Groups order.
	Groups []Summary `json:"groups"`
	// Total summarizes every scenario.
	Total     Summary          `json:"total"`
	Scenarios []ScenarioResult `json:"scenarios"`
}

// Summary counts the scenarios of a group, or of the whole run.
type Summary struct {
	Group   string `json:"group"`
	Passed  int    `json:"passed"`
	Failed  int    `json:"failed"`
	Skipped int    `json:"skipped"`
	// Run is Passed plus Failed, the scenarios that ran.
	Run int `json:"run"`
	// Rate is Passed divided by Run, from 0 to 1, or 0 when none ran.
	Rate float64 `json:"rate"`
}

// ScenarioResult is the outcome of one scenario.
type ScenarioResult struct {
	Name   string `json:"name"`
	Group  string `json:"group"`
	Shop   string `json:"shop"`
	File   string `json:"file"`
	Status string `json:"status"`
	// SkipReason is the reason a skipped scenario did not run.
	SkipReason string `json:"skip_reason,omitempty"`
	// Error names the turn that could not run and the cause.
	Error string       `json:"error,omitempty"`
	Turns []TurnResult `json:"turns,omitempty"`
}

// TurnResult is the record of one turn: its reply, tools, cards and
// failed expectations.
type TurnResult struct {
	// Brain names the brain that replied in the turn.
	Brain      string           `json:"brain"`
	Shopper    string           `json:"shopper"`
	Reply      string           `json:"reply"`
	Tools      []agent.ToolCall `json:"tools,omitempty"`
	Cards      []string         `json:"cards,omitempty"`
	Escalated  bool             `json:"escalated"`
	DurationMS int64            `json:"duration_ms"`
	Failures   []string         `json:"failures,omitempty"`
}

// summarize counts the scenarios per group and in total.
func (r *Report) summarize() {
	byGroup := map[string]*Summary{}
	r.Total = Summary{Group: "total"}
	r.Brains = map[string][]string{}
	for _, s := range r.Scenarios {
		for _, t := range s.Turns {
			if t.Brain != "" && !slices.Contains(r.Brains[s.Shop], t.Brain) {
				r.Brains[s.Shop] = append(r.Brains[s.Shop], t.Brain)
			}
		}
		g := byGroup[s.Group]
		if g == nil {
			g = &Summary{Group: s.Group}
			byGroup[s.Group] = g
		}
		g.count(s.Status)
		r.Total.count(s.Status)
	}
	r.Groups = nil
	for _, name := range Groups {
		if g := byGroup[name]; g != nil {
			r.Groups = append(r.Groups, *g)
		}
	}
}

func (s *Summary) count(status string) {
	switch status {
	case StatusPassed:
		s.Passed++
	case StatusFailed:
		s.Failed++
	case StatusSkipped:
		s.Skipped++
	}
	s.Run = s.Passed + s.Failed
	s.Rate = 0
	if s.Run > 0 {
		s.Rate = float64(s.Passed) / float64(s.Run)
	}
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the brains, a table of pass rates per group, the
// reasons for skipped scenarios and the failed scenarios. With verbose,
// each failed scenario comes with every failed expectation and the
// replies of its turns; without it, with its first failure only.
func (r *Report) WriteTable(w io.Writer, verbose bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "brain: %s\n\n", r.brainList())

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tPASSED\tRATE\tSKIPPED")
	for _, g := range append(slices.Clone(r.Groups), r.Total) {
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%d\n", g.Group, g.Passed, g.Run, formatRate(g), g.Skipped)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	r.writeSkipped(&b)
	r.writeFailures(&b, verbose)
	_, err := io.WriteString(w, b.String())
	return err
}

// brainList names the brains that replied in each shop's turns, as
// "offline (demo, tau)" or "llm, offline (demo)".
func (r *Report) brainList() string {
	shopsOf := map[string][]string{}
	for shop, brains := range r.Brains {
		names := strings.Join(brains, ", ")
		shopsOf[names] = append(shopsOf[names], shop)
	}
	if len(shopsOf) == 0 {
		return "none (no scenario ran)"
	}
	var parts []string
	for brain, shops := range shopsOf {
		sort.Strings(shops)
		parts = append(parts, fmt.Sprintf("%s (%s)", brain, strings.Join(shops, ", ")))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func formatRate(s Summary) string {
	if s.Run == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", s.Rate*100)
}

// writeSkipped lists each distinct skip reason with its scenario count.
func (r *Report) writeSkipped(b *strings.Builder) {
	counts := map[string]int{}
	var reasons []string
	for _, s := range r.Scenarios {
		if s.Status != StatusSkipped {
			continue
		}
		if counts[s.SkipReason] == 0 {
			reasons = append(reasons, s.SkipReason)
		}
		counts[s.SkipReason]++
	}
	for _, reason := range reasons {
		fmt.Fprintf(b, "\nskipped %d %s: %s\n", counts[reason], plural(counts[reason], "scenario", "scenarios"), reason)
	}
}

func (r *Report) writeFailures(b *strings.Builder, verbose bool) {
	var failed []ScenarioResult
	for _, s := range r.Scenarios {
		if s.Status == StatusFailed {
			failed = append(failed, s)
		}
	}
	if len(failed) == 0 {
		return
	}
	fmt.Fprintf(b, "\nfailed %d %s:\n", len(failed), plural(len(failed), "scenario", "scenarios"))
	for _, s := range failed {
		if !verbose {
			fmt.Fprintf(b, "  %s/%s: %s\n", s.Group, s.Name, s.firstFailure())
			continue
		}
		fmt.Fprintf(b, "\n  %s/%s (shop %s, %s)\n", s.Group, s.Name, s.Shop, s.File)
		for i, t := range s.Turns {
			fmt.Fprintf(b, "    turn %d shopper: %s\n", i+1, t.Shopper)
			fmt.Fprintf(b, "      reply: %s\n", oneLine(t.Reply))
			fmt.Fprintf(b, "      brain: %s; tools: %s; cards: %s; escalated: %t\n", t.Brain, toolList(t.Tools), listOrNone(t.Cards), t.Escalated)
			for _, f := range t.Failures {
				fmt.Fprintf(b, "      FAIL %s\n", f)
			}
		}
		if s.Error != "" {
			fmt.Fprintf(b, "    ERROR %s\n", s.Error)
		}
	}
}

// firstFailure returns the first failed expectation, prefixed with its
// turn when the scenario has several, or the error that stopped it.
func (s ScenarioResult) firstFailure() string {
	for i, t := range s.Turns {
		if len(t.Failures) == 0 {
			continue
		}
		more := ""
		if n := s.failureCount() - 1; n > 0 {
			more = fmt.Sprintf(" (and %d more)", n)
		}
		prefix := ""
		if len(s.Turns) > 1 {
			prefix = fmt.Sprintf("turn %d: ", i+1)
		}
		return prefix + t.Failures[0] + more
	}
	return s.Error
}

func (s ScenarioResult) failureCount() int {
	n := 0
	for _, t := range s.Turns {
		n += len(t.Failures)
	}
	return n
}

func toolList(calls []agent.ToolCall) string {
	if len(calls) == 0 {
		return "none"
	}
	names := make([]string, len(calls))
	for i, c := range calls {
		names[i] = c.Name
		if !c.OK {
			names[i] += " (rejected)"
		}
	}
	return strings.Join(names, ", ")
}

// oneLine puts text on one line, so a reply stays inside its entry.
func oneLine(text string) string {
	return strings.Join(strings.Fields(text), " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
