package retrieval

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/salesagent/salesagent"
)

// maxChunkChars is the size in bytes that passages are cut to. About 800
// characters is one or two paragraphs, which hold a fact with its context
// but little unrelated text to dilute a match.
const maxChunkChars = 800

// chunk is one passage to store and embed, before it has an id.
type chunk struct {
	ProductID   int64
	DocumentID  int64
	Kind        string
	Heading     string
	Content     string
	ProductType string
	SKU         string
	Position    int
	Hash        string
}

// embedText joins the heading, which names the product or section, and the
// passage into the text to embed.
func embedText(heading, content string) string {
	return heading + "\n" + content
}

// contentHash identifies a chunk's stored text, so unchanged chunks are
// left alone and stale embeddings are found by comparing hashes.
func contentHash(c chunk) string {
	h := sha256.New()
	for _, field := range []string{c.Kind, c.Heading, c.Content, c.ProductType, c.SKU} {
		h.Write([]byte(field))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// productChunks cuts a product into passages. The first is a summary that
// names the type, vendor, tags, the start of the description, attributes,
// option values, the price range and what is in stock. The rest of a long
// description follows in further chunks under the same heading. Prices are
// formatted in currency.
func productChunks(p *salesagent.Product, currency string) []chunk {
	var lines []string
	if line := typeAndVendor(p); line != "" {
		lines = append(lines, line)
	}
	if len(p.Tags) > 0 {
		lines = append(lines, "Tags: "+strings.Join(p.Tags, ", ")+".")
	}
	description := splitText(p.Description, maxChunkChars)
	if len(description) > 0 {
		lines = append(lines, description[0])
	}
	lines = append(lines, attributeLines(p.Attributes)...)
	lines = append(lines, optionLines(p.Variants)...)
	if line := priceLine(p.Variants, currency); line != "" {
		lines = append(lines, line)
	}
	if line := stockLine(p.Variants); line != "" {
		lines = append(lines, line)
	}

	sku := ""
	if len(p.Variants) == 1 {
		sku = p.Variants[0].SKU
	}
	chunks := []chunk{{Content: strings.Join(lines, "\n")}}
	for _, piece := range description[min(1, len(description)):] {
		chunks = append(chunks, chunk{Content: piece})
	}
	for i := range chunks {
		c := &chunks[i]
		c.ProductID, c.Kind, c.Heading, c.ProductType, c.SKU, c.Position =
			p.ID, salesagent.KindProduct, p.Title, p.ProductType, sku, i
		c.Hash = contentHash(*c)
	}
	return chunks
}

func typeAndVendor(p *salesagent.Product) string {
	switch {
	case p.ProductType != "" && p.Vendor != "":
		return fmt.Sprintf("%s by %s.", p.ProductType, p.Vendor)
	case p.ProductType != "":
		return p.ProductType + "."
	case p.Vendor != "":
		return "By " + p.Vendor + "."
	}
	return ""
}

// attributeLines writes one "Name: value" line per attribute, sorted by
// name so the text, and with it the hash, is stable.
func attributeLines(attrs map[string]string) []string {
	names := make([]string, 0, len(attrs))
	for name, value := range attrs {
		if strings.TrimSpace(value) != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	lines := make([]string, len(names))
	for i, name := range names {
		lines[i] = name + ": " + strings.TrimSpace(attrs[name])
	}
	return lines
}

// optionValues lists each option's distinct values in the order they first
// appear, keeping only variants for which keep returns true.
func optionValues(variants []salesagent.Variant, keep func(salesagent.Variant) bool) (names []string, values map[string][]string) {
	values = map[string][]string{}
	seen := map[string]bool{}
	for _, v := range variants {
		if !keep(v) {
			continue
		}
		for _, o := range v.Options {
			if o.Name == "" || o.Value == "" {
				continue
			}
			if _, ok := values[o.Name]; !ok {
				names = append(names, o.Name)
				values[o.Name] = nil
			}
			key := o.Name + "\x00" + o.Value
			if !seen[key] {
				seen[key] = true
				values[o.Name] = append(values[o.Name], o.Value)
			}
		}
	}
	return names, values
}

func optionLines(variants []salesagent.Variant) []string {
	names, values := optionValues(variants, func(salesagent.Variant) bool { return true })
	lines := make([]string, len(names))
	for i, name := range names {
		lines[i] = name + ": " + strings.Join(values[name], ", ")
	}
	return lines
}

// priceLine gives the price or price range, and the highest compare-at
// price when a variant is on sale.
func priceLine(variants []salesagent.Variant, currency string) string {
	if len(variants) == 0 {
		return ""
	}
	low, high := variants[0].Price, variants[0].Price
	var was salesagent.Money
	for _, v := range variants {
		low, high = min(low, v.Price), max(high, v.Price)
		if v.CompareAtPrice != nil && *v.CompareAtPrice > v.Price {
			was = max(was, *v.CompareAtPrice)
		}
	}
	line := "Price: " + low.Format(currency)
	if high != low {
		line += " to " + high.Format(currency)
	}
	if was > 0 {
		line += ", on sale (was " + was.Format(currency) + ")"
	}
	return line + "."
}

// stockLine lists the sizes and colours that can be bought now. Stock counts
// stay out of the text, so the chunk changes only when a size or colour
// sells out or comes back.
func stockLine(variants []salesagent.Variant) string {
	if len(variants) == 0 {
		return ""
	}
	names, values := optionValues(variants, salesagent.Variant.InStock)
	inStock := false
	for _, v := range variants {
		inStock = inStock || v.InStock()
	}
	if !inStock {
		return "Out of stock."
	}
	var parts []string
	for _, name := range names {
		if isSizeOrColour(name) {
			parts = append(parts, name+" "+strings.Join(values[name], ", "))
		}
	}
	if len(parts) == 0 {
		return "In stock."
	}
	return "In stock: " + strings.Join(parts, "; ") + "."
}

func isSizeOrColour(option string) bool {
	switch strings.ToLower(option) {
	case "size", "colour", "color":
		return true
	}
	return false
}

// documentChunks cuts a document into passages of about maxChunkChars. A
// body with Markdown headings is cut at them first: each section's chunks
// carry the section heading and start with the document title. Size guides
// get a lead line saying what they are and their table as one line per row.
func documentChunks(d *salesagent.Document) []chunk {
	var chunks []chunk
	for _, s := range sections(documentText(d)) {
		heading, prefix := d.Title, ""
		if s.heading != "" {
			heading, prefix = s.heading, d.Title+"\n"
		}
		for _, piece := range splitText(s.text, max(maxChunkChars-len(prefix), maxChunkChars/2)) {
			chunks = append(chunks, chunk{Heading: heading, Content: prefix + piece})
		}
	}
	for i := range chunks {
		c := &chunks[i]
		c.DocumentID, c.Kind, c.ProductType, c.Position = d.ID, d.Kind, d.ProductType, i
		c.Hash = contentHash(*c)
	}
	return chunks
}

// documentText is the document's body, with a size guide's lead line and
// table added.
func documentText(d *salesagent.Document) string {
	if d.Kind != salesagent.KindSizeGuide {
		return d.Body
	}
	subject := d.ProductType
	if subject == "" {
		subject = d.Title
	}
	parts := []string{fmt.Sprintf("Size chart for %s: measurements for each size, to choose the right size and fit.", subject)}
	if body := strings.TrimSpace(d.Body); body != "" {
		parts = append(parts, body)
	}
	if d.Table != nil {
		if rows := tableLines(d.Table); len(rows) > 0 {
			parts = append(parts, strings.Join(rows, "\n"))
		}
		if d.Table.Notes != "" {
			parts = append(parts, "Notes: "+d.Table.Notes)
		}
	}
	return strings.Join(parts, "\n\n")
}

// tableLines writes each row as "Size M: Chest (cm) 96-101; Waist (cm)
// 81-86", naming the first column and labelling the rest.
func tableLines(t *salesagent.Table) []string {
	lines := make([]string, 0, len(t.Rows))
	for _, row := range t.Rows {
		if len(row) == 0 {
			continue
		}
		first := row[0]
		if len(t.Columns) > 0 && t.Columns[0] != "" {
			first = t.Columns[0] + " " + row[0]
		}
		var cells []string
		for j := 1; j < len(row); j++ {
			label := ""
			if j < len(t.Columns) {
				label = t.Columns[j] + " "
			}
			cells = append(cells, label+row[j])
		}
		line := first
		if len(cells) > 0 {
			line += ": " + strings.Join(cells, "; ")
		}
		lines = append(lines, line)
	}
	return lines
}

type section struct {
	heading string
	text    string
}

// sections splits Markdown text at lines starting with '#'. Text before
// the first heading forms a section without a heading.
func sections(text string) []section {
	var out []section
	current := section{}
	var body []string
	flush := func() {
		current.text = strings.TrimSpace(strings.Join(body, "\n"))
		if current.text != "" {
			out = append(out, current)
		}
		body = body[:0]
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			flush()
			current = section{heading: strings.TrimSpace(strings.TrimLeft(trimmed, "#"))}
			continue
		}
		body = append(body, line)
	}
	flush()
	return out
}

// splitText cuts text into pieces of at most limit bytes, at paragraph
// breaks where it can, then at line breaks, sentence ends and finally
// spaces. Runs of spaces are collapsed and blank paragraphs dropped.
func splitText(text string, limit int) []string {
	var units []string
	for _, para := range paragraphs(text) {
		units = append(units, splitLong(para, limit, 0)...)
	}

	var pieces []string
	current := ""
	for _, u := range units {
		switch {
		case current == "":
			current = u
		case len(current)+2+len(u) <= limit:
			current += "\n\n" + u
		default:
			pieces = append(pieces, current)
			current = u
		}
	}
	if current != "" {
		pieces = append(pieces, current)
	}
	return pieces
}

// paragraphs splits text at blank lines and tidies each paragraph's lines.
func paragraphs(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var out []string
	for _, block := range strings.Split(text, "\n\n") {
		var lines []string
		for _, line := range strings.Split(block, "\n") {
			if line = strings.Join(strings.Fields(line), " "); line != "" {
				lines = append(lines, line)
			}
		}
		if len(lines) > 0 {
			out = append(out, strings.Join(lines, "\n"))
		}
	}
	return out
}

// separators are tried in order to cut a text longer than the limit.
var separators = []string{"\n", ". ", "? ", "! ", "; ", ", ", " "}

// splitLong cuts s into pieces of at most limit bytes at the first
// separator, from level on, that occurs in it. A word longer than limit is
// cut at limit.
func splitLong(s string, limit, level int) []string {
	if len(s) <= limit {
		return []string{s}
	}
	for ; level < len(separators); level++ {
		sep := separators[level]
		parts := strings.SplitAfter(s, sep)
		if len(parts) < 2 {
			continue
		}
		var pieces []string
		current := ""
		for _, part := range parts {
			if len(current)+len(part) > limit && current != "" {
				pieces = append(pieces, strings.TrimSpace(current))
				current = ""
			}
			current += part
		}
		pieces = append(pieces, strings.TrimSpace(current))

		var out []string
		for _, p := range pieces {
			if p != "" {
				out = append(out, splitLong(p, limit, level+1)...)
			}
		}
		return out
	}
	return cutBytes(s, limit)
}

// cutBytes cuts s every limit bytes, moving each cut back to a rune start.
func cutBytes(s string, limit int) []string {
	var out []string
	for len(s) > limit {
		cut := limit
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		if cut == 0 {
			cut = limit
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}
