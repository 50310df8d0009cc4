package whatsapp

import (
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdownParser reads the agent's replies as CommonMark with GitHub's
// strikethrough, tables and bare links.
var markdownParser = goldmark.New(goldmark.WithExtensions(extension.Strikethrough, extension.Table, extension.Linkify)).Parser()

// formatter turns Markdown into WhatsApp's formatting: *bold*, _italic_,
// ~strikethrough~, `code`, ``` blocks, "- " and "1. " lists and "> "
// quotes. WhatsApp shows no links with labels, so a link becomes its label
// and its URL.
type formatter struct {
	src []byte
	// base makes relative URLs absolute; "" leaves them as they are.
	base string
}

// markdownBlocks returns the WhatsApp text of each top-level block of the
// Markdown source, so a long reply can be split between blocks.
func markdownBlocks(markdown, base string) []string {
	src := []byte(markdown)
	f := formatter{src: src, base: strings.TrimRight(base, "/")}
	doc := markdownParser.Parse(text.NewReader(src))
	var blocks []string
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if block := strings.TrimRight(f.block(n, ""), " \n"); strings.TrimSpace(block) != "" {
			blocks = append(blocks, block)
		}
	}
	return blocks
}

// block renders one block node. indent prefixes every line after the
// first, for list items.
func (f *formatter) block(n ast.Node, indent string) string {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		return f.inlines(n)
	case *ast.Heading:
		return emphasize("*", plainInline(f.inlines(n)))
	case *ast.List:
		return f.list(n, indent)
	case *ast.Blockquote:
		var lines []string
		for child := n.FirstChild(); child != nil; child = child.NextSibling() {
			for _, line := range strings.Split(f.block(child, ""), "\n") {
				lines = append(lines, "> "+line)
			}
		}
		return strings.Join(lines, "\n")
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		return "```\n" + strings.TrimRight(f.lines(n), "\n") + "\n```"
	case *ast.HTMLBlock:
		return strings.TrimRight(f.lines(n), "\n")
	case *east.Table:
		return f.table(n)
	case *ast.ThematicBreak:
		return ""
	}
	// Unknown blocks keep their children's text.
	var parts []string
	for child := n.FirstChild(); child != nil; child = child.NextSibling() {
		parts = append(parts, f.block(child, indent))
	}
	return strings.Join(parts, "\n")
}

// list renders a list's items as "- " or numbered lines. Nested lists are
// indented by two spaces, as WhatsApp has no nested lists of its own.
func (f *formatter) list(l *ast.List, indent string) string {
	var items []string
	number := l.Start
	for item := l.FirstChild(); item != nil; item = item.NextSibling() {
		marker := "- "
		if l.IsOrdered() {
			marker = strconv.Itoa(number) + ". "
			number++
		}
		var parts []string
		for child := item.FirstChild(); child != nil; child = child.NextSibling() {
			part := f.block(child, indent+"  ")
			if _, nested := child.(*ast.List); nested {
				part = indent + "  " + part
			}
			parts = append(parts, part)
		}
		items = append(items, indent+marker+strings.Join(parts, "\n"))
	}
	if indent != "" && len(items) > 0 {
		items[0] = strings.TrimPrefix(items[0], indent)
	}
	return strings.Join(items, "\n")
}

// table renders a Markdown table like a size guide's table.
func (f *formatter) table(t *east.Table) string {
	var rows [][]string
	for row := t.FirstChild(); row != nil; row = row.NextSibling() {
		var cells []string
		for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
			cells = append(cells, plainInline(f.inlines(cell)))
		}
		rows = append(rows, cells)
	}
	if len(rows) == 0 {
		return ""
	}
	return renderTable(rows[0], rows[1:])
}

// lines returns a block's raw lines, as of a code block.
func (f *formatter) lines(n ast.Node) string {
	var b strings.Builder
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		segment := lines.At(i)
		b.Write(segment.Value(f.src))
	}
	return b.String()
}

// inlines renders the inline children of n.
func (f *formatter) inlines(n ast.Node) string {
	var b strings.Builder
	for child := n.FirstChild(); child != nil; child = child.NextSibling() {
		f.inline(&b, child)
	}
	return b.String()
}

func (f *formatter) inline(b *strings.Builder, n ast.Node) {
	switch n := n.(type) {
	case *ast.Text:
		value := n.Value(f.src)
		if !n.IsRaw() {
			value = unescape(value)
		}
		b.Write(value)
		switch {
		case n.HardLineBreak(), n.SoftLineBreak():
			b.WriteByte('\n')
		}
	case *ast.String:
		b.Write(n.Value)
	case *ast.Emphasis:
		marker := "_"
		if n.Level >= 2 {
			marker = "*"
		}
		b.WriteString(emphasize(marker, f.inlines(n)))
	case *east.Strikethrough:
		b.WriteString(emphasize("~", f.inlines(n)))
	case *ast.CodeSpan:
		b.WriteString("`" + f.inlines(n) + "`")
	case *ast.Link:
		b.WriteString(f.link(f.inlines(n), string(n.Destination)))
	case *ast.Image:
		b.WriteString(f.link(f.inlines(n), string(n.Destination)))
	case *ast.AutoLink:
		b.WriteString(f.absolute(string(n.URL(f.src))))
	case *ast.RawHTML:
		for i := 0; i < n.Segments.Len(); i++ {
			segment := n.Segments.At(i)
			b.Write(segment.Value(f.src))
		}
	default:
		b.WriteString(f.inlines(n))
	}
}

// link renders a link as its label and URL, or the URL alone when the
// label is empty or the URL itself.
func (f *formatter) link(label, destination string) string {
	url := f.absolute(destination)
	label = strings.TrimSpace(label)
	if label == "" || label == destination || label == url {
		return url
	}
	if url == "" {
		return label
	}
	return label + " (" + url + ")"
}

// absolute prefixes a URL path with the public base URL.
func (f *formatter) absolute(url string) string {
	if strings.HasPrefix(url, "/") && !strings.HasPrefix(url, "//") && f.base != "" {
		return f.base + url
	}
	return url
}

// emphasize wraps text in a WhatsApp marker. WhatsApp only formats a
// marker that touches a non-space character, so surrounding spaces move
// outside the markers.
func emphasize(marker, text string) string {
	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		return text
	}
	lead := text[:strings.Index(text, trimmed)]
	trail := text[len(lead)+len(trimmed):]
	return lead + marker + trimmed + marker + trail
}

// plainInline drops bold markers from rendered inline text, for places
// that are formatted as a whole, such as a heading. Underscores stay,
// because words such as snake_case names contain them.
func plainInline(s string) string {
	return strings.ReplaceAll(s, "*", "")
}

// unescape resolves backslash escapes and character references.
func unescape(value []byte) []byte {
	value = util.UnescapePunctuations(value)
	value = util.ResolveNumericReferences(value)
	return util.ResolveEntityNames(value)
}
