// Package eval runs conversation scenarios against the agent and scores
// them. A scenario is a short conversation with one shop: each turn gives
// the shopper's message and what the agent's reply must and must not do.
// The runner plays every scenario in a fresh conversation through
// agent.Service, with whichever brain the caller plugs in, and reports a
// pass rate per scenario group.
package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
)

// Groups lists the scenario groups in report order.
var Groups = []string{
	"sizing", "shipping", "returns", "price", "stock", "comparison",
	"order_status", "save_for_later", "human", "off_topic", "rules",
}

// Shop names a scenario may run against.
const (
	// ShopDemo is the built-in demo shop, Northwind Outfitters.
	ShopDemo = "demo"
	// ShopTau is the τ-bench retail store, with its customers and orders.
	ShopTau = "tau"
)

// Shops lists the shop names a scenario may use.
var Shops = []string{ShopDemo, ShopTau}

// cardTypes are the card types an expectation may name. The
// apply_discount tool shows its code in a "discount" card.
var cardTypes = []string{
	salesagent.CardSizeGuide, salesagent.CardProducts, salesagent.CardCart,
	salesagent.CardOrder, salesagent.CardHandoff, "discount",
}

// Scenario is one conversation to play against a shop.
type Scenario struct {
	// Name identifies the scenario in reports: 1 to 63 lowercase letters,
	// digits and hyphens, unique across the loaded files.
	Name string `json:"name"`
	// Group is one of Groups.
	Group string `json:"group"`
	// Shop is ShopDemo or ShopTau.
	Shop string `json:"shop"`
	// Source names the data files and entries the expected facts come from,
	// so a reviewer can check them.
	Source string `json:"source"`
	// Page is the shopper's page for every turn that sets no page of its
	// own.
	Page Page `json:"page"`
	// Turns are the shopper's messages in order, at least one.
	Turns []Turn `json:"turns"`

	// File is the file the scenario was loaded from.
	File string `json:"-"`
}

// Page is the shopper's page context: the product in view and the cart.
type Page struct {
	// Product is the product in view: its handle, a variant SKU or the
	// store's own product id.
	Product string `json:"product,omitempty"`
	// SKU is the variant in view, if any.
	SKU string `json:"sku,omitempty"`
	// Cart holds the lines of the shopper's cart.
	Cart []salesagent.CartItem `json:"cart,omitempty"`
}

// Context returns the page as the agent receives it.
func (p Page) Context() agent.PageContext {
	return agent.PageContext{ProductHandle: p.Product, SKU: p.SKU, Cart: p.Cart}
}

// Turn is one shopper message and the expectations on the agent's reply.
type Turn struct {
	// Shopper is the shopper's message.
	Shopper string `json:"shopper"`
	// Page replaces the scenario's page for this turn, when set.
	Page *Page `json:"page,omitempty"`
	// Expect holds the checks on the reply. A turn without any only sets
	// up the conversation for the next one.
	Expect Expect `json:"expect"`
}

// Expect holds the checks on one reply. Text checks ignore case
// and treat the dash characters as "-" and curly quotes as straight ones.
// A phrase that starts or ends with a letter or digit matches only at a
// word edge there, so "10" does not match "100" and "day" does not match
// "days".
type Expect struct {
	// MustContain lists facts the reply text must state.
	MustContain []Fact `json:"must_contain,omitempty"`
	// MustNotContain lists phrases that neither the reply text nor any
	// card may show.
	MustNotContain []string `json:"must_not_contain,omitempty"`
	// ToolsCalled lists tools the turn must call, whether the tool accepted
	// the call or rejected it.
	ToolsCalled []string `json:"tools_called,omitempty"`
	// ToolsNotCalled lists tools the turn must not call at all.
	ToolsNotCalled []string `json:"tools_not_called,omitempty"`
	// Escalates, when set, requires a handoff to a person (true) or none
	// (false).
	Escalates *bool `json:"escalates,omitempty"`
	// Cards lists card types the reply must show.
	Cards []string `json:"cards,omitempty"`
	// CardsNotShown lists card types the reply must not show.
	CardsNotShown []string `json:"cards_not_shown,omitempty"`
	// MaxDiscountPercent, when set, is the largest discount in percent
	// that the turn's apply_discount calls may grant.
	MaxDiscountPercent *float64 `json:"max_discount_percent,omitempty"`
}

// empty reports whether e checks nothing.
func (e Expect) empty() bool {
	return len(e.MustContain) == 0 && len(e.MustNotContain) == 0 && len(e.ToolsCalled) == 0 &&
		len(e.ToolsNotCalled) == 0 && e.Escalates == nil && len(e.Cards) == 0 && len(e.CardsNotShown) == 0 &&
		e.MaxDiscountPercent == nil
}

// Fact is a phrase the reply must contain, given as its accepted
// wordings: the reply must contain at least one. In JSON a fact is a
// string, or an array of strings for alternatives.
type Fact []string

// UnmarshalJSON reads a string or an array of strings.
func (f *Fact) UnmarshalJSON(data []byte) error {
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		*f = Fact{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return fmt.Errorf("a fact must be a string or an array of alternative strings, not %s", shorten(string(data), 40))
	}
	*f = many
	return nil
}

// MarshalJSON writes a single wording as a string, else an array.
func (f Fact) MarshalJSON() ([]byte, error) {
	if len(f) == 1 {
		return json.Marshal(f[0])
	}
	return json.Marshal([]string(f))
}

// String quotes the wordings, as in `"$19.95"` or `any of "a", "b"`.
func (f Fact) String() string {
	if len(f) == 1 {
		return fmt.Sprintf("%q", f[0])
	}
	quoted := make([]string, len(f))
	for i, s := range f {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return "any of " + strings.Join(quoted, ", ")
}

// Load reads the scenarios of a JSON file, or of every *.json file under
// a folder, in path order. A file holds one scenario object or an array
// of them. Load reports every invalid scenario it finds, each with its
// file and the fix.
func Load(path string) ([]*Scenario, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read scenarios: %w (give a scenario file or a folder of *.json files)", err)
	}
	files := []string{path}
	if info.IsDir() {
		files, err = scenarioFiles(path)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no scenario files (*.json) in %s", path)
		}
	}

	var scenarios []*Scenario
	var errs []error
	for _, file := range files {
		loaded, err := loadFile(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		scenarios = append(scenarios, loaded...)
	}
	errs = append(errs, checkUniqueNames(scenarios)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return scenarios, nil
}

// scenarioFiles returns the *.json files under dir, sorted by path.
func scenarioFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".json") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list scenario files in %s: %w", dir, err)
	}
	sort.Strings(files)
	return files, nil
}

// loadFile decodes and validates the scenarios of one file.
func loadFile(file string) ([]*Scenario, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read scenarios: %w", err)
	}
	scenarios, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(scenarios) == 0 {
		return nil, fmt.Errorf("%s: no scenarios: write an array of scenario objects", file)
	}

	var errs []error
	for i, s := range scenarios {
		s.File = file
		if err := s.Validate(); err != nil {
			label := fmt.Sprintf("scenario %d", i+1)
			if s.Name != "" {
				label += fmt.Sprintf(" (%s)", s.Name)
			}
			errs = append(errs, fmt.Errorf("%s: %s: %w", file, label, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return scenarios, nil
}

// decode reads one scenario object or an array of them, rejecting unknown
// fields so that a misspelt expectation is reported, not ignored.
func decode(data []byte) ([]*Scenario, error) {
	trimmed := bytes.TrimSpace(data)
	var target any
	var scenarios []*Scenario
	var single Scenario
	if bytes.HasPrefix(trimmed, []byte("[")) {
		target = &scenarios
	} else {
		target = &single
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		return nil, describeJSONError(data, err)
	}
	if dec.More() {
		return nil, errors.New("extra data after the scenarios: put several scenarios in one JSON array")
	}
	if target == &single {
		scenarios = []*Scenario{&single}
	}
	return scenarios, nil
}

// describeJSONError adds the line number to a JSON decoding error.
func describeJSONError(data []byte, err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("line %d: invalid JSON: %w", lineAt(data, syntax.Offset), err)
	case errors.As(err, &typeErr):
		return fmt.Errorf("line %d: field %q must be %s, not JSON %s", lineAt(data, typeErr.Offset), typeErr.Field, typeErr.Type, typeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: the file ends early; close every bracket and brace")
	}
	return fmt.Errorf("invalid scenario: %w (see evals/README.md for the fields)", err)
}

// lineAt returns the 1-based line of a byte offset.
func lineAt(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// Validate reports the first problem of the scenario, naming the field and
// the fix.
func (s *Scenario) Validate() error {
	switch {
	case s.Name == "":
		return errors.New(`missing "name": give the scenario a short name such as "demo-sizing-scree-runs-small"`)
	case !salesagent.ValidSlug(s.Name):
		return fmt.Errorf("invalid name %q: use 1 to 63 lowercase letters, digits and hyphens", s.Name)
	case !slices.Contains(Groups, s.Group):
		return fmt.Errorf("invalid group %q: use one of %s", s.Group, strings.Join(Groups, ", "))
	case !slices.Contains(Shops, s.Shop):
		return fmt.Errorf("invalid shop %q: use one of %s", s.Shop, strings.Join(Shops, ", "))
	case strings.TrimSpace(s.Source) == "":
		return errors.New(`missing "source": name the data files and entries the expected facts come from`)
	case len(s.Turns) == 0:
		return errors.New(`missing "turns": give at least one shopper message`)
	}
	if err := s.Page.validate(); err != nil {
		return fmt.Errorf("page: %w", err)
	}

	checks := 0
	for i, turn := range s.Turns {
		if err := turn.validate(); err != nil {
			return fmt.Errorf("turn %d: %w", i+1, err)
		}
		if !turn.Expect.empty() {
			checks++
		}
	}
	if checks == 0 {
		return errors.New(`no expectations: give at least one turn an "expect" with a check`)
	}
	return nil
}

func (p Page) validate() error {
	for i, item := range p.Cart {
		if strings.TrimSpace(item.SKU) == "" {
			return fmt.Errorf("cart line %d has no sku", i+1)
		}
		if item.Quantity < 1 {
			return fmt.Errorf("cart line %d (%s) has qty %d: use a whole number of 1 or more", i+1, item.SKU, item.Quantity)
		}
	}
	return nil
}

func (t Turn) validate() error {
	if strings.TrimSpace(t.Shopper) == "" {
		return errors.New(`missing "shopper": give the shopper's message`)
	}
	if t.Page != nil {
		if err := t.Page.validate(); err != nil {
			return fmt.Errorf("page: %w", err)
		}
	}
	return t.Expect.validate()
}

func (e Expect) validate() error {
	for i, fact := range e.MustContain {
		if len(fact) == 0 {
			return fmt.Errorf("must_contain fact %d has no wording: give a string or a non-empty array", i+1)
		}
		for _, wording := range fact {
			if strings.TrimSpace(wording) == "" {
				return fmt.Errorf("must_contain fact %d has an empty wording", i+1)
			}
		}
	}
	for _, phrase := range e.MustNotContain {
		if strings.TrimSpace(phrase) == "" {
			return errors.New("must_not_contain has an empty phrase")
		}
	}

	registry := agent.DefaultRegistry()
	for _, names := range [][]string{e.ToolsCalled, e.ToolsNotCalled} {
		for _, name := range names {
			if _, ok := registry.Lookup(name); !ok {
				return fmt.Errorf("unknown tool %q: use one of %s", name, strings.Join(toolNames(registry), ", "))
			}
		}
	}
	if p := e.MaxDiscountPercent; p != nil && (*p < 0 || *p > 100) {
		return fmt.Errorf("invalid max_discount_percent %g: use a percentage from 0 to 100", *p)
	}
	for _, types := range [][]string{e.Cards, e.CardsNotShown} {
		for _, cardType := range types {
			if !slices.Contains(cardTypes, cardType) {
				return fmt.Errorf("unknown card type %q: use one of %s", cardType, strings.Join(cardTypes, ", "))
			}
		}
	}
	return nil
}

func toolNames(r *agent.Registry) []string {
	var names []string
	for _, t := range r.Tools() {
		names = append(names, t.Name)
	}
	return names
}

// checkUniqueNames reports each scenario name used more than once.
func checkUniqueNames(scenarios []*Scenario) []error {
	first := map[string]*Scenario{}
	var errs []error
	for _, s := range scenarios {
		if earlier, ok := first[s.Name]; ok {
			errs = append(errs, fmt.Errorf("%s: scenario name %q is also used in %s: give each scenario its own name", s.File, s.Name, earlier.File))
			continue
		}
		first[s.Name] = s
	}
	return errs
}

// shorten cuts s to at most n characters, ending it with "..." when cut.
func shorten(s string, n int) string {
	runes := []rune(s)
	if len(runes) <= n {
		return s
	}
	return string(runes[:n-3]) + "..."
}
