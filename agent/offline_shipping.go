package agent

import (
	"fmt"
	"regexp"

	"github.com/salesagent/salesagent/retrieval"
)

// elsewherePattern finds a statement that the shop ships nowhere else.
var elsewherePattern = regexp.MustCompile(`(?i)\b(other countries|anywhere else|elsewhere|only ship|ship only)\b`)

// answerUnservedPlace answers a shipping question on a country that no
// retrieved passage names, as Australia where the shop ships to the US,
// Canada, the UK and the EU. It quotes the passage that lists where the
// shop ships, never a domestic rate, and reports whether it answered.
func (c *composer) answerUnservedPlace() bool {
	message := c.turn.Message.Body
	var unserved []string
	for _, p := range foreignPlaces(message) {
		served := false
		for _, hit := range c.turn.Hits {
			// An FAQ question may name the place that its short answer
			// leaves out, as "Do you ship to Canada?" with "Yes, in 5 days."
			if containsString(policyKinds, hit.Kind) && (p.namedIn(hit.Content) || p.namedIn(hit.Heading)) {
				served = true
				break
			}
		}
		if !served {
			unserved = append(unserved, p.name)
		}
	}
	if len(unserved) == 0 {
		return false
	}

	places := joinOr(unserved)
	best, ok := destinationsPassage(c.turn.Hits)
	if !ok {
		// A domestic rate would answer a question nobody asked, so the
		// shopper gets a person instead.
		c.say(fmt.Sprintf("I couldn't find shipping information for %s in our shop's information. Would you like me to connect you with a person from our team?", places))
		return true
	}
	c.say(fmt.Sprintf("%s isn't among the destinations in our shipping information.", places))
	c.quote(best)
	return true
}

// destinationsPassage picks the passage that lists where the shop ships:
// the units of one hit that name two or more countries or regions outside
// a table, or say the shop ships nowhere else. A hit with both ranks
// first.
func destinationsPassage(hits []retrieval.Hit) (passage, bool) {
	var best passage
	for _, hit := range hits {
		if !containsString(policyKinds, hit.Kind) {
			continue
		}
		var units []unit
		score := 0.0
		for _, u := range passageUnits(hit.Content) {
			if u.table > 0 || !quotable(u.text, hit) {
				continue
			}
			switch {
			case elsewherePattern.MatchString(u.text):
				units = append(units, u)
				score += 2
			case len(placesIn(u.text))+regionCount(u.text) >= 2:
				units = append(units, u)
				score++
			}
		}
		if score > best.score && len(units) <= maxQuoteUnits {
			best = passage{hit: hit, units: units, score: score, topic: NeedShipping}
		}
	}
	return best, best.score > 0
}

// regionPattern finds the names of regions that are not countries.
var regionPattern = regexp.MustCompile(`(?i)\b(european union|EU|europe)\b`)

func regionCount(text string) int { return len(regionPattern.FindAllString(text, -1)) }
