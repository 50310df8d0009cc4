package agent

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/salesagent/salesagent/internal/shareddata"
)

func TestClassifyShopQuestions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text string
		want []Need
	}{
		{"do you have this in M", []Need{NeedStock}},
		{"will it fit if I'm 5'10 180lb", []Need{NeedSizing}},
		{"how much is shipping to Canada", []Need{NeedShipping}},
		{"can I return worn shoes", []Need{NeedReturns}},
		{"is the blue one in stock", []Need{NeedStock}},
		{"talk to a human", []Need{NeedHuman}},
		{"save my cart", []Need{NeedSaveCart}},
		{"Hi there!", []Need{NeedGreeting}},
		{"thanks so much", []Need{NeedThanks}},
		{"where is my order #1001?", []Need{NeedOrderStatus}},
		{"do you take PayPal?", []Need{NeedPayment}},
		{"I'm looking for a waterproof jacket under $150", []Need{NeedProductSearch}},
		{"does this run small?", []Need{NeedSizing}},
		{"how long does delivery take", []Need{NeedShipping}},
		{"can I exchange it for a bigger size", []Need{NeedReturns, NeedSizing}},
		{"is there a discount code for first orders", []Need{NeedPrice}},
		{"what's the difference between the two tents", []Need{NeedProductSearch}},
		{"Hi, do you ship to the UK?", []Need{NeedShipping, NeedGreeting}},
		{"I want to speak to a real person about my order", []Need{NeedHuman}},
		{"can you save the items in my basket for later", []Need{NeedSaveCart}},
		{"how much is this jacket", []Need{NeedPrice}},
		{"shippinh to Valencia", []Need{NeedShipping}},
		{"Can you help me choose a jacket?", []Need{NeedProductSearch}},
		{"This is mei.kovacs8232@example.com. Can you check order #W7800651 for me?", []Need{NeedOrderStatus}},
	}
	for _, tc := range cases {
		got := Classify(tc.text)
		for _, want := range tc.want {
			if !slices.Contains(got, want) {
				t.Errorf("Classify(%q) = %v, missing %s", tc.text, got, want)
			}
		}
		if len(got) > 0 && got[0] != tc.want[0] {
			t.Errorf("Classify(%q) ranks %s first, want %s", tc.text, got[0], tc.want[0])
		}
	}
}

func TestClassifyNothing(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "   ", "what's the airspeed velocity of an unladen swallow", "42"} {
		if got := Classify(text); len(got) != 0 {
			t.Errorf("Classify(%q) = %v, want no need", text, got)
		}
	}
}

// bitextNeeds maps the Bitext intents that overlap the shop's needs to the
// needs that count as right. Intents about accounts, invoices, newsletters,
// complaints and order changes have no counterpart and are left out.
var bitextNeeds = map[string][]Need{
	"track_order":              {NeedOrderStatus},
	"delivery_options":         {NeedShipping},
	"delivery_period":          {NeedShipping, NeedOrderStatus},
	"check_refund_policy":      {NeedReturns},
	"get_refund":               {NeedReturns},
	"track_refund":             {NeedReturns},
	"check_payment_methods":    {NeedPayment},
	"payment_issue":            {NeedPayment},
	"contact_human_agent":      {NeedHuman},
	"contact_customer_service": {NeedHuman},
}

// bitextFloor is the least top-1 accuracy the classifier must keep on the
// Bitext validation split. It measured 0.996 (283 of 284) there and 0.987
// on the training split that the lexicon was tuned on. The floor leaves a
// margin of about 13 utterances.
const bitextFloor = 0.95

func TestClassifyBitextAccuracy(t *testing.T) {
	t.Parallel()
	dir := shareddata.Path(t, "bitext-customer-service-intents")
	for _, split := range []string{"Training", "Validation"} {
		rows := readBitext(t, filepath.Join(dir, "Bitext_Sample_Customer_Service_"+split+"_Dataset.csv"))
		report := scoreBitext(rows)
		t.Logf("%s split: top-1 accuracy %.3f on %d mapped utterances; %.3f of %d other utterances got a need",
			split, report.accuracy(), report.total, report.otherRate(), report.others)
		for _, intent := range report.intents() {
			t.Logf("  %-26s %.3f of %d", intent, report.intentAccuracy(intent), report.perIntent[intent])
		}
		if os.Getenv("BITEXT_ERRORS") != "" {
			for _, e := range report.errors {
				t.Log("  miss: " + e)
			}
		}
		if split == "Validation" && report.accuracy() < bitextFloor {
			t.Errorf("validation top-1 accuracy %.3f, want at least %.2f", report.accuracy(), bitextFloor)
		}
	}
}

type bitextRow struct{ utterance, intent string }

func readBitext(t *testing.T, path string) []bitextRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open Bitext split: %v", err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if len(records) < 2 || records[0][0] != "utterance" || records[0][1] != "intent" {
		t.Fatalf("%s: expected a header starting with utterance,intent", path)
	}
	rows := make([]bitextRow, 0, len(records)-1)
	for _, r := range records[1:] {
		rows = append(rows, bitextRow{utterance: r[0], intent: r[1]})
	}
	return rows
}

type bitextReport struct {
	total, correct            int
	others, otherHits         int
	perIntent, perIntentRight map[string]int
	errors                    []string
}

func scoreBitext(rows []bitextRow) bitextReport {
	r := bitextReport{perIntent: map[string]int{}, perIntentRight: map[string]int{}}
	for _, row := range rows {
		got := Classify(row.utterance)
		accepted, mapped := bitextNeeds[row.intent]
		if !mapped {
			r.others++
			if len(got) > 0 {
				r.otherHits++
			}
			continue
		}
		r.total++
		r.perIntent[row.intent]++
		if len(got) > 0 && slices.Contains(accepted, got[0]) {
			r.correct++
			r.perIntentRight[row.intent]++
			continue
		}
		r.errors = append(r.errors, fmt.Sprintf("%s: %q -> %v", row.intent, row.utterance, got))
	}
	return r
}

func (r bitextReport) accuracy() float64 { return float64(r.correct) / float64(max(r.total, 1)) }

func (r bitextReport) otherRate() float64 { return float64(r.otherHits) / float64(max(r.others, 1)) }

func (r bitextReport) intentAccuracy(intent string) float64 {
	return float64(r.perIntentRight[intent]) / float64(max(r.perIntent[intent], 1))
}

func (r bitextReport) intents() []string {
	var out []string
	for intent := range r.perIntent {
		out = append(out, intent)
	}
	sort.Strings(out)
	return out
}
