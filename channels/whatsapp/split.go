package whatsapp

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxTextLength is the longest text message body WhatsApp takes, in
// characters.
const maxTextLength = 4096

// textLength counts s the way the Cloud API's character limits are safest
// counted: in UTF-16 code units, so an emoji counts twice.
func textLength(s string) int {
	n := 0
	for _, r := range s {
		n += max(1, utf16.RuneLen(r))
	}
	return n
}

// packBlocks joins blocks with blank lines into as few messages as fit
// within limit characters each. A block longer than limit is cut at
// sentence ends, then at spaces, and only as a last resort inside a word.
func packBlocks(blocks []string, limit int) []string {
	var messages []string
	var current strings.Builder
	flush := func() {
		if text := strings.TrimSpace(current.String()); text != "" {
			messages = append(messages, text)
		}
		current.Reset()
	}
	for _, block := range blocks {
		pieces := []string{block}
		if textLength(block) > limit {
			pieces = splitLong(block, limit)
		}
		for _, piece := range pieces {
			joined := piece
			if current.Len() > 0 {
				joined = current.String() + "\n\n" + piece
			}
			if textLength(joined) <= limit {
				current.Reset()
				current.WriteString(joined)
				continue
			}
			flush()
			current.WriteString(piece)
		}
	}
	flush()
	return messages
}

// splitLong cuts text into pieces of at most limit characters, at the
// last sentence end or line break that fits, else at the last space, else
// at limit.
func splitLong(text string, limit int) []string {
	var pieces []string
	for textLength(text) > limit {
		cut := prefixWithin(text, limit)
		at := lastSentenceEnd(text[:cut])
		if at <= 0 {
			at = strings.LastIndexFunc(text[:cut], unicode.IsSpace)
		}
		if at <= 0 {
			at = cut
		}
		if piece := strings.TrimSpace(text[:at]); piece != "" {
			pieces = append(pieces, piece)
		}
		text = strings.TrimLeftFunc(text[at:], unicode.IsSpace)
	}
	if strings.TrimSpace(text) != "" {
		pieces = append(pieces, strings.TrimSpace(text))
	}
	return pieces
}

// prefixWithin returns the byte length of the longest prefix of s within
// limit characters, on a rune boundary.
func prefixWithin(s string, limit int) int {
	n := 0
	for i, r := range s {
		n += max(1, utf16.RuneLen(r))
		if n > limit {
			return i
		}
	}
	return len(s)
}

// lastSentenceEnd returns the byte offset just after the last sentence end
// in s, a ".", "!", "?" or "…" followed by whitespace, or after the last
// line break, whichever is later. It returns -1 when s has neither.
func lastSentenceEnd(s string) int {
	for i := len(s) - 1; i > 0; i-- {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			continue
		}
		prev, _ := utf8.DecodeLastRuneInString(s[:i])
		if r == '\n' || strings.ContainsRune(".!?…", prev) {
			return i + size
		}
	}
	return -1
}
