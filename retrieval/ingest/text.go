package ingest

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlSection is a run of text under one heading of an HTML fragment.
type htmlSection struct {
	Level int // 1 to 3, or 0 for text before the first heading
	Title string
	Body  string
}

// htmlToText converts an HTML fragment to plain text: paragraphs become
// blank-line separated, list items start with "- ", table cells are joined
// with " | " one row per line, and entities are decoded.
func htmlToText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return cleanText(s)
	}
	var parts []string
	for _, sec := range splitHTML(s, 0) {
		if sec.Title != "" {
			parts = append(parts, sec.Title)
		}
		if sec.Body != "" {
			parts = append(parts, sec.Body)
		}
	}
	return strings.Join(parts, "\n\n")
}

// htmlInlineText converts a one-line HTML fragment, such as a product name
// or a question, to plain text: tags are dropped, entities decoded and
// each run of white space becomes one space.
func htmlInlineText(s string) string {
	return strings.Join(strings.Fields(htmlToText(s)), " ")
}

// htmlEntity matches a named or numeric character reference such as
// "&amp;" or "&#8217;".
var htmlEntity = regexp.MustCompile(`&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);`)

// textFromMaybeHTML converts s with htmlToText when it contains a tag of a
// known HTML element, and only decodes its entities when it contains
// character references. Other text, such as Markdown, is returned trimmed
// with its line breaks, and so is text with a "<" that opens no tag, as in
// "orders < 50 EUR".
func textFromMaybeHTML(s string) string {
	if hasHTMLTag(s) {
		return htmlToText(s)
	}
	if htmlEntity.MatchString(s) {
		s = html.UnescapeString(s)
	}
	return strings.TrimSpace(s)
}

// hasHTMLTag reports whether s contains a start, end or self-closing tag
// of an element that HTML defines, so "<b>" counts and "<3" or "<name>"
// does not.
func hasHTMLTag(s string) bool {
	if !strings.Contains(s, "<") {
		return false
	}
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return false
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			if z.Token().DataAtom != 0 {
				return true
			}
		}
	}
}

// splitHTML converts an HTML fragment to text cut at h1 to h<maxLevel>
// headings. With maxLevel 0 no heading starts a section, and headings stay
// in the text as their own paragraphs.
func splitHTML(s string, maxLevel int) []htmlSection {
	w := &htmlWriter{maxLevel: maxLevel}
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		token := z.Token()
		switch tt {
		case html.TextToken:
			w.text(token.Data)
		case html.StartTagToken, html.SelfClosingTagToken:
			w.start(token.DataAtom)
		case html.EndTagToken:
			w.end(token.DataAtom)
		}
	}
	w.flush()
	return w.sections
}

// htmlWriter collects text while walking HTML tokens.
type htmlWriter struct {
	maxLevel  int
	sections  []htmlSection
	current   htmlSection
	body      strings.Builder
	title     strings.Builder
	inHeading int // level of the heading being read, 0 outside one
	skip      int // depth inside script and style elements
	cells     int // cells written in the current table row
	inCell    bool
}

func headingLevel(a atom.Atom) int {
	switch a {
	case atom.H1:
		return 1
	case atom.H2:
		return 2
	case atom.H3:
		return 3
	case atom.H4:
		return 4
	case atom.H5:
		return 5
	case atom.H6:
		return 6
	}
	return 0
}

// text writes a text node. Line breaks in HTML source are spaces, because
// only tags break lines.
func (w *htmlWriter) text(s string) {
	if w.skip > 0 {
		return
	}
	s = collapseSpace(s)
	if w.inHeading > 0 {
		w.title.WriteString(s)
		return
	}
	if s == " " && (w.body.Len() == 0 || strings.HasSuffix(w.body.String(), "\n")) {
		return // indentation between tags
	}
	w.body.WriteString(s)
}

func (w *htmlWriter) start(a atom.Atom) {
	if a == atom.Script || a == atom.Style {
		w.skip++
		return
	}
	if level := headingLevel(a); level > 0 && level <= w.maxLevel {
		w.flush()
		w.current = htmlSection{Level: level}
		w.inHeading = level
		return
	}
	switch a {
	case atom.Br:
		if w.inCell {
			w.body.WriteString(" ")
		} else {
			w.body.WriteString("\n")
		}
	case atom.Div, atom.Tr, atom.Caption:
		w.breakLines(1)
		w.cells = 0
	case atom.P, atom.Ul, atom.Ol, atom.Table, atom.Blockquote, atom.Pre, atom.Hr,
		atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Section, atom.Dl:
		w.breakLines(2)
	case atom.Li, atom.Dt, atom.Dd:
		w.breakLines(1)
		w.body.WriteString("- ")
	case atom.Td, atom.Th:
		if w.cells > 0 {
			w.body.WriteString(" | ")
		}
		w.cells++
		w.inCell = true
	}
}

func (w *htmlWriter) end(a atom.Atom) {
	if a == atom.Script || a == atom.Style {
		if w.skip > 0 {
			w.skip--
		}
		return
	}
	if level := headingLevel(a); level > 0 && level == w.inHeading {
		w.current.Title = cleanText(w.title.String())
		w.title.Reset()
		w.inHeading = 0
		return
	}
	switch a {
	case atom.P, atom.Ul, atom.Ol, atom.Table, atom.Blockquote, atom.Pre,
		atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Section, atom.Dl:
		w.breakLines(2)
	case atom.Div, atom.Tr, atom.Li, atom.Caption:
		w.breakLines(1)
		w.cells = 0
	case atom.Td, atom.Th:
		w.inCell = false
	}
}

// breakLines ends the text so far with at least n line breaks: 1 starts a
// new line, 2 a new paragraph. Trailing spaces do not count as text.
func (w *htmlWriter) breakLines(n int) {
	text := strings.TrimRight(w.body.String(), " ")
	if text == "" {
		return
	}
	have := len(text) - len(strings.TrimRight(text, "\n"))
	for ; have < n; have++ {
		w.body.WriteString("\n")
	}
}

// collapseSpace turns each run of white space, line breaks included, into
// one space, keeping a space at either end so words on both sides of a tag
// stay apart.
func collapseSpace(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

// flush closes the current section, keeping it when it has a title or text.
func (w *htmlWriter) flush() {
	if w.inHeading > 0 {
		w.current.Title = cleanText(w.title.String())
		w.title.Reset()
		w.inHeading = 0
	}
	w.current.Body = cleanText(w.body.String())
	w.body.Reset()
	if w.current.Title != "" || w.current.Body != "" {
		w.sections = append(w.sections, w.current)
	}
	w.current = htmlSection{}
}

// cleanText collapses spaces inside each line, trims lines, and keeps at
// most one blank line between paragraphs.
func cleanText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var out []string
	blank := false
	for _, line := range lines {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" || line == "-" {
			blank = len(out) > 0
			continue
		}
		if blank {
			out = append(out, "")
			blank = false
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// slugify lowercases s and joins its letters and digits with hyphens, as in
// URL handles: "Mars HeatTech™ Pullover" becomes "mars-heattech-pullover".
func slugify(s string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(r)
			continue
		}
		if r == '\'' || r == '’' || r == '™' || r == '®' {
			continue
		}
		hyphen = true
	}
	return b.String()
}

// titleCase upper-cases the first letter of each word of an option name, so
// "size" and "backrest height" become "Size" and "Backrest Height". Other
// letters keep their case, which leaves "EU size" as "EU Size".
func titleCase(s string) string {
	words := strings.Fields(strings.ReplaceAll(s, "_", " "))
	for i, word := range words {
		runes := []rune(word)
		runes[0] = unicode.ToUpper(runes[0])
		words[i] = string(runes)
	}
	return strings.Join(words, " ")
}

// splitList splits a separated list, trims the items and drops empty ones.
func splitList(s, sep string) []string {
	var out []string
	for _, item := range strings.Split(s, sep) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// lineIndex maps byte offsets of a file to 1-based line numbers.
type lineIndex struct {
	data     []byte
	newlines []int
}

// newLineIndex records the offset of every newline in data.
func newLineIndex(data []byte) lineIndex {
	idx := lineIndex{data: data}
	for i, c := range data {
		if c == '\n' {
			idx.newlines = append(idx.newlines, i)
		}
	}
	return idx
}

// line returns the line number of the byte at offset.
func (idx lineIndex) line(offset int) int {
	return sort.SearchInts(idx.newlines, offset) + 1
}

// valueLine returns the line of the JSON value that starts after offset,
// skipping the white space, commas and colons a json.Decoder's InputOffset
// still points before.
func (idx lineIndex) valueLine(offset int) int {
	for offset < len(idx.data) && strings.IndexByte(" \t\r\n,:", idx.data[offset]) >= 0 {
		offset++
	}
	return idx.line(offset)
}

// uniqueKey returns key, or key with "-2", "-3" and so on appended when an
// earlier call already returned it.
func uniqueKey(seen map[string]int, key string) string {
	seen[key]++
	if n := seen[key]; n > 1 {
		return key + "-" + strconv.Itoa(n)
	}
	return key
}

// stem returns a file name without its extension, for document keys.
func stem(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}
