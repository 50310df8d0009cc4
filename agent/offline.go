package agent

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

// OfflineBrain replies without a language model. It acts on the needs the
// classifier recognised and calls tools for sizes, carts, orders, product
// search and handoffs. For other questions it quotes the retrieved
// passages that best match the message. When nothing relevant was found it asks a question
// back or offers a person, so it never states a fact it was not given.
type OfflineBrain struct{}

// Name returns "offline".
func (OfflineBrain) Name() string { return "offline" }

// Respond composes the reply, then streams it one sentence per StreamDelta.
func (OfflineBrain) Respond(ctx context.Context, turn *Turn, tools *Toolbox, out Emitter) (*Reply, error) {
	c := &composer{turn: turn, tools: tools}
	if err := c.compose(ctx); err != nil {
		return nil, err
	}
	reply := c.reply()
	for _, part := range streamParts(reply.Text) {
		if err := out.Emit(ctx, StreamEvent{Type: StreamDelta, Text: part}); err != nil {
			return nil, err
		}
	}
	return reply, nil
}

// Wording the offline brain uses in more than one place. A later turn finds
// askOrderNumber in the history to treat the next message as the number.
const (
	askOrderNumber = "Which order is it? Please give me the order number from your confirmation email."
	// offerOrderLookup follows the FAQ quote on how tracking works.
	offerOrderLookup = "If you tell me your order number, I can look it up for you."
	offerPerson      = "I can also connect you with a person from our team."
)

// composer builds one reply from the parts each need contributes.
type composer struct {
	turn  *Turn
	tools *Toolbox

	// product is the product the message is about, as resolveSubject
	// chooses it, or nil. named is set when the message named it or
	// followed up on it, rather than it being only in view.
	product *salesagent.Product
	named   bool
	// several are the products the message names when it names more than
	// one, and ambiguous those a follow-up may mean when it fits several.
	several   []*salesagent.Product
	ambiguous []*salesagent.Product

	parts     []string
	cards     []salesagent.Card
	citations []salesagent.Citation

	grounded  bool
	escalated bool
	// personGreeted is set once a draft has greeted the shopper on the
	// operator's behalf.
	personGreeted bool
	searched      bool
	saidStock     bool
	// noMatch is set when search_products found nothing. compose then
	// quotes a passage that matches the message or requests more detail.
	noMatch bool
	quoted  map[int64]bool
}

func (c *composer) say(text string) {
	if text = strings.TrimSpace(text); text != "" {
		c.parts = append(c.parts, text)
	}
}

func (c *composer) cite(citations ...salesagent.Citation) {
	for _, ct := range citations {
		duplicate := false
		for _, have := range c.citations {
			if have == ct {
				duplicate = true
				break
			}
		}
		if !duplicate {
			c.citations = append(c.citations, ct)
		}
	}
}

func (c *composer) use(result *ToolResult) {
	if result.Card != nil {
		c.cards = append(c.cards, *result.Card)
	}
	c.cite(result.Citations...)
	c.grounded = true
}

func (c *composer) reply() *Reply {
	outcome := OutcomeClarified
	switch {
	case c.escalated:
		outcome = OutcomeEscalated
	case c.grounded:
		outcome = OutcomeAnswered
	}
	return &Reply{Text: strings.Join(c.parts, " "), Cards: c.cards, Citations: c.citations, Outcome: outcome}
}

// compose handles each recognised need in turn, strongest first.
func (c *composer) compose(ctx context.Context) error {
	turn := c.turn
	needs := turn.Needs
	if len(needs) == 0 && c.continuesOrderLookup() {
		needs = []Need{NeedOrderStatus}
	}

	c.resolveSubject()
	needs = c.adjustNeeds(needs)

	social := 0
	for _, n := range needs {
		if n == NeedGreeting || n == NeedThanks {
			social++
		}
	}
	// A message naming only an option of the product in view, as "the
	// forest one in XS?", asks about its stock.
	if social == len(needs) && c.namesOption() {
		needs = append(needs, NeedStock)
	}

	// The offline agent reads English only. A question in another
	// language with no need recognised would otherwise be searched for as
	// a product name.
	if social == len(needs) && !looksEnglish(turn.Message.Body) && !onlyGreeting(turn.Message.Body) {
		c.say("Sorry, I can only answer in English for now. Could you ask in English? " + offerPerson)
		return nil
	}
	if turn.HasNeed(NeedGreeting) {
		if social == len(needs) && !turn.HasNeed(NeedThanks) && onlyGreeting(turn.Message.Body) {
			c.say(fmt.Sprintf("Hi! I'm the %s assistant. I can help you find products, check sizes and stock, and answer questions about shipping, returns and your orders.", turn.Shop.Name))
			c.grounded = true
			return nil
		}
		c.say("Hi!")
	}

	// A request for a person goes first, so the rest of the reply does not
	// ask questions the person will take over. A question for the shop's
	// phone number or email gets them from the contact passage instead.
	switch {
	case asksContactDetails(turn.Message.Body) && (turn.HasNeed(NeedHuman) || social == len(needs)) && c.contactDetails():
		needs = withoutNeed(needs, NeedHuman)
	case turn.HasNeed(NeedHuman):
		needs = append([]Need{NeedHuman}, needs...)
	}
	handled, err := c.cartContents(ctx)
	if err != nil {
		return err
	}
	if handled {
		needs = withoutNeed(withoutNeed(needs, NeedSaveCart), NeedProductSearch)
	} else if handled, err = c.catalogQuestion(ctx); err != nil {
		return err
	}
	if handled {
		needs = withoutNeed(withoutNeed(needs, NeedProductSearch), NeedPrice)
	}

	// "Do you sell a flask?" or a bare "rain jacket" is a question whether
	// the shop has something, so a product search runs before any passage
	// is quoted. "Do you sell my data?" is a privacy question instead.
	object, opening, personal := productQuestion(withoutExclusions(turn.Message.Body))
	if personal {
		needs = withoutNeed(needs, NeedProductSearch)
	}
	if !handled && object != "" && c.availabilityAnswerable(needs) {
		answered, err := c.availability(ctx, object, opening)
		if err != nil {
			return err
		}
		if answered {
			needs = withoutNeed(needs, NeedProductSearch)
		}
	}

	for _, need := range needs {
		var err error
		switch need {
		// A draft's toolbox cannot escalate or save a cart: the operator
		// reading it is the person, and the cart is the shopper's to save.
		case NeedHuman:
			if c.tools.Has("escalate_to_human") {
				err = c.escalate(ctx)
			} else if !c.personGreeted {
				c.say("Thanks for waiting. You're now talking with a person from our team.")
				c.personGreeted = true
				c.grounded = true
			}
		case NeedOrderStatus:
			err = c.orderStatus(ctx)
		case NeedSaveCart:
			if c.tools.Has("save_cart") {
				err = c.saveCart(ctx)
			}
		case NeedSizing:
			err = c.sizing(ctx)
		case NeedStock:
			err = c.stock(ctx)
		case NeedPrice:
			err = c.price(ctx)
		case NeedProductSearch:
			err = c.productSearch(ctx)
		case NeedShipping, NeedReturns, NeedPayment:
			c.policy(need)
		}
		if err != nil {
			return err
		}
	}

	if c.noMatch {
		c.reportNoMatch()
	}

	if turn.HasNeed(NeedThanks) {
		// "Thanks! One more: ..." gets the reply to its question and no
		// closing line.
		if !c.grounded || social == len(needs) {
			c.say("You're welcome! Is there anything else I can help with?")
		}
		c.grounded = c.grounded || social == len(needs)
		return nil
	}
	if !c.grounded && !c.escalated && len(c.parts) <= social {
		return c.general(ctx)
	}
	return nil
}

// reportNoMatch answers a product search that found nothing. A passage
// that matches the message, as the FAQ entry "Do you offer gift wrapping?"
// does, answers it when nothing else did. Otherwise the shopper is asked
// for more detail.
func (c *composer) reportNoMatch() {
	if !c.grounded {
		if best, ok := bestPassage(c.turn.Hits, c.turn.Message.Body, "", policyKinds...); ok {
			c.quote(best)
			return
		}
	}
	c.say("I couldn't find products that match in our catalog. Could you tell me more about what you're looking for, such as the type of product or what it's for?")
}

// rejected reports whether err is a tool's rejection, whose message is safe
// to relay, rather than a failure.
func rejected(err error) bool {
	return err != nil && salesagent.ErrorCode(err) != salesagent.EINTERNAL
}

func (c *composer) escalate(ctx context.Context) error {
	if c.escalated {
		return nil
	}
	summary := fmt.Sprintf("Shopper's message: %s", shorten(c.turn.Message.Body, 400))
	if len(c.turn.Needs) > 0 {
		names := make([]string, len(c.turn.Needs))
		for i, n := range c.turn.Needs {
			names[i] = string(n)
		}
		summary = fmt.Sprintf("Needs: %s. %s", strings.Join(names, ", "), summary)
	}
	result, err := c.tools.CallWith(ctx, "escalate_to_human", escalateArgs{Reason: "shopper asked for a person", Summary: summary})
	if err != nil {
		return err
	}
	c.use(result)
	c.say(result.Text)
	c.escalated = true
	return nil
}

var (
	emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	// Order numbers: "#1001", "order 1001", "order number: A-1001".
	hashNumberPattern = regexp.MustCompile(`#\s?([A-Za-z0-9-]*\d[A-Za-z0-9-]*)`)
	orderNumberPhrase = regexp.MustCompile(`(?i)\b(?:order|purchase)\s*(?:number|no\.?|nr\.?)?\s*(?:is|:)?\s*([A-Za-z]{0,3}-?\d[\dA-Za-z-]*)`)
	standaloneNumber  = regexp.MustCompile(`\b([A-Za-z]{0,3}-?\d{3,}[A-Za-z0-9-]*)\b`)
	// "order status for 1001", "status of my order: 1001". The number must
	// have three digits or more, so "order for 2 jackets" names none.
	orderStatusPhrase = regexp.MustCompile(`(?i)\border\s+status\s+(?:for|of|is|:)?\s*([A-Za-z]{0,3}-?\d{3,}[A-Za-z0-9-]*)\b|\bstatus\s+of\s+(?:my\s+)?order\s*(?:is|:)?\s*([A-Za-z]{0,3}-?\d{3,}[A-Za-z0-9-]*)\b`)
)

// orderNumberIn finds an order number in text. A bare number counts only
// when bare is set, as in a reply to askOrderNumber.
func orderNumberIn(text string, bare bool) string {
	if m := hashNumberPattern.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	if m := orderNumberPhrase.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	if m := orderStatusPhrase.FindStringSubmatch(text); m != nil {
		return m[1] + m[2]
	}
	if bare {
		withoutEmails := emailPattern.ReplaceAllString(text, " ")
		if m := standaloneNumber.FindStringSubmatch(withoutEmails); m != nil {
			return m[1]
		}
	}
	return ""
}

// continuesOrderLookup reports whether the agent's last message requested
// an order number or a checkout email, so that this message likely gives it.
func (c *composer) continuesOrderLookup() bool {
	return asksForOrder(c.turn.History, len(c.turn.History))
}

// asksForOrder reports whether the last agent message of history before
// index end requested an order number or a checkout email.
func asksForOrder(history []salesagent.Message, end int) bool {
	for i := end - 1; i >= 0; i-- {
		m := history[i]
		if m.Role == salesagent.RoleAgent {
			return strings.Contains(m.Body, askOrderNumber) || strings.Contains(m.Body, offerOrderLookup) ||
				strings.Contains(m.Body, salesagent.ErrorMessage(errIdentify))
		}
	}
	return false
}

// shopperText is one of the shopper's recent messages. answersOrder is set
// when the agent's message before it requested an order number or email,
// so that a bare number in it is an order number.
type shopperText struct {
	text         string
	answersOrder bool
}

// recentShopperText returns the shopper's messages of this turn and the
// few before it, newest first, to find an order number or email given
// earlier.
func (c *composer) recentShopperText() []shopperText {
	history := c.turn.History
	texts := []shopperText{{text: c.turn.Message.Body, answersOrder: c.continuesOrderLookup()}}
	for i := len(history) - 1; i >= 0 && len(texts) < 4; i-- {
		if m := history[i]; m.Role == salesagent.RoleShopper {
			texts = append(texts, shopperText{text: m.Body, answersOrder: asksForOrder(history, i)})
		}
	}
	return texts
}

func (c *composer) orderStatus(ctx context.Context) error {
	if c.escalated {
		// A person is joining; they can look the order up themselves.
		return nil
	}
	var number, email string
	for _, t := range c.recentShopperText() {
		if number == "" {
			number = orderNumberIn(t.text, t.answersOrder)
		}
		if email == "" {
			email = emailPattern.FindString(t.text)
		}
	}
	if number == "" {
		// "How do I track my order?" is about tracking in general, so the
		// shop's FAQ on it is quoted before an order number is requested.
		if howToPattern.MatchString(c.turn.Message.Body) {
			if best, ok := bestPassage(c.turn.Hits, c.turn.Message.Body, "", policyKinds...); ok && headedWith(best, c.turn.Message.Body) {
				c.quote(best)
				c.say(offerOrderLookup)
				return nil
			}
		}
		c.say(askOrderNumber)
		return nil
	}

	result, err := c.tools.CallWith(ctx, "order_status", orderStatusArgs{OrderNumber: number, Email: email})
	if rejected(err) {
		c.say(salesagent.ErrorMessage(err))
		return nil
	}
	if err != nil {
		return err
	}
	c.use(result)
	c.say(result.Text)
	return nil
}

func (c *composer) saveCart(ctx context.Context) error {
	result, err := c.tools.CallWith(ctx, "save_cart", struct{}{})
	if rejected(err) {
		if len(c.turn.Page.Cart) == 0 {
			c.say("Your cart is empty at the moment. Add what you'd like to keep, then ask me again and I'll save it for you.")
		} else {
			c.say("I couldn't save your cart: " + salesagent.ErrorMessage(err))
		}
		return nil
	}
	if err != nil {
		return err
	}
	data := result.Data.(SaveCartData)
	c.use(result)
	c.say(fmt.Sprintf("I've saved your cart (%d %s). You can restore it any time with this link: %s", data.Quantity, plural(data.Quantity, "item", "items"), data.URL))
	return nil
}

func (c *composer) sizing(ctx context.Context) error {
	args, ok := c.sizeGuideTarget()
	if !ok {
		c.say("Which product would you like sizing help with? Open its page or tell me its name, and I'll send you the size guide.")
		return nil
	}
	result, err := c.tools.CallWith(ctx, "send_size_guide", args)
	if rejected(err) {
		c.say("I don't have a size guide for that product.")
		if p := c.product; p != nil {
			if notes := fitNotes(p.Description); len(notes) > 0 {
				c.say(fmt.Sprintf("About the fit, the %s description says: %q", p.Title, strings.Join(notes, " ")))
				c.cite(salesagent.Citation{Kind: salesagent.KindProduct, ProductID: p.ID, Title: p.Title})
				c.grounded = true
			}
			// Its sizes in stock still answer "which sizes can I buy?".
			if optionNamed(p, isSizeOption) != "" {
				c.stockOf(p)
			}
		}
		c.say(offerPerson)
		return nil
	}
	if err != nil {
		return err
	}
	data := result.Data.(SizeGuideData)
	c.use(result)

	subject := data.ProductTitle
	if subject == "" {
		subject = data.ProductType
	}
	c.say(fmt.Sprintf("Here's the size guide for the %s.", subject))
	var product *salesagent.Product
	if c.product != nil && c.product.Title == data.ProductTitle {
		product = c.product
	}
	advice, usedFit := recommendSize(c.turn.Message.Body, data, product)
	if len(data.FitNotes) > 0 && !usedFit {
		c.say(fmt.Sprintf("About the fit, the product description says: %q", strings.Join(data.FitNotes, " ")))
	}
	for _, sentence := range advice {
		c.say(sentence)
	}
	if data.ProductTitle != "" {
		switch {
		case len(data.InStockByColor) > 0:
			c.say(fmt.Sprintf("In stock now: %s.", describeSizesByColour(data.InStockByColor, data.Colors)))
			if len(data.SizesSoldOut) > 0 {
				c.say(fmt.Sprintf("Sold out: %s.", joinList(data.SizesSoldOut)))
			}
			c.saidStock = true
		case len(data.SizesInStock) > 0:
			c.say(fmt.Sprintf("In stock now: %s.", joinList(data.SizesInStock)))
			if len(data.SizesSoldOut) > 0 {
				c.say(fmt.Sprintf("Sold out: %s.", joinList(data.SizesSoldOut)))
			}
			c.saidStock = true
		case len(data.SizesSoldOut) > 0:
			c.say("Every size is sold out right now.")
			c.saidStock = true
		}
	}
	return nil
}

// sizeGuideTarget chooses what to send the size guide for: the product in
// view, a product the shopper named, or a product type a retrieved size
// guide covers.
func (c *composer) sizeGuideTarget() (sizeGuideArgs, bool) {
	if p := c.product; p != nil {
		if p == c.turn.Product {
			return sizeGuideArgs{}, true
		}
		return sizeGuideArgs{Product: p.Handle}, true
	}
	question := setOf(contentStems(c.turn.Message.Body))
	for _, hit := range c.turn.Hits {
		switch {
		case hit.Kind == salesagent.KindProduct && hit.Source.ProductHandle != "" && overlap(question, setOf(contentStems(hit.Heading))) > 0:
			return sizeGuideArgs{Product: hit.Source.ProductHandle}, true
		case hit.Kind == salesagent.KindSizeGuide && hit.ProductType != "" && overlap(question, setOf(contentStems(hit.ProductType))) > 0:
			return sizeGuideArgs{ProductType: hit.ProductType}, true
		}
	}
	return sizeGuideArgs{}, false
}

// policyKinds are the kinds of passages quoted for shop questions.
var policyKinds = []string{salesagent.KindFAQ, salesagent.KindPolicy, salesagent.KindPage}

var topicNames = map[Need]string{
	NeedShipping: "shipping",
	NeedReturns:  "returns and exchanges",
	NeedPayment:  "payment",
	NeedPrice:    "discounts",
	needContact:  "contacting us",
}

// policy quotes the passage that best answers a shipping, returns, payment
// or discount question, or offers a person when none does.
//
// A message with two topics, as "when will my refund arrive" has, gets
// each passage once, and no apology for a topic when another was answered.
func (c *composer) policy(need Need) {
	if need == NeedShipping && c.answerUnservedPlace() {
		return
	}
	best, ok := bestPassage(c.turn.Hits, c.turn.Message.Body, need, policyKinds...)
	if !ok {
		if !c.grounded {
			c.say(fmt.Sprintf("I couldn't find anything about %s in our shop's information. Would you like me to connect you with a person from our team?", topicNames[need]))
		}
		return
	}
	// A second topic, as shipping is by "arrive" in "when will my refund
	// arrive", gets its own passage only from an entry headed with it.
	heading := setOf(stems(best.hit.Heading + " " + best.hit.Source.DocumentTitle))
	if len(c.quoted) > 0 && overlap(stemSet(coreWords[need]), heading) == 0 {
		return
	}
	c.quote(best)
}

// quote says a passage and cites it, unless the reply quoted its chunk
// already.
func (c *composer) quote(p passage) {
	if c.quoted == nil {
		c.quoted = map[int64]bool{}
	}
	if c.quoted[p.hit.ChunkID] {
		return
	}
	c.quoted[p.hit.ChunkID] = true
	c.say(p.quote())
	c.cite(p.hit.Citation())
	c.grounded = true
}

// general replies to a message with no recognised need from the product in
// view, the shop's passages or its catalog. Failing those, it requests
// more detail and offers a person.
//
// The product in view answers first, except for a message that names
// another product or product type, as "down jacket" does beside a rain
// jacket, and for a how-to question that does not point at the product in
// view: the shop's guides answer those first.
func (c *composer) general(ctx context.Context) error {
	message := c.turn.Message.Body
	p := c.product
	other := p != nil && !c.named && namesOtherThing(p, message, c.turn.Hits)
	passagesFirst := other || (howToPattern.MatchString(message) && !pointsAtProduct(p, message))
	if p != nil && !passagesFirst && c.describe(p, message) {
		return nil
	}
	if best, ok := bestPassage(c.turn.Hits, message, "", policyKinds...); ok {
		c.quote(best)
		return nil
	}
	if p != nil && passagesFirst && !other && c.describe(p, message) {
		return nil
	}
	if p != nil && c.named && c.introduce(p) {
		return nil
	}
	question := setOf(contentStems(message))
	for _, hit := range c.turn.Hits {
		if hit.Kind == salesagent.KindProduct && overlap(question, setOf(contentStems(hit.Heading))) > 0 {
			if err := c.searchProducts(ctx, message, false); err != nil {
				return err
			}
			if c.grounded {
				return nil
			}
			break
		}
	}
	if !looksEnglish(message) {
		c.say("Sorry, I can only answer in English for now. Could you ask in English? " + offerPerson)
		return nil
	}
	c.say("I'm not sure I can answer that from our shop's information. Could you tell me a bit more? I can help with products, sizing, stock, shipping, returns and orders. " + offerPerson)
	return nil
}

// describe quotes the sentences of p's description that match message,
// and reports whether it found any.
func (c *composer) describe(p *salesagent.Product, message string) bool {
	sentences := descriptionSentences(p, message)
	if len(sentences) == 0 {
		return false
	}
	c.say(fmt.Sprintf("The %s description says: %q", p.Title, strings.Join(sentences, " ")))
	c.cite(salesagent.Citation{Kind: salesagent.KindProduct, ProductID: p.ID, Title: p.Title})
	c.grounded = true
	return true
}

// greetingPattern matches a greeting at the start of a message, with the
// words that often follow it, as "hi there," or "hello team!".
var greetingPattern = regexp.MustCompile(`(?i)\A[\s,.!?]*(?:hi|hello|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day))\b(?:\s+(?:there|all|team|folks|guys|everyone))?[\s,.!?]*`)

// onlyGreeting reports whether message is a greeting with nothing after
// it. "hi do you have tents" is not, so it gets a product search rather
// than only the introduction.
func onlyGreeting(message string) bool {
	rest := greetingPattern.ReplaceAllString(message, "")
	return len(contentStems(rest)) == 0
}

// howToPattern finds a question on how to do something, as "how do I wash
// it" or "how to re-proof a jacket".
var howToPattern = regexp.MustCompile(`(?i)\bhow (do|can|should|would|does) (i|you|we|one)\b|\bhow to\b|\bbest way to\b`)

// pointingWords refer to the product in view.
var pointingWords = map[string]bool{"this": true, "it": true, "these": true, "those": true, "them": true, "that": true}

// pointsAtProduct reports whether message refers to p, by a word such as
// "this" or by a word of its title that its product type lacks, as
// "Ridgeline" in "Ridgeline Rain Jacket".
func pointsAtProduct(p *salesagent.Product, message string) bool {
	if p == nil {
		return false
	}
	for _, w := range words(normalize(message)) {
		if pointingWords[w] {
			return true
		}
	}
	distinct := setOf(contentStems(p.Title))
	for _, s := range contentStems(p.ProductType) {
		delete(distinct, s)
	}
	return overlap(distinct, setOf(contentStems(message))) > 0
}

// namesOtherThing reports whether message names something p is not: a
// word that p's title, type, tags, options and description lack but the
// title or type of another retrieved product has, as "down" in "how do I
// wash my down jacket" beside a rain jacket. Colours do not count, because
// a shopper names them to ask for an option.
func namesOtherThing(p *salesagent.Product, message string, hits []retrieval.Hit) bool {
	own := setOf(contentStems(productText(p)))
	for s := range setOf(contentStems(message)) {
		// An attribute that p's text states in its own words, such as
		// "waterproof" of a tent with taped seams, refers to p.
		if own[s] || genericWords[s] || colourStems[s] || overlap(attributeCues[s], own) > 0 {
			continue
		}
		for _, hit := range hits {
			if hit.Kind != salesagent.KindProduct || hit.Source.ProductID == p.ID {
				continue
			}
			if setOf(stems(hit.Heading + " " + hit.ProductType))[s] {
				return true
			}
		}
	}
	return false
}
