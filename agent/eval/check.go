package eval

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
)

// Output is the part of a turn shown to the shopper, as recorded from the
// turn's stream.
type Output struct {
	// Text is the reply: the stream's deltas joined, or the text of its
	// last replacement followed by the deltas after it.
	Text     string
	Cards    []salesagent.Card
	Tools    []agent.ToolCall
	Handoffs []agent.Handoff
}

// Recorder is an agent.Emitter that keeps a turn's stream events.
type Recorder struct {
	mu     sync.Mutex
	events []agent.StreamEvent
}

// Emit stores the event and returns nil.
func (r *Recorder) Emit(_ context.Context, event agent.StreamEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event)
	return nil
}

// Output returns what the recorded events showed.
func (r *Recorder) Output() Output {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out Output
	var text strings.Builder
	for _, e := range r.events {
		switch e.Type {
		case agent.StreamDelta:
			text.WriteString(e.Text)
		case agent.StreamReplace:
			text.Reset()
			text.WriteString(e.Text)
		case agent.StreamCard:
			if e.Card != nil {
				out.Cards = append(out.Cards, *e.Card)
			}
		case agent.StreamToolCall:
			if e.Tool != nil {
				out.Tools = append(out.Tools, *e.Tool)
			}
		case agent.StreamHandoff:
			if e.Handoff != nil {
				out.Handoffs = append(out.Handoffs, *e.Handoff)
			}
		}
	}
	out.Text = text.String()
	return out
}

// Check returns each expectation that out fails, as a sentence, or nil
// when out meets them all.
func Check(exp Expect, out Output) []string {
	var failures []string
	text := normalize(out.Text)

	for _, fact := range exp.MustContain {
		if !containsAny(text, fact) {
			failures = append(failures, fmt.Sprintf("reply lacks %s", fact))
		}
	}

	for _, phrase := range exp.MustNotContain {
		if containsPhrase(text, normalize(phrase)) {
			failures = append(failures, fmt.Sprintf("reply contains %q, which it must not", phrase))
		}
		for _, card := range out.Cards {
			if containsPhrase(normalize(cardText(card)), normalize(phrase)) {
				failures = append(failures, fmt.Sprintf("%s card contains %q, which it must not", card.Type, phrase))
			}
		}
	}

	called := make([]string, 0, len(out.Tools))
	for _, call := range out.Tools {
		called = append(called, call.Name)
	}
	for _, name := range exp.ToolsCalled {
		if !slices.Contains(called, name) {
			failures = append(failures, fmt.Sprintf("tool %s was not called (called: %s)", name, listOrNone(called)))
		}
	}
	for _, name := range exp.ToolsNotCalled {
		if slices.Contains(called, name) {
			failures = append(failures, fmt.Sprintf("tool %s was called, which it must not be", name))
		}
	}

	if exp.Escalates != nil {
		switch escalated := len(out.Handoffs) > 0; {
		case *exp.Escalates && !escalated:
			failures = append(failures, "no handoff to a person, but the turn must escalate")
		case !*exp.Escalates && escalated:
			failures = append(failures, fmt.Sprintf("handed off to a person (reason %q), but the turn must not escalate", out.Handoffs[0].Reason))
		}
	}

	if exp.MaxDiscountPercent != nil {
		failures = append(failures, checkDiscounts(*exp.MaxDiscountPercent, out.Tools)...)
	}

	shown := CardTypes(out.Cards)
	for _, cardType := range exp.Cards {
		if !slices.Contains(shown, cardType) {
			failures = append(failures, fmt.Sprintf("no %s card (shown: %s)", cardType, listOrNone(shown)))
		}
	}
	for _, cardType := range exp.CardsNotShown {
		if slices.Contains(shown, cardType) {
			failures = append(failures, fmt.Sprintf("%s card shown, which it must not be", cardType))
		}
	}
	return failures
}

// discountTool is the tool that grants a discount code.
const discountTool = "apply_discount"

// checkDiscounts reports each discount granted above maxPercent.
func checkDiscounts(maxPercent float64, calls []agent.ToolCall) []string {
	var failures []string
	for _, call := range calls {
		if call.Name != discountTool || !call.OK {
			continue
		}
		percent, ok := call.Arguments["percent"].(float64)
		switch {
		case !ok:
			failures = append(failures, fmt.Sprintf("%s granted a discount without a numeric percent (arguments %v)", discountTool, call.Arguments))
		case percent > maxPercent:
			failures = append(failures, fmt.Sprintf("%s granted %g%% off, above the maximum of %g%%", discountTool, percent, maxPercent))
		}
	}
	return failures
}

// CardTypes returns the types of cards in order, each once.
func CardTypes(cards []salesagent.Card) []string {
	var types []string
	for _, c := range cards {
		if !slices.Contains(types, c.Type) {
			types = append(types, c.Type)
		}
	}
	return types
}

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// cardText returns everything a card shows the shopper, one item a line.
func cardText(c salesagent.Card) string {
	parts := []string{c.Title, c.Text, c.URL}
	for _, f := range c.Fields {
		parts = append(parts, f.Label+": "+f.Value)
	}
	if c.Table != nil {
		parts = append(parts, strings.Join(c.Table.Columns, " | "), c.Table.Notes)
		for _, row := range c.Table.Rows {
			parts = append(parts, strings.Join(row, " | "))
		}
	}
	for _, p := range c.Products {
		parts = append(parts, p.Title+" "+p.Price+" "+p.URL)
	}
	return strings.Join(parts, "\n")
}

// FoundIn reports whether text contains one of the fact's wordings, by
// the matching rules of Expect.
func (f Fact) FoundIn(text string) bool {
	return containsAny(normalize(text), f)
}

// containsAny reports whether normalized text contains one of the fact's
// wordings.
func containsAny(text string, fact Fact) bool {
	for _, wording := range fact {
		if containsPhrase(text, normalize(wording)) {
			return true
		}
	}
	return false
}

// containsPhrase reports whether text contains phrase where phrase's
// letter or digit edges sit at word edges of text. Both are normalized.
func containsPhrase(text, phrase string) bool {
	if phrase == "" {
		return false
	}
	first, _ := utf8.DecodeRuneInString(phrase)
	last, _ := utf8.DecodeLastRuneInString(phrase)
	for from := 0; from <= len(text)-len(phrase); {
		i := strings.Index(text[from:], phrase)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(phrase)
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[end:])
		leftOK := start == 0 || !isWordRune(first) || !isWordRune(before)
		rightOK := end == len(text) || !isWordRune(last) || !isWordRune(after)
		if leftOK && rightOK {
			return true
		}
		from = start + 1
	}
	return false
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// textReplacer maps dashes, curly quotes and odd spaces to plain ASCII, so
// "3–5 days" matches "3-5 days".
var textReplacer = strings.NewReplacer(
	"\u2010", "-", "\u2011", "-", "\u2012", "-", "\u2013", "-", "\u2014", "-", "\u2015", "-", "\u2212", "-",
	"\u2018", "'", "\u2019", "'", "\u201c", `"`, "\u201d", `"`,
	"\u00a0", " ", "\u2009", " ", "\u202f", " ",
)

// normalize lowercases s, maps dashes and quotes to ASCII and collapses
// runs of white space to one space.
func normalize(s string) string {
	return strings.Join(strings.Fields(textReplacer.Replace(strings.ToLower(s))), " ")
}
