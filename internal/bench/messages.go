package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Word lists for VariedMessages: an outdoor clothing shop's vocabulary,
// with some words the demo shop lacks, as shoppers use them.
var (
	variedItems = []string{
		"rain jacket", "down parka", "fleece", "hiking trousers", "trail shoes", "merino crew", "base layer",
		"softshell", "beanie", "gloves", "hiking socks", "running shorts", "joggers", "backpack", "sun hat",
		"waterproof boots", "insulated vest", "windbreaker", "thermal leggings", "cap",
	}
	variedColours   = []string{"black", "navy", "olive", "red", "grey", "green", "blue", "sand", "orange", "white"}
	variedUses      = []string{"hiking", "skiing", "running", "camping", "the city", "a rainy commute", "climbing", "cycling", "travel", "winter walks"}
	variedSizes     = []string{"XS", "S", "M", "L", "XL", "small", "medium", "large"}
	variedPlaces    = []string{"Canada", "Germany", "France", "Spain", "Ireland", "Norway", "Japan", "Australia", "Italy", "the Netherlands", "Sweden", "Austria"}
	variedMaterials = []string{"merino", "cotton", "recycled nylon", "polyester", "down", "wool", "fleece"}
	variedOpenings  = []string{"", "Hi, ", "Hello! ", "Quick question: ", "Hey there, ", "Good morning, ", "Sorry to bother you, "}
	variedClosings  = []string{"", " Thanks!", " Thank you.", " Cheers", " Please let me know.", " It's a gift.", " I'm going next week."}
	variedTemplates = []string{
		"Do you have a %[2]s %[1]s for %[3]s?",
		"Is the %[1]s good for %[3]s?",
		"What size %[1]s should I get if I am %[6]d cm tall?",
		"Is the %[1]s in %[4]s in stock in %[2]s?",
		"How long does shipping to %[5]s take for a %[1]s?",
		"Can I return a %[1]s after %[7]d days?",
		"Is your %[1]s made of %[8]s?",
		"I need a warm %[1]s for %[3]s under %[9]d dollars",
		"Which %[1]s would you pick for %[3]s in %[2]s?",
		"Does the %[1]s run small? I usually wear %[4]s",
	}
)

// VariedMessages returns n shopper messages built from templates and word
// lists, the same for the same seed, nearly all of them different. Unlike a
// short script, they reach the server as texts it has not seen, as real
// shoppers' messages do, so caches keyed by a message's text (pgx's
// prepared statements among them) rarely help.
func VariedMessages(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	messages := make([]string, n)
	for i := range messages {
		template := variedTemplates[rng.IntN(len(variedTemplates))]
		body := fmt.Sprintf(template, pick(variedItems), pick(variedColours), pick(variedUses), pick(variedSizes),
			pick(variedPlaces), 150+rng.IntN(51), 7+rng.IntN(60), pick(variedMaterials), 40+10*rng.IntN(30))
		opening, closing := pick(variedOpenings), pick(variedClosings)
		if opening != "" && !strings.HasPrefix(body, "I ") {
			body = strings.ToLower(body[:1]) + body[1:]
		}
		if closing != "" && !strings.ContainsAny(body[len(body)-1:], "?.!") {
			body += "."
		}
		text := opening + body + closing
		messages[i] = strings.ToUpper(text[:1]) + text[1:]
	}
	return messages
}
