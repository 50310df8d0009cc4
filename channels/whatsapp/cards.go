package whatsapp

import (
	"strings"
	"unicode/utf8"

	"github.com/salesagent/salesagent"
)

// maxTableWidth is the widest table, in characters, shown as a monospaced
// block. Wider tables become one line per row, because a phone wraps long
// monospaced lines and scrambles the columns. 32 characters fit a typical
// phone screen in portrait, an estimate.
const maxTableWidth = 32

// renderTable shows a table as a monospaced block when it is narrow, or
// else as one line per row: the first cell in bold, then each column's
// name and value.
func renderTable(columns []string, rows [][]string) string {
	widths := make([]int, len(columns))
	for i, c := range columns {
		widths[i] = utf8.RuneCountInString(c)
	}
	for _, row := range rows {
		for i := 0; i < len(row) && i < len(widths); i++ {
			widths[i] = max(widths[i], utf8.RuneCountInString(row[i]))
		}
	}
	total := 3 * max(0, len(widths)-1)
	for _, w := range widths {
		total += w
	}

	if total <= maxTableWidth {
		lines := []string{tableLine(columns, widths)}
		for _, row := range rows {
			lines = append(lines, tableLine(row, widths))
		}
		return "```\n" + strings.Join(lines, "\n") + "\n```"
	}

	lines := make([]string, 0, len(rows))
	for _, row := range rows {
		if len(row) == 0 {
			continue
		}
		var values []string
		for i := 1; i < len(row) && i < len(columns); i++ {
			if row[i] != "" {
				values = append(values, columns[i]+": "+row[i])
			}
		}
		line := emphasize("*", row[0])
		if len(values) > 0 {
			line += " · " + strings.Join(values, ", ")
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// tableLine pads each cell to its column's width. The last column is not
// padded, so lines carry no trailing spaces.
func tableLine(cells []string, widths []int) string {
	var b strings.Builder
	for i, w := range widths {
		cell := ""
		if i < len(cells) {
			cell = cells[i]
		}
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(cell)
		if i < len(widths)-1 {
			b.WriteString(strings.Repeat(" ", w-utf8.RuneCountInString(cell)))
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// cardBlock renders a card as WhatsApp text, leaving out text that the
// reply already contains. It returns "" for a card with nothing to add, and for
// a products card of several products, which goes out as a list message.
func cardBlock(card salesagent.Card, replyText string, f *formatter) string {
	var lines []string
	addText := func(text string) {
		if text = strings.TrimSpace(text); text != "" && !strings.Contains(replyText, text) {
			lines = append(lines, text)
		}
	}

	switch card.Type {
	case salesagent.CardSizeGuide:
		if card.Table == nil {
			return ""
		}
		lines = append(lines, emphasize("*", firstNonEmpty(card.Title, "Size guide")), renderTable(card.Table.Columns, card.Table.Rows))
		notes := len(lines)
		addText(card.Table.Notes)
		addText(card.Text)
		if len(lines) > notes {
			// A blank line sets the notes apart from the table.
			lines[notes] = "\n" + lines[notes]
		}
	case salesagent.CardProducts:
		if len(card.Products) != 1 {
			return ""
		}
		p := card.Products[0]
		line := emphasize("*", p.Title) + " · " + p.Price + " · " + stockLabel(p.InStock)
		lines = append(lines, line)
		if p.URL != "" {
			lines = append(lines, f.absolute(p.URL))
		}
	case salesagent.CardHandoff:
		addText(card.Text)
	default:
		if card.Title != "" {
			lines = append(lines, emphasize("*", card.Title))
		}
		addText(card.Text)
		for _, field := range card.Fields {
			if field.Value != "" {
				lines = append(lines, field.Label+": "+field.Value)
			}
		}
		if card.URL != "" && !strings.Contains(replyText, card.URL) {
			lines = append(lines, f.absolute(card.URL))
		}
		if len(lines) == 1 && card.Title != "" {
			// A title alone adds nothing to the reply.
			return ""
		}
	}
	return strings.Join(lines, "\n")
}

func stockLabel(inStock bool) string {
	if inStock {
		return "in stock"
	}
	return "sold out"
}
