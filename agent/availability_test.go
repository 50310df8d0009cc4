package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

// sayFresh runs text as the first message of a new conversation, so that
// no earlier reply makes it a follow-up.
func (b *bundle) sayFresh(t *testing.T, text string) turnResult {
	t.Helper()
	return b.fresh(t).say(t, text, PageContext{})
}

// fresh returns a copy of b with a new conversation of a new visitor.
func (b *bundle) fresh(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	visitor, err := b.db.CreateCustomer(ctx, b.shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := b.db.CreateConversation(ctx, b.shop.ID, salesagent.ChannelWeb, []byte(fmt.Sprintf("fresh-%d", visitor.ID)), &visitor.ID)
	if err != nil {
		t.Fatal(err)
	}
	fresh := *b
	fresh.conv = conv
	return &fresh
}

// toolsCalled returns the names of the tools a turn called, in order.
func toolsCalled(r turnResult) []string {
	var names []string
	for _, e := range r.stream.ofType(StreamToolCall) {
		names = append(names, e.Tool.Name)
	}
	return names
}

type availabilityCase struct {
	text       string
	want, deny []string
}

// checkAvailability asserts that each case's reply called search_products
// and contains its wanted phrases and none of its denied ones.
func checkAvailability(t *testing.T, b *bundle, cases []availabilityCase) {
	t.Helper()
	for _, tc := range cases {
		got := b.sayFresh(t, tc.text)
		if tools := toolsCalled(got); !slices.Contains(tools, "search_products") {
			t.Errorf("reply to %q called %v, want search_products", tc.text, tools)
		}
		assertContains(t, tc.text, got.reply.Body, tc.want, tc.deny)
	}
}

func TestAvailabilityQuestionsWithSynonyms(t *testing.T) {
	t.Parallel()
	b := setupDemo(t, true)
	checkAvailability(t, b, []availabilityCase{
		{"Do you have a rain jacket?", []string{"Ridgeline Rain Jacket ($149.00", "Squall Packable Rain Shell"}, []string{"re-proof", "technical wash"}},
		{"rain jacket", []string{"Ridgeline Rain Jacket ($149.00"}, []string{"technical wash"}},
		{"Show me rain jackets", []string{"Ridgeline Rain Jacket ($149.00"}, nil},
		{"Do you sell a flask?", []string{"Tarn Insulated Water Bottle ($29.00"}, []string{"trekking pole", "Warranty"}},
		{"Show me a rucksack", []string{"Longtrail 55L Backpack ($229.00"}, []string{"claim", "carrier"}},
		{"do you sell trainers", []string{"Scree Trail Runner ($135.00"}, []string{"never sell", "Privacy"}},
		{"rucksack", []string{"Longtrail 55L Backpack ($229.00"}, nil},
		{"head torch", []string{"Beacon 400 Rechargeable Headlamp ($39.00"}, nil},
		{"Do you have a tent?", []string{"Meridian 2 Backpacking Tent ($349.00"}, []string{"tent poles that crack"}},
		{"have you got a sleeping bag?", []string{"Kestrel 20 Down Sleeping Bag"}, nil},
	})
}

func TestAvailabilityQuestionsWithoutSynonyms(t *testing.T) {
	t.Parallel()
	b := setupDemo(t, false)
	checkAvailability(t, b, []availabilityCase{
		{"Do you sell a flask?", []string{`we don't carry "flask"`}, []string{"trekking pole shafts", "Warranty"}},
		{"do you have a kayak?", []string{`we don't carry "kayak"`}, nil},
		{"Show me a rucksack", []string{`couldn't find "rucksack"`, "Longtrail 55L Backpack ($229.00"}, []string{"claim", "carrier"}},
		{"do you sell trainers", []string{`couldn't find "trainers"`, "Scree Trail Runner ($135.00"}, []string{"never sell", "Privacy"}},
		{"rucksack", []string{"Longtrail 55L Backpack ($229.00"}, nil},
	})
}

func TestShopQuestionsStayWithPassages(t *testing.T) {
	t.Parallel()
	b := setupDemo(t, true)
	cases := []struct {
		text      string
		want      string
		searchNot bool
	}{
		{"do you sell my data", "we never sell it", true},
		{"do you ship to the UK", "United Kingdom", false},
		{"can I return it", "30 days", false},
		{"do you sell gift cards?", "Digital gift cards come in amounts from $25 to $500", false},
		{"gift wrapping", "Gift wrapping costs $5 per order", false},
	}
	for _, tc := range cases {
		got := b.sayFresh(t, tc.text)
		assertContains(t, tc.text, got.reply.Body, []string{tc.want}, []string{"Here's what I found", "don't carry"})
		if tools := toolsCalled(got); tc.searchNot && slices.Contains(tools, "search_products") {
			t.Errorf("reply to %q called %v, want no search_products", tc.text, tools)
		}
	}
}

func TestProductQuestion(t *testing.T) {
	cases := []struct {
		message           string
		object            string
		opening, personal bool
	}{
		{"Do you have a rain jacket?", "rain jacket", true, false},
		{"Hi, do you sell a flask?", "flask", true, false},
		{"have you got any trainers", "trainers", true, false},
		{"I'm looking for a head torch", "head torch", true, false},
		{"Show me some rucksacks please", "rucksacks", true, false},
		{"rain jacket", "rain jacket", false, false},
		{"boots for winter", "boots for winter", false, false},
		{"do you sell my data", "", true, true},
		{"do you have this in blue?", "", true, true},
		{"do you ship to the UK", "", false, false},
		{"can I return it", "", false, false},
		{"show me", "", true, false},
		{"thanks", "", false, false},
		{"what is your return policy for sale items", "", false, false},
	}
	for _, tc := range cases {
		object, opening, personal := productQuestion(tc.message)
		if object != tc.object {
			t.Errorf("productQuestion(%q) object = %q, want %q", tc.message, object, tc.object)
		}
		if opening != tc.opening {
			t.Errorf("productQuestion(%q) opening = %v, want %v", tc.message, opening, tc.opening)
		}
		if personal != tc.personal {
			t.Errorf("productQuestion(%q) personal = %v, want %v", tc.message, personal, tc.personal)
		}
	}
}

func TestExcludedWordsLeaveProductsOut(t *testing.T) {
	t.Parallel()
	b := setupDemo(t, true)
	cases := []struct {
		text       string
		want, deny []string
	}{
		{"hiking -boots", []string{"Hiking Pants"}, []string{"Granite Waterproof Hiking Boot", "Cascade Mid Waterproof Boot"}},
		{"shoes -sneakers", nil, []string{"Tempo Road-to-Trail Shoe", "Scree Trail Runner"}},
	}
	for _, tc := range cases {
		got := b.sayFresh(t, tc.text)
		assertContains(t, tc.text, got.reply.Body, tc.want, tc.deny)
	}
}

func TestDemoSynonymExcludesOneJacket(t *testing.T) {
	t.Parallel()
	b := setupDemo(t, true)
	got := b.sayFresh(t, "jackets -puffer")
	assertContains(t, "jackets -puffer", got.reply.Body, []string{"Ridgeline Rain Jacket"}, []string{"Summit 800 Down Jacket"})
}

func TestShopSynonymOutranksTypeGuess(t *testing.T) {
	t.Parallel()
	b := setupDemo(t, false)
	rules, err := retrieval.ParseSynonyms(strings.NewReader("boots, footwear\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.db.ReplaceSynonyms(context.Background(), b.shop.ID, rules); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"footwear", "do you have footwear?"} {
		got := b.sayFresh(t, text)
		assertContains(t, text, got.reply.Body, []string{"Granite Waterproof Hiking Boot"}, []string{"couldn't find"})
	}
}
