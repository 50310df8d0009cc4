package agent

// lexicon lists the cues of each need. A phrase is matched on word stems, so
// "ship" also matches "shipping" and "shipped". Weight 1 recognises the need
// alone; weaker cues count only together. The lists were tuned on the
// Bitext customer-service training split and on shop questions written for
// the tests.
var lexicon = map[Need][]lexiconEntry{
	NeedSizing: {
		{1, []string{
			"size", "sizing", "fit", "fitting", "true to size", "run small", "run large", "run big",
			"too small", "too big", "too large", "too tight", "too loose", "too short", "too long",
			"measurements", "inseam", "size chart", "size guide", "what size", "which size",
			"petite", "half size", "size up", "size down",
		}},
		{1, []string{
			// Heights such as 5'10, 5 ft 10 or 178 cm.
			`re:\b[4-7]\s?'\s?\d{1,2}\b`, `re:\b[4-7]\s?(ft|feet|foot)\b`, `re:\b1[4-9]\d\s?cm\b`,
		}},
		{0.5, []string{
			`re:\b\d{2,3}\s?(lb|lbs|pounds|kg|kilos)\b`,
			"tight", "loose", "snug", "baggy", "roomy", "length", "waist", "chest", "hips", "shoulders",
			"width", "wide", "narrow", "height", "tall", "weigh", "weight", "small", "medium", "large",
			"xs", "xl", "xxl", "in #", "am #",
		}},
	},
	NeedShipping: {
		{1, []string{
			"ship", "shipping", "shipment", "deliver", "delivery", "courier", "postage", "dispatch",
			"express", "overnight", "freight", "carrier", "deliveries", "shipments", "when * arrive",
			"ship * option", "deliver * option", "ship * method", "deliver * method", "ship * period",
			"deliver * period", "ship * time", "deliver * time",
			"can i * order from", "could i * order from", "possible * order from",
		}},
		{0.6, []string{
			"order from", "purchase from", "buy from",
			"arrive", "arrival", "how soon", "how long", "expect", "get here", "take to get",
			"international", "internationally", "abroad", "overseas", "worldwide",
		}},
		{0.5, []string{
			"canada", "mexico", "uk", "united kingdom", "australia", "germany", "france", "spain",
			"italy", "ireland", "europe", "eu", "japan", "new zealand", "country", "countries",
			"when will", "when can i", "days", "weeks", "when", "going to arrive", "gonna arrive",
		}},
	},
	NeedReturns: {
		{1, []string{
			"return", "returning", "refund", "reimburse", "reimbursement", "money back", "exchange",
			"restitution", "rebate", "compensation", "send back", "send * back", "take back",
			"store credit", "changed my mind", "refunds", "track * refund",
		}},
		{0.5, []string{"swap", "damaged", "defective", "broken", "wrong item", "worn", "unworn"}},
	},
	NeedPrice: {
		{1, []string{
			"price", "pricing", "cost", "how much", "discount", "coupon", "promo", "voucher",
			"sale", "deal", "cheaper", "cheapest", "price match", "markdown", "clearance",
		}},
		{0.5, []string{
			"cheap", "expensive", "affordable", "budget", "under #", "below #", "less than #",
			`re:\$\s?\d`, "code", "offer",
		}},
	},
	NeedStock: {
		{1, []string{
			"in stock", "out of stock", "stock", "sold out", "restock", "is it available",
			"is this available", "are they available", "are these available",
			"do you have this", "do you have it", "do you have these", "do you have that",
			"do you have them", "do you have one", "have it in", "have this in", "have them in",
			"have these in", "come in", "comes in", "any left", "still have", "is there any",
			"are there any",
		}},
		{0.5, []string{
			"available", "availability", "do you have", "do you carry", "blue", "black", "red", "green", "white",
			"grey", "gray", "navy", "pink", "purple", "yellow", "orange", "brown", "beige", "olive",
			"color", "colour",
		}},
	},
	NeedProductSearch: {
		{1, []string{
			"looking for", "look for", "search", "recommend", "recommendation", "suggest",
			"suggestion", "show me", "compare", "comparison", "difference", "versus", "vs",
			"which one", "which is better", "alternative", "similar", "something for", "gift",
			"do you sell", "do you carry", "do you have any", "want to buy", "need a new",
			"best * for", "good for", "help * choose", "help * pick", "help * decide",
		}},
		{0.5, []string{
			"find", "need", "want", "buy", "products", "items", "under #", "below #", "different", "choose",
			"jacket", "coat", "shoes", "boots", "sneakers", "trainers", "sandals", "shirt", "tee",
			"hoodie", "sweater", "fleece", "pants", "trousers", "jeans", "shorts", "leggings",
			"dress", "skirt", "hat", "cap", "beanie", "gloves", "socks", "bag", "backpack",
			"tent", "sleeping bag", "vest", "top", "bra", "swimsuit",
		}},
	},
	NeedOrderStatus: {
		{1, []string{
			"order status", "status of * order", "status of * purchase", "track", "tracking",
			"trace", "where is my", "has my * ship", "order number", "eta", "not arrived",
			"not received", "still waiting", "never arrived", "never received", "order #",
			"purchase #", "my order #", "status * order", "status * purchase",
			"order * status", "purchase * status", "locate * order", "locate * purchase",
			"locate * parcel", "locate * package",
			// Order numbers may start with letters, as in "order #W7800651".
			`re:\b(order|purchase)\s*#\s?[a-z]{1,3}-?\d{3,}`,
		}},
		{0.6, []string{"status", "my package", "my parcel", "late", "delayed", "lost"}},
		{0.5, []string{"my order", "my purchase", `re:#\s?[a-z]{0,3}-?\d{3,}`, "check * order"}},
		{1, []string{"my order * arrive", "my package * arrive", "my parcel * arrive"}},
	},
	NeedPayment: {
		{1, []string{
			"pay", "paying", "payment", "paypal", "credit card", "debit card", "klarna", "afterpay",
			"apple pay", "google pay", "installment", "instalment", "financing", "bank transfer",
			"cash on delivery", "crypto", "bitcoin", "declined", "payment method", "payment option",
			"payments",
		}},
		{0.6, []string{"charged", "charge", "checkout", "billing", "card", "visa", "mastercard", "amex"}},
	},
	NeedHuman: {
		{1, []string{
			"human", "real person", "a person", "operator", "representative", "customer service",
			"customer support", "customer care", "support team", "live chat", "live agent",
			"human agent", "an agent", "speak to", "speak with", "talk to", "talk with",
			"phone number", "call you", "get in touch", "manager", "supervisor", "customer assistance",
			"call me", "call me back", "ring me", "phone me",
			// Only a person can cancel or change a placed order.
			"cancel * order", "cancel * purchase", "change * order", "modify * order", "edit * order",
			"remove * from * order", "add * to * order",
		}},
		{0.6, []string{
			"contact", "chat with", "someone", "somebody", "person", "staff", "employee", "assistant", "agent", "reach",
			"email you", "your email", "phone", "call",
		}},
	},
	NeedSaveCart: {
		{1, []string{
			"save * cart", "save * basket", "save * bag", "keep * cart", "hold * cart",
			"cart for later", "save for later", "save * for later", "save * items",
			"send me * cart", "email me * cart", "share * cart", "link to * cart", "restore * cart",
			"wishlist", "wish list",
		}},
		{0.5, []string{"cart", "basket", "come back later", "buy later", "finish later", "later"}},
	},
	NeedGreeting: {
		{1, []string{`re:\A\s*(hi|hello|hey|hiya|howdy|yo|greetings|good (morning|afternoon|evening|day))\b`}},
	},
	NeedThanks: {
		{1, []string{
			"thanks", "thank you", "thx", "ty", "cheers", "appreciate it", "much appreciated",
			"that helps", "very helpful",
		}},
	},
}
