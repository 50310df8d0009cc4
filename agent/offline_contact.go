package agent

import "regexp"

// Patterns that tell a question for the shop's contact details from a
// request for a person.
var (
	// contactDetailsPattern finds a question for a phone number, an email
	// address or opening hours.
	contactDetailsPattern = regexp.MustCompile(`(?i)\b(phone|telephone)\b|\bnumber\b.*\b(call|ring)\b|\bemail address\b|\byour email\b|\b(opening|support|business|office) hours\b|\bcontact (details|info|information)\b|\bhow (can|do) i (contact|reach|call|email)\b`)
	// personRequestPattern finds a request to be helped by a person, as
	// "can I talk to someone" or "call me".
	personRequestPattern = regexp.MustCompile(`(?i)\b(talk|speak|chat)\s+(to|with)\b|\b(human|person|someone|somebody|representative|operator|manager|supervisor|agent)\b|\bcall me\b|\bcall\s+\w+\s+back\b|\bring me\b|\bcancel\b|\bchange\b|\bmodify\b`)
)

// asksContactDetails reports whether the message asks how to reach the
// shop, as "What's your phone number?" does, without asking for a person.
func asksContactDetails(message string) bool {
	return contactDetailsPattern.MatchString(message) && !personRequestPattern.MatchString(message)
}

// contactDetailPattern finds the units of a contact passage that state a
// phone number, an email address or opening hours.
var contactDetailPattern = regexp.MustCompile(`(?i)\b\d[\d\s().-]{6,}\d\b|[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}|\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b\d{1,2}(:\d\d)?\s?(a\.m\.|p\.m\.|am|pm)\b`)

// needContact is the topic of a question for the shop's contact details.
// The classifier never returns it, because such a question is recognised
// as NeedHuman and then distinguished by asksContactDetails.
const needContact Need = "contact"

// contactTopic names the topic of the shop's contact passage, to find it
// among the hits.
const contactTopic = "how can I contact customer support phone email call hours"

// contactDetails quotes the units of the shop's contact passage that give
// its hours, email address and phone number, and reports whether one was
// found.
func (c *composer) contactDetails() bool {
	best, ok := bestPassage(c.turn.Hits, contactTopic, "", policyKinds...)
	if !ok {
		return false
	}
	var details []unit
	for _, u := range passageUnits(best.hit.Content) {
		if quotable(u.text, best.hit) && contactDetailPattern.MatchString(u.text) {
			details = append(details, u)
		}
	}
	if len(details) == 0 {
		return false
	}
	best.units = details
	best.topic = needContact
	if c.quoted == nil {
		c.quoted = map[int64]bool{}
	}
	c.quoted[best.hit.ChunkID] = true
	c.say(best.quote())
	c.cite(best.hit.Citation())
	c.grounded = true
	return true
}
