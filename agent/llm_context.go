package agent

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/prompts"
	"github.com/salesagent/salesagent/retrieval"
)

// Limits of the context sent to the model.
const (
	// maxSourceRunes cuts each retrieved passage.
	maxSourceRunes = 1500
	// maxDescriptionRunes cuts the description of the product in view.
	maxDescriptionRunes = 800
	// maxVariantLines limits the variants listed for the product in view.
	maxVariantLines = 30
	// maxCartLinesInPrompt limits the cart lines shown to the model.
	maxCartLinesInPrompt = 20
	// messageOverheadTokens is the estimated cost of a message's role and
	// framing.
	messageOverheadTokens = 4
)

// estimateTokens estimates the tokens of s as one per four runes, rounded
// up. It is an estimate: real tokenizers differ by model and language.
func estimateTokens(s string) int {
	return (utf8.RuneCountInString(s) + 3) / 4
}

// source is a fact the model may cite as [ID].
type source struct {
	prompts.Source
	citation salesagent.Citation
}

// buildSources numbers the turn's facts as S1, S2 and so on, until their
// estimated tokens reach budget. The retrieved passages come first, then
// the product passages not among them. The product in view, the products
// the message names and those it may refer back to follow. The first fact
// always goes in.
func buildSources(turn *Turn, budget int) []source {
	var sources []source
	used := 0
	add := func(kind, title, text string, citation salesagent.Citation) bool {
		cost := estimateTokens(title) + estimateTokens(text) + messageOverheadTokens
		if len(sources) > 0 && used+cost > budget {
			return false
		}
		used += cost
		id := fmt.Sprintf("S%d", len(sources)+1)
		sources = append(sources, source{Source: prompts.Source{ID: id, Kind: kind, Title: title, Text: text}, citation: citation})
		return true
	}

	seenChunks := map[int64]bool{}
	for _, hit := range append(append([]retrieval.Hit(nil), turn.Hits...), turn.ProductHits...) {
		if seenChunks[hit.ChunkID] {
			continue
		}
		seenChunks[hit.ChunkID] = true
		title := hit.Source.DocumentTitle
		if title == "" || hit.Kind == salesagent.KindProduct {
			title = hit.Heading
		} else if hit.Heading != "" && hit.Heading != title {
			title += " – " + hit.Heading
		}
		text := strings.Join(strings.Fields(hit.Content), " ")
		add(hit.Kind, title, shorten(text, maxSourceRunes), hit.Citation())
	}
	seenProducts := map[int64]bool{}
	products := append([]*salesagent.Product{turn.Product}, turn.Named...)
	for _, p := range append(products, turn.Earlier...) {
		if p == nil || seenProducts[p.ID] {
			continue
		}
		seenProducts[p.ID] = true
		add(salesagent.KindProduct, p.Title, productFacts(p, turn.Shop.Currency),
			salesagent.Citation{Kind: salesagent.KindProduct, ProductID: p.ID, Title: p.Title})
	}
	return sources
}

// productFacts states a product's type, description and variants with
// their exact prices and stock, as the model may quote them.
func productFacts(p *salesagent.Product, currency string) string {
	var b strings.Builder
	if p.ProductType != "" {
		fmt.Fprintf(&b, "Type: %s. ", p.ProductType)
	}
	if d := strings.Join(strings.Fields(p.Description), " "); d != "" {
		fmt.Fprintf(&b, "Description: %s ", shorten(d, maxDescriptionRunes))
	}
	b.WriteString("Variants:")
	for i, v := range p.Variants {
		if i == maxVariantLines {
			fmt.Fprintf(&b, " and %d more.", len(p.Variants)-i)
			break
		}
		title := v.Title
		if title == "" {
			title = "default"
		}
		fmt.Fprintf(&b, " %s (SKU %s) %s", title, v.SKU, v.Price.Format(currency))
		if v.CompareAtPrice != nil && *v.CompareAtPrice > v.Price {
			fmt.Fprintf(&b, ", was %s", v.CompareAtPrice.Format(currency))
		}
		switch {
		case !v.InStock():
			b.WriteString(", sold out;")
		case v.Stock != nil:
			fmt.Fprintf(&b, ", %d in stock;", *v.Stock)
		default:
			b.WriteString(", in stock;")
		}
	}
	return strings.TrimSuffix(b.String(), ";") + "."
}

// policies states the shop's rules that the tools enforce, so the model
// can explain them.
func policies(shop *salesagent.Shop, policyTitles []string) []string {
	var lines []string
	if max := shop.Settings.MaxDiscountPercent; max > 0 {
		lines = append(lines, fmt.Sprintf("Discounts: apply_discount can grant at most %s%% once per conversation. Offer one only when the shopper asks for a discount.", formatPercent(max)))
	} else {
		lines = append(lines, "Discounts: none can be granted in chat.")
	}
	lines = append(lines,
		"Orders: order_status shows only the shopper's own orders. It needs the order number and, for a shopper not signed in, the email used at checkout.",
		"People: escalate_to_human is always available when the shopper asks for a person or only a person can help.")
	if len(policyTitles) > 0 {
		lines = append(lines, "Policy documents of the shop: "+strings.Join(policyTitles, ", ")+".")
	}
	return lines
}

// profileSummary states what is known about the shopper, without contact
// details.
func profileSummary(c *salesagent.Customer) string {
	if c == nil {
		return ""
	}
	var parts []string
	if c.Name != "" {
		parts = append(parts, "Name: "+c.Name+".")
	}
	p := c.Profile
	if p.PreferredSize != "" {
		parts = append(parts, "Preferred size: "+p.PreferredSize+".")
	}
	if top := topNeeds(p.Needs, 3); len(top) > 0 {
		parts = append(parts, "Often asks about: "+strings.Join(top, ", ")+".")
	}
	if p.Purchases > 0 {
		parts = append(parts, fmt.Sprintf("Purchases: %d.", p.Purchases))
	}
	if p.CartsSaved > 0 {
		parts = append(parts, fmt.Sprintf("Saved carts: %d.", p.CartsSaved))
	}
	return strings.Join(parts, " ")
}

// topNeeds returns the n needs counted most often, ties by name.
func topNeeds(counts map[string]int, n int) []string {
	names := make([]string, 0, len(counts))
	for name := range counts {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	if len(names) > n {
		names = names[:n]
	}
	return names
}

// pageData describes the shopper's page, naming the source of the product
// in view.
func pageData(turn *Turn, sources []source) prompts.Page {
	page := prompts.Page{URL: turn.Page.URL}
	if p := turn.Product; p != nil {
		page.Product = p.Title
		for _, s := range sources {
			if s.citation.Kind == salesagent.KindProduct && s.citation.ProductID == p.ID && s.citation.ChunkID == 0 {
				page.Product += " [" + s.ID + "]"
			}
		}
	}
	for i, item := range turn.Page.Cart {
		if i == maxCartLinesInPrompt {
			break
		}
		line := prompts.CartLine{SKU: item.SKU, Quantity: item.Quantity}
		if p := turn.Product; p != nil {
			for _, v := range p.Variants {
				if v.SKU == item.SKU {
					line.Title = variantLabel(p, v.SKU)
				}
			}
		}
		page.Cart = append(page.Cart, line)
	}
	return page
}

// systemData gathers the system prompt's data for a turn.
func systemData(turn *Turn, tools []*Tool, sources []source, policyTitles []string) prompts.System {
	shop := turn.Shop
	data := prompts.System{
		Shop: prompts.Shop{
			Name: shop.Name, Tone: shop.Settings.Tone, Currency: shop.Currency, SupportHours: shop.Settings.SupportHours,
		},
		Policies: policies(shop, policyTitles),
		Profile:  profileSummary(turn.Customer),
		Page:     pageData(turn, sources),
	}
	for _, t := range tools {
		data.Tools = append(data.Tools, prompts.Tool{Name: t.Name, Description: t.Description})
	}
	for _, s := range sources {
		data.Sources = append(data.Sources, s.Source)
	}
	return data
}

// policyTitlesTTL is how long the titles of a shop's policy documents are
// reused before they are read again. A policy added, renamed or removed by
// an ingest reaches the prompt within this time.
const policyTitlesTTL = time.Minute

// policyTitleCache keeps the titles of each shop's policy documents, which
// every LLM turn lists in its prompt, so that a turn does not read the
// shop's documents again. The zero value is ready to use.
type policyTitleCache struct {
	mu      sync.Mutex
	entries map[int64]policyTitles
}

type policyTitles struct {
	titles []string
	loaded time.Time
}

// get returns the titles of the shop's policy documents, reading them when
// the cached ones are missing or older than policyTitlesTTL. A failed read
// leaves them out of the prompt rather than failing the turn, and is
// tried again on the next turn. Concurrent turns of a shop whose titles
// expired may each read them once.
func (c *policyTitleCache) get(ctx context.Context, db *postgres.DB, shopID int64) []string {
	if db == nil {
		return nil
	}
	now := time.Now()
	c.mu.Lock()
	entry, ok := c.entries[shopID]
	c.mu.Unlock()
	if ok && now.Sub(entry.loaded) < policyTitlesTTL {
		return entry.titles
	}

	docs, err := db.DocumentsByKind(ctx, shopID, salesagent.KindPolicy)
	if err != nil {
		return entry.titles
	}
	titles := make([]string, 0, len(docs))
	for _, d := range docs {
		titles = append(titles, d.Title)
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[int64]policyTitles{}
	}
	c.entries[shopID] = policyTitles{titles: titles, loaded: now}
	c.mu.Unlock()
	return titles
}

// historyMessages converts the turn's history to chat messages, keeping
// the newest that fit in budget estimated tokens. Operator messages go in
// as the assistant's, marked as written by a person; system messages are
// left out.
func historyMessages(history []salesagent.Message, budget int) []openai.ChatCompletionMessage {
	var out []openai.ChatCompletionMessage
	used := 0
	for i := len(history) - 1; i >= 0; i-- {
		m := history[i]
		var msg openai.ChatCompletionMessage
		switch m.Role {
		case salesagent.RoleShopper:
			msg = openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: m.Body}
		case salesagent.RoleAgent:
			msg = openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: m.Body}
		case salesagent.RoleOperator:
			msg = openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: "(A person from the shop's team wrote:) " + m.Body}
		default:
			continue
		}
		cost := estimateTokens(msg.Content) + messageOverheadTokens
		if used+cost > budget {
			break
		}
		used += cost
		out = append(out, msg)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
