// Package prompts renders the language model's prompts from text/template
// files. The templates are embedded in the binary, and an operator can
// replace any of them with a file of the same name in a directory of their
// own.
package prompts

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// systemTemplate is the template that renders the system prompt. It
// includes context.tmpl, which renders the turn's sources and page.
const systemTemplate = "system.tmpl"

// Set is a parsed set of prompt templates, safe for concurrent use.
type Set struct {
	tmpl *template.Template
}

// System is the data of the system prompt.
type System struct {
	Shop Shop
	// Policies are one-line rules of the shop, such as its discount limit.
	Policies []string
	Tools    []Tool
	// Sources are the facts the reply may state, each with the marker the
	// model cites it by.
	Sources []Source
	// Profile summarises what is known about the shopper, or is empty.
	Profile string
	Page    Page
}

// Shop describes the shop the agent speaks for.
type Shop struct {
	Name string
	// Tone is the shop's description of the agent's voice, in its own words.
	Tone         string
	Currency     string
	SupportHours string
}

// Tool names a tool the model may call and what it is for.
type Tool struct {
	Name        string
	Description string
}

// Source is one retrieved fact, cited in replies as [ID].
type Source struct {
	// ID is the marker without brackets, as in "S1".
	ID    string
	Kind  string
	Title string
	Text  string
}

// Page is the shopper's page: its address, product in view and cart.
type Page struct {
	URL string
	// Product names the product in view and the source that describes it.
	Product string
	Cart    []CartLine
}

// CartLine is one line of the shopper's cart.
type CartLine struct {
	SKU      string
	Title    string
	Quantity int
}

// Default returns the embedded templates. It panics when they do not
// parse, which the package's tests rule out.
func Default() *Set {
	return &Set{tmpl: template.Must(parse())}
}

func parse() (*template.Template, error) {
	return template.New(systemTemplate).Option("missingkey=error").ParseFS(files, "*.tmpl")
}

// Load returns the embedded templates with those of dir in their place: a
// file dir/system.tmpl replaces the embedded system.tmpl, and so on. dir
// must hold at least one .tmpl file. Load renders every template with
// sample data, so a template that names an unknown field fails here and
// not on a shopper's turn.
func Load(dir string) (*Set, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("load prompt templates: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("load prompt templates: %s is not a directory; give the directory that holds the .tmpl files", dir)
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*.tmpl"))
	if err != nil {
		return nil, fmt.Errorf("load prompt templates from %s: %w", dir, err)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("load prompt templates: %s has no .tmpl files; copy system.tmpl or context.tmpl from the prompts package and edit it", dir)
	}

	tmpl, err := parse()
	if err != nil {
		return nil, fmt.Errorf("parse embedded prompt templates: %w", err)
	}
	if tmpl, err = tmpl.ParseFiles(matches...); err != nil {
		return nil, fmt.Errorf("parse prompt templates in %s: %w", dir, err)
	}
	set := &Set{tmpl: tmpl}
	if _, err := set.System(Sample()); err != nil {
		return nil, fmt.Errorf("check prompt templates in %s: %w", dir, err)
	}
	return set, nil
}

// System renders the system prompt.
func (s *Set) System(data System) (string, error) {
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, systemTemplate, data); err != nil {
		return "", fmt.Errorf("render system prompt: %w", err)
	}
	return b.String(), nil
}

// Sample returns system prompt data with every field set, for checking
// templates and for golden-file tests.
func Sample() System {
	return System{
		Shop: Shop{
			Name: "Northwind Outfitters", Tone: "Friendly and brief, like a knowledgeable shop assistant.",
			Currency: "USD", SupportHours: "Monday to Friday, 9:00 to 17:00 CET",
		},
		Policies: []string{
			"Discounts: apply_discount can grant at most 10% once per conversation.",
			"Orders: order_status shows only the shopper's own orders.",
		},
		Tools: []Tool{
			{Name: "escalate_to_human", Description: "Hand the conversation to a person from the shop's team."},
			{Name: "send_size_guide", Description: "Show the size guide table for a product."},
		},
		Sources: []Source{
			{ID: "S1", Kind: "policy", Title: "Returns and exchanges", Text: "You can return unworn items within 30 days of delivery."},
			{ID: "S2", Kind: "product", Title: "Summit Rain Jacket", Text: "Summit Rain Jacket. Variants: SRJ-BLU-S, Blue / S, $89.00, 3 in stock."},
		},
		Profile: "Returning shopper Ann. Preferred size: M.",
		Page: Page{
			URL: "https://shop.example/products/summit-rain-jacket", Product: "Summit Rain Jacket [S2]",
			Cart: []CartLine{{SKU: "MT-M", Title: "Merino Tee", Quantity: 2}},
		},
	}
}
