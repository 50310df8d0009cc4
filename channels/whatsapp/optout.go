package whatsapp

import (
	"strings"
	"unicode"
)

// Intents of messages that change the shopper's consent to proactive
// messages.
const (
	intentOptOut = "opt_out"
	intentOptIn  = "opt_in"
)

// optOutPhrases and optInPhrases are whole messages, lowercased with
// punctuation removed, that stop or restart proactive messages. Only a
// whole message counts, so "stop sending me the wrong size" is a question
// for the agent, not an opt-out.
var (
	optOutPhrases = phraseSet(
		"stop", "stop all", "stopall", "stop messages", "stop messaging", "stop messaging me",
		"stop sending messages", "stop promotions", "stop marketing",
		"unsubscribe", "unsubscribe me", "opt out", "optout", "no more messages",
		"dont message me", "do not message me", "quit", "end",
	)
	optInPhrases = phraseSet(
		"start", "unstop", "subscribe", "resubscribe", "opt in", "optin", "start messages",
	)
)

func phraseSet(phrases ...string) map[string]bool {
	set := make(map[string]bool, len(phrases))
	for _, p := range phrases {
		set[p] = true
	}
	return set
}

// consentIntent returns intentOptOut or intentOptIn when the whole text is
// a stop or start keyword, and "" otherwise.
func consentIntent(text string) string {
	normal := normalizeKeyword(text)
	switch {
	case optOutPhrases[normal]:
		return intentOptOut
	case optInPhrases[normal]:
		return intentOptIn
	}
	return ""
}

// normalizeKeyword lowercases text, turns hyphens into spaces, drops other
// punctuation and symbols, as in "STOP!" or "don't", and collapses
// whitespace. Text longer than any keyword gives "".
func normalizeKeyword(text string) string {
	if len(text) > 64 {
		return ""
	}
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		case r == '-':
			b.WriteRune(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
