package whatsapp

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/salesagent/salesagent"
)

func TestMarkdownToWhatsApp(t *testing.T) {
	cases := map[string]struct {
		in   string
		want string
	}{
		"bold":             {"The **Summit** jacket", "The *Summit* jacket"},
		"bold underscores": {"The __Summit__ jacket", "The *Summit* jacket"},
		"italic":           {"It *runs small* so size up", "It _runs small_ so size up"},
		"nested":           {"***Very*** light", "_*Very*_ light"},
		"strikethrough":    {"~~$139~~ $119", "~$139~ $119"},
		"code":             {"Use code `WELCOME10`", "Use code `WELCOME10`"},
		"link":             {"See [our returns policy](https://shop.example.com/returns).", "See our returns policy (https://shop.example.com/returns)."},
		"relative link":    {"[Restore your cart](/shop/demo/cart/abc)", "Restore your cart (https://chat.example.com/shop/demo/cart/abc)"},
		"bare link":        {"Go to https://shop.example.com now", "Go to https://shop.example.com now"},
		"link as label":    {"[https://a.example](https://a.example)", "https://a.example"},
		"heading":          {"## Care **tips**", "*Care tips*"},
		"bullets":          {"* one\n* two", "- one\n- two"},
		"marker change":    {"- one\n+ two", "- one\n\n- two"},
		"numbers":          {"3. three\n4. four", "3. three\n4. four"},
		"nested list":      {"- outer\n  - inner\n- next", "- outer\n  - inner\n- next"},
		"quote":            {"> Fits true to size.", "> Fits true to size."},
		"escape":           {`2 \* 3 \_x\_ &amp; more`, "2 * 3 _x_ & more"},
		"line break":       {"line one\nline two", "line one\nline two"},
		"space in bold":    {"** padded **", "** padded **"},
		"fence":            {"```\nS | 86\n```", "```\nS | 86\n```"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := strings.Join(markdownBlocks(tc.in, "https://chat.example.com/"), "\n\n")
			if got != tc.want {
				t.Errorf("markdownBlocks(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestMarkdownBlocksSplitParagraphs(t *testing.T) {
	blocks := markdownBlocks("First paragraph.\n\n- a\n- b\n\nLast one.", "")
	want := []string{"First paragraph.", "- a\n- b", "Last one."}
	if strings.Join(blocks, "|") != strings.Join(want, "|") {
		t.Errorf("blocks = %q, want %q", blocks, want)
	}
}

func TestPackBlocksSplitsAtSentences(t *testing.T) {
	sentence := "The Summit jacket is waterproof and packs into its own pocket. "
	long := strings.Repeat(sentence, 100)
	messages := packBlocks([]string{"Intro.", long, "Outro."}, maxTextLength)
	if len(messages) < 2 {
		t.Fatalf("got %d messages, want the long text split", len(messages))
	}
	var total strings.Builder
	for i, m := range messages {
		if n := textLength(m); n > maxTextLength {
			t.Errorf("message %d has %d characters, over %d", i, n, maxTextLength)
		}
		if !strings.HasSuffix(m, ".") {
			t.Errorf("message %d ends mid-sentence: %q", i, m[max(0, len(m)-30):])
		}
		total.WriteString(m)
	}
	if got, want := strings.Count(total.String(), "Summit"), 100; got != want {
		t.Errorf("split text has %d sentences, want %d: nothing may be lost", got, want)
	}
	if !strings.HasPrefix(messages[0], "Intro.\n\nThe Summit") || !strings.HasSuffix(messages[len(messages)-1], "Outro.") {
		t.Errorf("blocks out of order or the first message not filled: first %q, last %q",
			messages[0][:min(30, len(messages[0]))], messages[len(messages)-1])
	}
}

func TestPackBlocksWithoutSentences(t *testing.T) {
	word := strings.Repeat("x", 50)
	pieces := packBlocks([]string{strings.TrimSpace(strings.Repeat(word+" ", 200))}, 4096)
	if len(pieces) != 3 {
		t.Errorf("got %d pieces, want 3", len(pieces))
	}
	for _, p := range pieces {
		if textLength(p) > 4096 || strings.HasPrefix(p, " ") || strings.Count(p, word) != len(p)/51+1 {
			t.Errorf("piece of %d characters is not cut between words", textLength(p))
		}
	}
	emoji := strings.Repeat("👍", 3000)
	pieces = packBlocks([]string{emoji}, 4096)
	for _, p := range pieces {
		if textLength(p) > 4096 || !utf8.ValidString(p) {
			t.Errorf("emoji piece of %d UTF-16 units, valid %v", textLength(p), utf8.ValidString(p))
		}
	}
	if strings.Join(pieces, "") != emoji {
		t.Errorf("emoji lost in the split")
	}
}

func TestRenderTableNarrowIsMonospaced(t *testing.T) {
	got := renderTable([]string{"Size", "Chest (cm)"}, [][]string{{"S", "86-93"}, {"XL", "110-117"}})
	want := "```\nSize | Chest (cm)\nS    | 86-93\nXL   | 110-117\n```"
	if got != want {
		t.Errorf("renderTable = %q, want %q", got, want)
	}
}

func TestRenderTableWideIsLines(t *testing.T) {
	columns := []string{"Size", "Chest (in)", "Chest (cm)", "Waist (in)", "Sleeve (in)"}
	got := renderTable(columns, [][]string{{"M", "38–40", "97–102", "32–34", "34"}})
	want := "*M* · Chest (in): 38–40, Chest (cm): 97–102, Waist (in): 32–34, Sleeve (in): 34"
	if got != want {
		t.Errorf("renderTable = %q, want %q", got, want)
	}
}

func TestComposeButtonsAndList(t *testing.T) {
	jacket := &salesagent.Product{Handle: "summit-jacket", Title: "Summit Jacket", Variants: []salesagent.Variant{
		{Options: []salesagent.Option{{Name: "Size", Value: "M"}}},
	}}
	reply := salesagent.Message{Body: "The **Summit Jacket** is in stock.", Citations: []salesagent.Citation{{Kind: "product", ProductID: 1}}}
	msgs := compose(replyPlan{to: "15550001111", reply: reply, focus: jacket})
	if len(msgs) != 1 || msgs[0].Interactive == nil {
		t.Fatalf("compose = %+v, want one button message", msgs)
	}
	buttons := msgs[0].Interactive.Action.Buttons
	if len(buttons) != 2 || buttons[0].Reply.ID != "size_guide:summit-jacket" || buttons[1].Reply.ID != intentPerson {
		t.Errorf("buttons = %+v, want a size guide and a person", buttons)
	}
	if msgs[0].Interactive.Body.Text != "The *Summit Jacket* is in stock." {
		t.Errorf("body = %q, want WhatsApp bold", msgs[0].Interactive.Body.Text)
	}

	var tiles []salesagent.ProductTile
	for i := range 14 {
		tiles = append(tiles, salesagent.ProductTile{Handle: "p" + string(rune('a'+i)), Title: "An Exceedingly Long Product Title Number", Price: "$10.00", InStock: i%2 == 0})
	}
	reply = salesagent.Message{Body: "Here are some.", Cards: []salesagent.Card{{Type: salesagent.CardProducts, Products: tiles}}}
	msgs = compose(replyPlan{to: "15550001111", reply: reply, offerPerson: true})
	list := msgs[len(msgs)-1]
	if list.Interactive == nil || list.Interactive.Type != "list" {
		t.Fatalf("last message = %+v, want a list", list)
	}
	if problem := checkInteractive(list.Interactive); problem != "" {
		t.Errorf("list breaks WhatsApp's limits: %s", problem)
	}
	if findRow(list.Interactive, intentPerson) == nil {
		t.Errorf("list has no row for a person")
	}
}

func TestComposeSizeGuideCard(t *testing.T) {
	reply := salesagent.Message{Body: "Here's the size guide.", Cards: []salesagent.Card{{
		Type: salesagent.CardSizeGuide, Title: "Tees size guide",
		Table: &salesagent.Table{Columns: []string{"Size", "Chest (cm)"}, Rows: [][]string{{"S", "88-93"}, {"M", "96-101"}}, Notes: "Between sizes, take the larger one."},
	}}}
	msgs := compose(replyPlan{to: "15550001111", reply: reply})
	if len(msgs) != 1 || msgs[0].Text == nil {
		t.Fatalf("compose = %+v, want one text", msgs)
	}
	want := "Here's the size guide.\n\n*Tees size guide*\n```\nSize | Chest (cm)\nS    | 88-93\nM    | 96-101\n```\n\nBetween sizes, take the larger one."
	if msgs[0].Text.Body != want {
		t.Errorf("body = %q, want %q", msgs[0].Text.Body, want)
	}
}

func TestComposeCartLinkIsAbsolute(t *testing.T) {
	reply := salesagent.Message{
		Body:  "I've saved your cart (2 items). You can restore it any time with this link: /shop/demo/cart/abc",
		Cards: []salesagent.Card{{Type: salesagent.CardCart, Title: "Saved cart", URL: "/shop/demo/cart/abc"}},
	}
	msgs := compose(replyPlan{to: "15550001111", reply: reply, publicURL: "https://chat.example.com"})
	if len(msgs) != 1 || msgs[0].Text == nil {
		t.Fatalf("compose = %+v, want one text", msgs)
	}
	want := "I've saved your cart (2 items). You can restore it any time with this link: https://chat.example.com/shop/demo/cart/abc"
	if msgs[0].Text.Body != want {
		t.Errorf("body = %q, want %q", msgs[0].Text.Body, want)
	}
	if !msgs[0].Text.PreviewURL {
		t.Errorf("a message with a link does not ask for its preview")
	}
	if got := absolutePaths("see https://other.example/shop/demo/cart/abc", "/shop/demo/cart/abc", &formatter{base: "https://chat.example.com"}); got != "see https://other.example/shop/demo/cart/abc" {
		t.Errorf("a path inside a URL was changed: %q", got)
	}
}

func TestClipCountsCharacters(t *testing.T) {
	if got := clip("Harbor High-Pile Fleece Jacket", 24); got != "Harbor High-Pile Fleece…" || utf8.RuneCountInString(got) != 24 {
		t.Errorf("clip = %q", got)
	}
	if got := clip("Short", 24); got != "Short" {
		t.Errorf("clip = %q, want it unchanged", got)
	}
}

func FuzzMarkdownBlocks(f *testing.F) {
	for _, seed := range []string{"**bold** _it_", "- a\n  - b", "[x](/y)", "| a | b |\n|---|---|\n| 1 | 2 |", "```\ncode", "> q\n> r", "***"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, markdown string) {
		blocks := markdownBlocks(markdown, "https://chat.example.com")
		for _, m := range packBlocks(blocks, 200) {
			if textLength(m) > 200 {
				t.Fatalf("message of %d characters over the limit", textLength(m))
			}
			if !utf8.ValidString(m) && utf8.ValidString(markdown) {
				t.Fatalf("invalid UTF-8 from valid input %q", markdown)
			}
		}
	})
}
