package ingest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// markdownParser parses GitHub-flavoured tables as well as CommonMark.
var markdownParser = goldmark.New(goldmark.WithExtensions(extension.Table)).Parser()

// mdSection is the blocks under one heading of a Markdown file.
type mdSection struct {
	Level  int // 1 to 3, or 0 for text before the first heading
	Title  string
	Line   int
	Blocks []ast.Node
	Start  int // byte offset of the first block
	End    int // byte offset where the next heading's line starts
}

// splitMarkdown cuts src at every heading of level 1 to 3. The first section
// holds the text before the first heading and has level 0. Headings inside
// code blocks or block quotes do not cut.
func splitMarkdown(src []byte) []mdSection {
	doc := markdownParser.Parse(text.NewReader(src))
	lines := newLineIndex(src)

	sections := []mdSection{{Start: 0}}
	previous := 0
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		// A block without a known position starts where the last one did,
		// so it cannot pull earlier text into its section.
		start := previous
		if offset := blockStart(n); offset >= previous {
			start = lineStart(src, offset)
		}
		previous = start

		current := &sections[len(sections)-1]
		if h, ok := n.(*ast.Heading); ok && h.Level <= 3 {
			current.End = start
			sections = append(sections, mdSection{
				Level: h.Level,
				Title: inlineText(h, src),
				Line:  lines.line(start),
				Start: -1,
			})
			continue
		}
		if current.Start < 0 || len(current.Blocks) == 0 {
			current.Start = start
		}
		current.Blocks = append(current.Blocks, n)
	}
	last := &sections[len(sections)-1]
	last.End = len(src)

	for i := range sections {
		if sections[i].Start < 0 || len(sections[i].Blocks) == 0 {
			sections[i].Start = sections[i].End
		}
	}
	return sections
}

// body returns the section's Markdown source without leading and trailing
// blank lines.
func (s mdSection) body(src []byte) string {
	if s.Start >= s.End {
		return ""
	}
	return strings.TrimSpace(string(src[s.Start:s.End]))
}

// blockStart returns the byte offset where a block begins, or -1.
func blockStart(n ast.Node) int {
	if t, ok := n.(*east.Table); ok {
		if header := t.FirstChild(); header != nil {
			if row := header.FirstChild(); row != nil && row.Pos() >= 0 {
				return row.Pos()
			}
			if header.Pos() >= 0 {
				return header.Pos()
			}
		}
	}
	if p := n.Pos(); p >= 0 {
		return p
	}
	if lines := n.Lines(); lines != nil && lines.Len() > 0 {
		return lines.At(0).Start
	}
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if p := blockStart(c); p >= 0 {
			return p
		}
	}
	return -1
}

// lineStart moves an offset back to the start of its line, so a list marker
// or indentation before a block stays with it. A negative offset gives 0.
func lineStart(src []byte, offset int) int {
	if offset < 0 {
		return 0
	}
	if offset > len(src) {
		offset = len(src)
	}
	for offset > 0 && src[offset-1] != '\n' {
		offset--
	}
	return offset
}

// inlineText returns the plain text of a node's inline content, without
// emphasis markers or link targets.
func inlineText(n ast.Node, src []byte) string {
	var b strings.Builder
	var walk func(ast.Node)
	walk = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch node := c.(type) {
			case *ast.Text:
				b.Write(node.Segment.Value(src))
				if node.SoftLineBreak() || node.HardLineBreak() {
					b.WriteByte(' ')
				}
			case *ast.String:
				b.Write(node.Value)
			case *ast.AutoLink:
				b.Write(node.Label(src))
			case *ast.RawHTML:
				// Inline HTML tags carry no text of their own.
			default:
				walk(c)
			}
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// parseFAQMarkdown returns one FAQ document per heading.
func parseFAQMarkdown(name string, data []byte) (*Batch, []RowError, error) {
	return parseSectionsMarkdown(name, data, salesagent.KindFAQ)
}

// parsePolicyMarkdown returns one policy document per heading.
func parsePolicyMarkdown(name string, data []byte) (*Batch, []RowError, error) {
	return parseSectionsMarkdown(name, data, salesagent.KindPolicy)
}

// checkMarkdown returns an error when the file is clearly JSON or CSV,
// which every Markdown reader would otherwise load as one block of text.
// Detect never sends a .json or .csv file to a Markdown reader, so such a
// file was read with --format, and only then does the fix suggest leaving
// --format out.
func checkMarkdown(name string, data []byte) error {
	ext := strings.ToLower(filepath.Ext(name))
	switch kind := structuredKind(name, data); {
	case kind == "JSON" && ext == ".json":
		return fmt.Errorf("%s contains JSON, not Markdown (fix: leave out --format so the layout is detected, or pass --format %s for a JSON FAQ of question and answer objects)",
			name, FormatFAQJSON)
	case kind == "JSON":
		return fmt.Errorf("%s contains JSON, not Markdown (fix: pass --format %s for a JSON FAQ of question and answer objects, or rename the file to .json so its layout is detected)",
			name, FormatFAQJSON)
	case kind == "CSV" && ext == ".csv":
		return fmt.Errorf("%s contains CSV, not Markdown (fix: leave out --format so the layout is detected, or pass --format %s or %s for a product CSV)",
			name, FormatShopifyCSV, FormatMagentoCSV)
	case kind == "CSV":
		return fmt.Errorf("%s contains CSV, not Markdown (fix: pass --format %s or %s for a product CSV, or rename the file to .csv so its layout is detected)",
			name, FormatShopifyCSV, FormatMagentoCSV)
	}
	return nil
}

// structuredKind returns "JSON" or "CSV" when the extension or the content
// shows that the file is one of them, and "" otherwise. Content counts as
// JSON by the rule of looksLikeJSON and as CSV by the rule of looksLikeCSV.
func structuredKind(name string, data []byte) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return "JSON"
	case ".csv":
		return "CSV"
	}

	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\ufeff")), " \t\r\n")
	switch {
	case looksLikeJSON(trimmed):
		return "JSON"
	case looksLikeCSV(trimmed):
		return "CSV"
	}
	return ""
}

// looksLikeJSON reports whether data, without leading white space, is a
// JSON object or array: the whole content is valid JSON, or it is cut off
// inside its first value, as a truncated export is. Markdown that opens
// with a bracket, such as the reference link "[1]: https://example.com" or
// the text "[2024 update] We changed", fails both tests, because its first
// value, if any, is followed by more than white space.
func looksLikeJSON(data []byte) bool {
	if len(data) == 0 || (data[0] != '{' && data[0] != '[') {
		return false
	}
	if json.Valid(data) {
		return true
	}
	var first json.RawMessage
	err := json.NewDecoder(bytes.NewReader(data)).Decode(&first)
	return errors.Is(err, io.ErrUnexpectedEOF)
}

// maxCSVHeaderCell is the longest header cell, in bytes, that looksLikeCSV
// accepts. Sentences with commas have longer parts than column names.
const maxCSVHeaderCell = 40

// mdLinkStart matches text that opens with a Markdown link, image or
// reference definition, as in "[Home](/)", "![logo](logo.png)",
// "[Shop][1]" and "[1]: https://example.com".
var mdLinkStart = regexp.MustCompile(`^!?\[[^\]]*\][(\[:]`)

// looksLikeCSV reports whether data, with no Markdown heading, starts with
// consecutive lines that parse as CSV rows of one field count: at least two
// rows of three or more fields, or three rows of two. The header cells must
// be short, must not end like a sentence, and the first must not start with
// a Markdown list, quote or table marker or a link, so prose, lists and
// link bars with commas stay Markdown.
func looksLikeCSV(data []byte) bool {
	if mdHeading.Match(data) {
		return false
	}

	var head [][]byte
	for _, line := range bytes.SplitN(data, []byte("\n"), 6) {
		if len(head) == 5 || len(bytes.TrimSpace(line)) == 0 {
			break
		}
		head = append(head, line)
	}
	if len(head) < 2 {
		return false
	}

	reader := csv.NewReader(bytes.NewReader(bytes.Join(head, []byte("\n"))))
	reader.LazyQuotes = true
	rows, err := reader.ReadAll()
	if err != nil {
		// ReadAll also fails on a row whose field count differs from the
		// header's.
		return false
	}
	if len(rows) < 2 {
		return false
	}
	fields := len(rows[0])
	if fields < 2 || (fields == 2 && len(rows) < 3) {
		return false
	}

	first := strings.TrimSpace(rows[0][0])
	for _, marker := range []string{"- ", "* ", "+ ", ">", "|"} {
		if strings.HasPrefix(first, marker) {
			return false
		}
	}
	if mdLinkStart.MatchString(first) {
		return false
	}
	for _, cell := range rows[0] {
		cell = strings.TrimSpace(cell)
		if cell == "" || len(cell) > maxCSVHeaderCell || strings.ContainsAny(cell[len(cell)-1:], ".!?:") {
			return false
		}
	}
	return true
}

// parseSectionsMarkdown returns one document per heading of level 1 to 3
// whose section has text: the heading is the title and the Markdown under
// it the body. Headings with nothing under them, such as a title followed
// directly by a subheading, give no document. Text before the first heading
// becomes a document titled after the file.
func parseSectionsMarkdown(name string, data []byte, kind string) (*Batch, []RowError, error) {
	if err := checkMarkdown(name, data); err != nil {
		return nil, nil, err
	}

	batch := &Batch{}
	keys := map[string]int{}
	var rowErrs []RowError

	for _, sec := range splitMarkdown(data) {
		body := sec.body(data)
		if body == "" {
			continue
		}
		title := sec.Title
		line := sec.Line
		if sec.Level == 0 {
			title = titleCase(strings.NewReplacer("-", " ", "_", " ").Replace(stem(name)))
			line = 1
		}
		at := origin{File: name, Line: line}
		if title == "" {
			rowErrs = append(rowErrs, rowError(at, "heading", "", errors.New("heading has no text"),
				"write the question or section name after the # marks"))
			continue
		}
		batch.addDocument(at, salesagent.Document{
			Kind:   kind,
			Source: name,
			Key:    uniqueKey(keys, stem(name)+"/"+slugify(title)),
			Title:  title,
			Body:   body,
		})
	}
	return batch, rowErrs, nil
}

// parseSizeGuideMarkdown returns one size guide per heading of level 2 or
// 3. The first table under the heading gives Document.Table, and the rest
// of the section is the table's notes. Text under the level-1 title or before
// any heading applies to every guide (units, how to measure) and is added
// to each guide's Body. A section without a table is a RowError.
func parseSizeGuideMarkdown(name string, data []byte) (*Batch, []RowError, error) {
	if err := checkMarkdown(name, data); err != nil {
		return nil, nil, err
	}

	batch := &Batch{}
	keys := map[string]int{}
	var rowErrs []RowError
	var general []string

	for _, sec := range splitMarkdown(data) {
		if sec.Level <= 1 {
			if body := sec.body(data); body != "" {
				general = append(general, body)
			}
			continue
		}
		at := origin{File: name, Line: sec.Line}
		if sec.Title == "" {
			rowErrs = append(rowErrs, rowError(at, "heading", "", errors.New("heading has no text"),
				"write the product type after the ## marks, as in ## Jackets"))
			continue
		}

		table, notes := sizeTable(sec, data)
		if table == nil {
			rowErrs = append(rowErrs, rowError(at, "heading", sec.Title,
				fmt.Errorf("no table under heading %q", sec.Title),
				"put a Markdown table under the heading: a header row such as | Size | Chest (cm) |, a |---|---| row, then one row per size"))
			continue
		}
		table.Notes = notes

		title := sec.Title
		if !strings.Contains(strings.ToLower(title), "size") {
			title += " size guide"
		}
		batch.addDocument(at, salesagent.Document{
			Kind:        salesagent.KindSizeGuide,
			Source:      name,
			Key:         uniqueKey(keys, stem(name)+"/"+slugify(sec.Title)),
			Title:       title,
			ProductType: sec.Title,
			Body:        sizeGuideBody(title, table, general),
			Table:       table,
		})
	}
	return batch, rowErrs, nil
}

// sizeTable returns the first table of a section and the section's other
// blocks as Markdown notes.
func sizeTable(sec mdSection, src []byte) (*salesagent.Table, string) {
	var table *salesagent.Table
	var notes []string
	for i, n := range sec.Blocks {
		end := sec.End
		if i+1 < len(sec.Blocks) {
			end = lineStart(src, blockStart(sec.Blocks[i+1]))
		}
		if t, ok := n.(*east.Table); ok && table == nil {
			table = convertTable(t, src)
			continue
		}
		start := lineStart(src, blockStart(n))
		if start < end {
			if note := strings.TrimSpace(string(src[start:end])); note != "" {
				notes = append(notes, note)
			}
		}
	}
	return table, strings.Join(notes, "\n\n")
}

// convertTable copies a goldmark table into a salesagent.Table. Rows are
// padded to the number of columns.
func convertTable(t *east.Table, src []byte) *salesagent.Table {
	table := &salesagent.Table{}
	for row := t.FirstChild(); row != nil; row = row.NextSibling() {
		var cells []string
		for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
			cells = append(cells, inlineText(cell, src))
		}
		if _, isHeader := row.(*east.TableHeader); isHeader {
			table.Columns = cells
			continue
		}
		for len(cells) < len(table.Columns) {
			cells = append(cells, "")
		}
		table.Rows = append(table.Rows, cells)
	}
	return table
}

// sizeGuideBody renders a size guide as plain text for retrieval: one line
// per row such as "Size M: Chest (cm) 96-101, Waist (cm) 81-86.", then the
// notes and the text that applies to every guide.
func sizeGuideBody(title string, table *salesagent.Table, general []string) string {
	var b strings.Builder
	b.WriteString(title)
	b.WriteString(".\n")

	for _, row := range table.Rows {
		if len(row) == 0 || len(table.Columns) == 0 {
			continue
		}
		var measurements []string
		for i := 1; i < len(row) && i < len(table.Columns); i++ {
			if row[i] != "" {
				measurements = append(measurements, table.Columns[i]+" "+row[i])
			}
		}
		fmt.Fprintf(&b, "%s %s: %s.\n", table.Columns[0], row[0], strings.Join(measurements, ", "))
	}

	for _, text := range append([]string{table.Notes}, general...) {
		if text = strings.TrimSpace(text); text != "" {
			b.WriteString("\n")
			b.WriteString(text)
			b.WriteString("\n")
		}
	}
	return strings.TrimSpace(b.String())
}
