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
// within limit characters each. A block that does not fit is cut at
// sentence ends or line breaks, then at spaces, and only as a last resort
// inside a word. Its first part fills the current message when at least a
// quarter of the message is left.
func packBlocks(blocks []string, limit int) []string {
	var messages []string
	current := ""
	flush := func() {
		if text := strings.TrimSpace(current); text != "" {
			messages = append(messages, text)
		}
		current = ""
	}
	for _, block := range blocks {
		for block != "" {
			sep := ""
			if current != "" {
				sep = "\n\n"
			}
			room := limit - textLength(current+sep)
			if textLength(block) <= room {
				current += sep + block
				break
			}
			if current != "" && room < limit/4 {
				flush()
				continue
			}
			head, tail := cut(block, room)
			if head == "" && current != "" {
				flush()
				continue
			}
			if head == "" {
				// No space within a whole message: cut inside the word.
				at := prefixWithin(block, room)
				head, tail = block[:at], block[at:]
			}
			current += sep + head
			flush()
			block = tail
		}
	}
	flush()
	return messages
}

// cut returns the longest head of text within limit characters that ends
// at a sentence end or line break, else at a space, and the rest. Both
// are trimmed. head is "" when text has no such place within limit, and
// text itself when it fits.
func cut(text string, limit int) (head, tail string) {
	text = strings.TrimSpace(text)
	if textLength(text) <= limit {
		return text, ""
	}
	within := text[:prefixWithin(text, limit)]
	at := lastSentenceEnd(within)
	if at <= 0 {
		at = strings.LastIndexFunc(within, unicode.IsSpace)
	}
	if at <= 0 {
		return "", text
	}
	return strings.TrimSpace(text[:at]), strings.TrimSpace(text[at:])
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
