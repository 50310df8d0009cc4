package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkGuardEvidence measures the grounding guard's check of one LLM
// reply against evidence the size of a turn's: the demo shop's FAQ and
// policies, about as long as a turn's sources and rules. Every LLM turn
// runs this check once after the reply has streamed.
func BenchmarkGuardEvidence(b *testing.B) {
	var texts []string
	for _, name := range []string{"faq.md", "policies.md", "size-guides.md"} {
		data, err := os.ReadFile(filepath.Join("..", "demo", "shop", name))
		if err != nil {
			b.Fatal(err)
		}
		texts = append(texts, string(data))
	}
	evidenceBytes := len(strings.Join(texts, ""))
	replies := map[string]string{
		"no-claims":   "Thanks for asking. Here is what the shop offers for that, and I can help you choose between the options whenever you like.",
		"with-claims": "The Ridgeline Rain Jacket is $189.00 and ships in 3–5 business days. Returns are free within 30 days.",
	}
	for name, reply := range replies {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(evidenceBytes))
			for b.Loop() {
				newEvidence(texts...).unsupported(reply)
			}
		})
	}
}
