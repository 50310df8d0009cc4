package agent

import (
	"regexp"
	"strings"
	"unicode"
)

// markerPattern matches a citation marker as the model writes it: [S1],
// [S1, S2] or [S1; 2].
var markerPattern = regexp.MustCompile(`^\[\s*[Ss](\d+)((?:\s*[,;]\s*[Ss]?\d+)*)\s*\]`)

var markerNumber = regexp.MustCompile(`\d+`)

// maxMarkerLength is the longest text held back while it may still turn
// out to be a marker.
const maxMarkerLength = 40

// mark records where a citation marker stood in the clean text.
type mark struct {
	// offset is the byte offset in the clean text where the marker stood.
	offset int
	id     string
}

// markerFilter removes citation markers from streamed text as it passes,
// with the whitespace before them, and records where they stood. A marker
// may arrive split across deltas, so text that may begin one is held back
// until it is complete or cannot be one.
type markerFilter struct {
	emit func(string)

	pending string
	out     strings.Builder
	marks   []mark
	// separate is set between rounds of model output, so the next text
	// starts after a space.
	separate bool
}

// write filters the next part of the model's text.
func (f *markerFilter) write(s string) {
	f.pending += s
	for f.pending != "" {
		open := strings.IndexByte(f.pending, '[')
		if open < 0 {
			// Trailing whitespace waits: a marker may follow it.
			keep := len(strings.TrimRightFunc(f.pending, unicode.IsSpace))
			f.send(f.pending[:keep])
			f.pending = f.pending[keep:]
			return
		}

		before := strings.TrimRightFunc(f.pending[:open], unicode.IsSpace)
		rest := f.pending[open:]
		if m := markerPattern.FindStringSubmatch(rest); m != nil {
			f.send(before)
			for _, n := range markerNumber.FindAllString(m[1]+m[2], -1) {
				f.marks = append(f.marks, mark{offset: f.out.Len(), id: "S" + n})
			}
			f.pending = rest[len(m[0]):]
			continue
		}
		if mayBeMarker(rest) && len(rest) < maxMarkerLength {
			f.send(before)
			f.pending = f.pending[len(before):]
			return
		}
		f.send(f.pending[:open+1])
		f.pending = f.pending[open+1:]
	}
}

// mayBeMarker reports whether more text could complete s into a marker.
func mayBeMarker(s string) bool {
	for _, end := range []string{"]", "1]", "S1]"} {
		if markerPattern.MatchString(s + end) {
			return true
		}
	}
	return false
}

// nextRound notes that the model's next text starts a new response.
func (f *markerFilter) nextRound() {
	f.flush()
	f.separate = true
}

// flush sends the text held back, except trailing whitespace.
func (f *markerFilter) flush() {
	f.send(strings.TrimRightFunc(f.pending, unicode.IsSpace))
	f.pending = ""
}

// send emits clean text, dropping whitespace at the start of the reply
// and putting a space between rounds.
func (f *markerFilter) send(s string) {
	if f.out.Len() == 0 {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if s == "" {
		return
	}
	if f.separate && f.out.Len() > 0 && !startsWithSpace(s) {
		s = " " + s
	}
	f.separate = false
	f.out.WriteString(s)
	f.emit(s)
}

func startsWithSpace(s string) bool {
	for _, r := range s {
		return unicode.IsSpace(r)
	}
	return false
}

// text returns the clean text emitted so far.
func (f *markerFilter) text() string { return f.out.String() }
