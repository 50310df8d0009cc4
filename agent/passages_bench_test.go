package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

// BenchmarkBestPassage measures the offline brain's choice of what to
// quote for a policy question, over hits made from every section of the
// demo shop's FAQ and policies. A turn of the offline brain makes this
// choice at least once, over its eight retrieved passages.
func BenchmarkBestPassage(b *testing.B) {
	var hits []retrieval.Hit
	for i, name := range []string{"faq.md", "policies.md"} {
		data, err := os.ReadFile(filepath.Join("..", "demo", "shop", name))
		if err != nil {
			b.Fatal(err)
		}
		for j, section := range strings.Split(string(data), "\n## ")[1:] {
			heading, body, _ := strings.Cut(section, "\n")
			hits = append(hits, retrieval.Hit{
				ChunkID: int64(100*i + j + 1), Kind: salesagent.KindFAQ, Heading: heading, Content: body,
				Source: retrieval.Source{DocumentID: int64(i + 1), DocumentTitle: name},
			})
		}
	}
	questions := map[string]Need{
		"How much does shipping cost to Canada?": NeedShipping,
		"What is your return policy?":            NeedReturns,
		"Can I pay with Klarna?":                 NeedPayment,
	}
	for b.Loop() {
		for question, need := range questions {
			if _, ok := bestPassage(hits, question, need); !ok {
				b.Fatalf("no passage for %q", question)
			}
		}
	}
}
