package web

import "strings"

// descriptionBlock is a paragraph or a bulleted list of a product
// description. Exactly one of Lines and Items is set.
type descriptionBlock struct {
	// Lines are a paragraph's lines, shown with line breaks between them.
	Lines []string
	// Items are the entries of a bulleted list.
	Items []string
}

// descriptionBlocks splits a stored product description into paragraphs
// and lists. Ingest stores descriptions as plain text in which a blank line
// separates paragraphs and a line starting with "- " is a list item, so a
// run of such lines becomes one list. The blocks are plain text for
// html/template to escape.
func descriptionBlocks(text string) []descriptionBlock {
	var blocks []descriptionBlock
	var current descriptionBlock
	flush := func() {
		if len(current.Lines) > 0 || len(current.Items) > 0 {
			blocks = append(blocks, current)
		}
		current = descriptionBlock{}
	}

	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		item, isItem := strings.CutPrefix(line, "- ")
		if line == "-" {
			// An empty list item, as an empty <li> becomes.
			item, isItem = "", true
		}
		switch {
		case line == "":
			flush()
		case isItem:
			if len(current.Lines) > 0 {
				flush()
			}
			if item = strings.TrimSpace(item); item != "" {
				current.Items = append(current.Items, item)
			}
		default:
			if len(current.Items) > 0 {
				flush()
			}
			current.Lines = append(current.Lines, line)
		}
	}
	flush()
	return blocks
}
