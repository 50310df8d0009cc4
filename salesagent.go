// Package salesagent holds the domain types shared by the gateway's parts:
// shops, catalog, documents, shoppers, conversations and outcomes, and the
// application error type. Adapters live in their own packages: postgres for
// storage, retrieval for search, agent for the turn loop, channels for the
// shopper-facing transports.
package salesagent

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Shop is one tenant: a store with its own catalog, shoppers and settings.
type Shop struct {
	ID             int64
	Slug           string
	Name           string
	WidgetKey      string
	AllowedOrigins []string
	Currency       string
	Embedder       string
	Settings       ShopSettings
	CreatedAt      time.Time
}

// ShopSettings are the per-shop options stored as JSON on the shop row.
type ShopSettings struct {
	// Tone is a short description of how the agent should sound.
	Tone string `json:"tone,omitempty"`
	// SupportHours says when people answer, for handoff messages.
	SupportHours string `json:"support_hours,omitempty"`
	// MaxDiscountPercent caps any discount a tool may grant; 0 means none.
	MaxDiscountPercent float64 `json:"max_discount_percent,omitempty"`
	// BaseURL is the public address of the shop's storefront, used in
	// restore links. Empty means the salesagent shop page.
	BaseURL string `json:"base_url,omitempty"`
	// LLM overrides the server's language model settings for this shop.
	// Nil means the server's settings apply.
	LLM *LLMSettings `json:"llm,omitempty"`
	// WhatsApp connects the shop to a WhatsApp Business number on the
	// Meta Cloud API. Nil means the shop has no WhatsApp channel.
	WhatsApp *WhatsAppSettings `json:"whatsapp,omitempty"`
	// HandoffWebhook, when set, receives a notification each time a
	// conversation starts waiting for a person, as for a chat tool or an
	// automation.
	HandoffWebhook *HandoffWebhookSettings `json:"handoff_webhook,omitempty"`
}

// HandoffWebhookSettings name the address that gets a signed POST when a
// conversation enters the operators' queue.
//
// NOTE: Secret is stored in the shops table as plain text, like the rest
// of the settings.
type HandoffWebhookSettings struct {
	// URL is the absolute http or https address to post to, such as a
	// Slack incoming webhook or an n8n webhook node.
	URL string `json:"url"`
	// Secret is the HMAC-SHA256 key of the X-Salesagent-Signature header.
	// Empty means requests go unsigned.
	Secret string `json:"secret,omitempty"`
}

// LLMSettings are a shop's language model settings. Empty fields take the
// server's values, except that the server's API key is never sent to a
// base URL or provider the shop chose itself.
//
// NOTE: APIKey is stored in the shops table as plain text, like the rest
// of the settings.
type LLMSettings struct {
	// Disabled makes the shop use the offline agent even when the server
	// has a language model configured.
	Disabled bool `json:"disabled,omitempty"`
	// Provider is "openai" for any OpenAI-compatible server, or "azure".
	Provider string `json:"provider,omitempty"`
	// BaseURL is the API root, as in "http://127.0.0.1:11434/v1" for
	// Ollama or "https://NAME.openai.azure.com" for Azure OpenAI.
	BaseURL string `json:"base_url,omitempty"`
	APIKey  string `json:"api_key,omitempty"`
	// Model is the chat model, or the deployment name on Azure OpenAI.
	Model          string `json:"model,omitempty"`
	EmbeddingModel string `json:"embedding_model,omitempty"`
	// APIVersion is the api-version query parameter of Azure OpenAI.
	APIVersion string `json:"api_version,omitempty"`
	// MaxToolRounds limits the model's tool-calling rounds in one turn.
	MaxToolRounds int `json:"max_tool_rounds,omitempty"`
	// PricePerMillionInput and PricePerMillionOutput are the model's
	// prices in US dollars per million prompt and completion tokens, used
	// to compute the cost of each turn.
	PricePerMillionInput  float64 `json:"price_per_million_input,omitempty"`
	PricePerMillionOutput float64 `json:"price_per_million_output,omitempty"`
}

// WhatsAppSettings connect a shop to one WhatsApp Business phone number on
// the Meta Cloud API. String, GoString and LogValue hide the secrets, so a
// printed or logged value shows only whether each one is set.
//
// NOTE: AccessToken and AppSecret are stored in the shops table as plain
// text, like the rest of the settings.
type WhatsAppSettings struct {
	// PhoneNumberID is the Cloud API id of the business phone number, not
	// the number itself, as the Meta App Dashboard shows it.
	PhoneNumberID string `json:"phone_number_id"`
	// AccessToken is a system user access token with the
	// whatsapp_business_messaging permission, sent as a bearer token.
	AccessToken string `json:"access_token,omitempty"`
	// AppSecret is the Meta app's secret, the key of the HMAC in each
	// webhook's X-Hub-Signature-256 header.
	AppSecret string `json:"app_secret,omitempty"`
	// VerifyToken is the token typed into the webhook settings of the Meta
	// App Dashboard, which Meta sends back in the verification request.
	VerifyToken string `json:"verify_token,omitempty"`
	// Template is the approved message template sent in place of a reply
	// once the 24-hour customer service window has closed. Nil means such
	// replies are not sent, and the failure is recorded in the conversation.
	Template *WhatsAppTemplate `json:"template,omitempty"`
	// MessagesPerSecond caps the messages sent from the number by one
	// server process. Zero means 80, the default throughput Meta documents
	// for a Cloud API number.
	MessagesPerSecond float64 `json:"messages_per_second,omitempty"`
}

// WhatsAppTemplate names an approved WhatsApp message template.
type WhatsAppTemplate struct {
	// Name is the template's name, as in "reply_waiting".
	Name string `json:"name"`
	// Language is the template's language code, as in "en_US".
	Language string `json:"language"`
	// BodyParameters fill the body's {{1}}, {{2}} and so on, in order. In
	// each value, "{customer_name}" becomes the shopper's profile name and
	// "{shop_name}" the shop's name.
	BodyParameters []string `json:"body_parameters,omitempty"`
}

// Validate checks that the settings can receive and send messages, and
// names the setting to fix.
func (s *WhatsAppSettings) Validate() error {
	switch {
	case s.PhoneNumberID == "" || strings.Trim(s.PhoneNumberID, "0123456789") != "":
		return Errorf(EINVALID, "invalid WhatsApp phone number id %q: copy the numeric Phone number ID from WhatsApp > API Setup in the Meta App Dashboard", s.PhoneNumberID)
	case s.AccessToken == "":
		return Errorf(EINVALID, "missing WhatsApp access token: create a system user token with the whatsapp_business_messaging permission")
	case s.AppSecret == "":
		return Errorf(EINVALID, "missing WhatsApp app secret: copy it from App settings > Basic in the Meta App Dashboard")
	case s.VerifyToken == "":
		return Errorf(EINVALID, "missing WhatsApp verify token: choose a random string and type the same one into the webhook settings of the Meta App Dashboard")
	case s.MessagesPerSecond < 0:
		return Errorf(EINVALID, "invalid WhatsApp messages per second %g: use a positive number, or 0 for the default of 80", s.MessagesPerSecond)
	}
	if t := s.Template; t != nil {
		if t.Name == "" || strings.Trim(t.Name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			return Errorf(EINVALID, "invalid WhatsApp template name %q: use the approved template's name, made of lowercase letters, digits and underscores", t.Name)
		}
		if t.Language == "" {
			return Errorf(EINVALID, "missing WhatsApp template language for %q: use the approved template's language code, such as en_US", t.Name)
		}
	}
	return nil
}

// String describes the settings with every secret replaced by "set" or
// "missing".
func (s WhatsAppSettings) String() string {
	template := "none"
	if s.Template != nil {
		template = s.Template.Name + "/" + s.Template.Language
	}
	return fmt.Sprintf("WhatsAppSettings{phone_number_id: %s, access_token: %s, app_secret: %s, verify_token: %s, template: %s, messages_per_second: %g}",
		s.PhoneNumberID, secretState(s.AccessToken), secretState(s.AppSecret), secretState(s.VerifyToken), template, s.MessagesPerSecond)
}

// GoString is String, so that %#v hides the secrets too.
func (s WhatsAppSettings) GoString() string { return s.String() }

// LogValue logs the settings with every secret replaced by "set" or
// "missing".
func (s WhatsAppSettings) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("phone_number_id", s.PhoneNumberID),
		slog.String("access_token", secretState(s.AccessToken)),
		slog.String("app_secret", secretState(s.AppSecret)),
		slog.String("verify_token", secretState(s.VerifyToken)),
	}
	if s.Template != nil {
		attrs = append(attrs, slog.String("template", s.Template.Name), slog.String("template_language", s.Template.Language))
	}
	return slog.GroupValue(attrs...)
}

func secretState(secret string) string {
	if secret == "" {
		return "missing"
	}
	return "set"
}

// Money is an amount in minor units (cents), so prices are quoted exactly
// as stored.
type Money int64

// String formats the amount with two decimals, as in "34.00".
func (m Money) String() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign = "-"
		v = -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// Format formats the amount with a currency code or symbol.
func (m Money) Format(currency string) string {
	switch strings.ToUpper(currency) {
	case "", "USD":
		return "$" + m.String()
	case "EUR":
		return "€" + m.String()
	case "GBP":
		return "£" + m.String()
	}
	return m.String() + " " + currency
}

// moneyPattern is the grammar ParseMoney takes. An optional minus sign and
// dollar sign come first. Then come digits with an optional point and
// decimals, digits grouped in threes by commas, or digits with a decimal
// comma and one or two decimals, as in "12,50".
var moneyPattern = regexp.MustCompile(`^(-)?\$?(?:(\d*)(?:\.(\d+))?|(\d{1,3}(?:,\d{3})+)(?:\.(\d+))?|(\d+),(\d{1,2}))$`)

// maxMoneyUnits bounds the whole units ParseMoney takes. It is far above
// any price and keeps units*100 within int64.
const maxMoneyUnits = 1_000_000_000_000_000

// ParseMoney parses a decimal amount such as "34", "34.5", "1,299.99" or
// the decimal comma of "12,50". More than two decimals are accepted only
// when the extra digits are zero, as in Magento's "34.000000". Anything
// else, as "5.-3" or "1,2,3", is an error rather than a guess.
func ParseMoney(s string) (Money, error) {
	clean := strings.TrimSpace(s)
	if clean == "" {
		return 0, fmt.Errorf("invalid price %q: empty", s)
	}
	m := moneyPattern.FindStringSubmatch(clean)
	if m == nil || clean == "-" || clean == "$" || clean == "-$" || clean == "." {
		return 0, fmt.Errorf("invalid price %q: write digits with an optional decimal point, as 1299.99 or 1,299.99", s)
	}
	var whole, frac string
	switch {
	case m[6] != "":
		whole, frac = m[6], m[7]
	case m[4] != "":
		whole, frac = strings.ReplaceAll(m[4], ",", ""), m[5]
	default:
		whole, frac = m[2], m[3]
	}
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("invalid price %q: write digits with an optional decimal point, as 1299.99 or 1,299.99", s)
	}
	if len(frac) > 2 {
		if strings.Trim(frac[2:], "0") != "" {
			return 0, fmt.Errorf("invalid price %q: more than two decimals", s)
		}
		frac = frac[:2]
	}
	for len(frac) < 2 {
		frac += "0"
	}
	if whole == "" {
		whole = "0"
	}
	units, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || units >= maxMoneyUnits {
		return 0, fmt.Errorf("invalid price %q: too large", s)
	}
	cents, _ := strconv.ParseInt(frac, 10, 64)
	total := units*100 + cents
	if m[1] == "-" {
		total = -total
	}
	return Money(total), nil
}

// MoneyFromFloat converts a JSON number such as 47.84 to minor units,
// rounding to the nearest cent.
func MoneyFromFloat(f float64) Money {
	if f < 0 {
		return Money(f*100 - 0.5)
	}
	return Money(f*100 + 0.5)
}

// Product is a catalog entry with its buyable variants.
type Product struct {
	ID          int64
	ShopID      int64
	ExternalID  string
	Handle      string
	Title       string
	Description string
	ProductType string
	Vendor      string
	Tags        []string
	ImageURL    string
	// Attributes are extra facts such as material or activity.
	Attributes map[string]string
	Variants   []Variant
}

// Option is one named choice of a variant, such as Size = M.
type Option struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Variant is one buyable item of a product.
type Variant struct {
	ID             int64
	ProductID      int64
	ExternalID     string
	SKU            string
	Title          string
	Options        []Option
	Price          Money
	CompareAtPrice *Money
	// Stock is nil when the store does not track inventory for the variant.
	Stock     *int
	Available bool
}

// Option returns the value of the named option, matched case-insensitively.
func (v Variant) Option(name string) string {
	for _, o := range v.Options {
		if strings.EqualFold(o.Name, name) {
			return o.Value
		}
	}
	return ""
}

// InStock reports whether the variant can be bought now.
func (v Variant) InStock() bool {
	if !v.Available {
		return false
	}
	return v.Stock == nil || *v.Stock > 0
}

// Document kinds.
const (
	KindFAQ       = "faq"
	KindPolicy    = "policy"
	KindSizeGuide = "size_guide"
	KindPage      = "page"
	KindProduct   = "product"
)

// Document is an FAQ entry, policy, size guide or store page.
type Document struct {
	ID          int64
	ShopID      int64
	Kind        string
	Source      string
	Key         string
	Title       string
	ProductType string
	Body        string
	// Table is set for size guides.
	Table *Table
}

// SynonymRule is one line of a shop's search synonyms file. With Outputs
// empty, the Inputs are equivalent, so a query with any one of them also
// finds the others. Otherwise a query with one of the Inputs also finds
// the Outputs, but not the other way round. Terms may have several words.
type SynonymRule struct {
	// Line is the rule's line number in its file, from 1.
	Line    int
	Inputs  []string
	Outputs []string
}

// Table is a size guide's rows under named columns.
type Table struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	Notes   string     `json:"notes,omitempty"`
}

// Customer is a shopper known to the shop, with the profile the agent keeps.
type Customer struct {
	ID         int64
	ShopID     int64
	ExternalID string
	Email      string
	Name       string
	Phone      string
	Profile    Profile
}

// Profile is what the agent has learnt about a shopper across conversations.
type Profile struct {
	Needs         map[string]int `json:"needs,omitempty"`
	ToolsUsed     map[string]int `json:"tools_used,omitempty"`
	CartsSaved    int            `json:"carts_saved,omitempty"`
	Escalations   int            `json:"escalations,omitempty"`
	Purchases     int            `json:"purchases,omitempty"`
	LastSeenAt    *time.Time     `json:"last_seen_at,omitempty"`
	PreferredSize string         `json:"preferred_size,omitempty"`
	// Consent is the shopper's latest choice about proactive messages,
	// such as WhatsApp templates. Nil means they never made one.
	Consent *Consent `json:"consent,omitempty"`
}

// Consent is a shopper's choice about messages the shop sends on its own
// initiative. Replies to the shopper's own messages do not need it.
type Consent struct {
	// OptedOut is set when the shopper asked to stop proactive messages.
	OptedOut bool `json:"opted_out"`
	// Channel is the channel on which the shopper chose, such as "whatsapp".
	Channel string `json:"channel"`
	// Keyword is the message that recorded the choice, such as "STOP".
	Keyword string    `json:"keyword,omitempty"`
	At      time.Time `json:"at"`
}

// Order is a placed order with its fulfilments.
type Order struct {
	ID           int64
	ShopID       int64
	CustomerID   *int64
	Number       string
	Status       string
	Items        []OrderItem
	Fulfillments []Fulfillment
	Total        *Money
	PlacedAt     *time.Time
}

// OrderItem is one line of an order.
type OrderItem struct {
	Name      string   `json:"name"`
	SKU       string   `json:"sku,omitempty"`
	ProductID string   `json:"product_id,omitempty"`
	Options   []Option `json:"options,omitempty"`
	Price     Money    `json:"price"`
	Quantity  int      `json:"quantity"`
}

// Fulfillment is one shipment of an order.
type Fulfillment struct {
	Carrier     string   `json:"carrier,omitempty"`
	TrackingIDs []string `json:"tracking_ids"`
	ItemSKUs    []string `json:"item_skus,omitempty"`
}

// Channels a conversation can run on.
const (
	ChannelWeb      = "web"
	ChannelWhatsApp = "whatsapp"
	ChannelCLI      = "cli"
)

// Conversation statuses.
const (
	StatusOpen      = "open"
	StatusEscalated = "escalated"
	StatusOperator  = "operator"
	StatusResolved  = "resolved"
)

// Conversation is one thread between a shopper and the shop.
type Conversation struct {
	ID         int64
	ShopID     int64
	CustomerID *int64
	Channel    string
	Status     string
	LastSeq    int
	// OwnerOperatorID is the operator holding the conversation while its
	// status is operator, and nil otherwise.
	OwnerOperatorID *int64
	CreatedAt       time.Time
}

// Message roles.
const (
	RoleShopper  = "shopper"
	RoleAgent    = "agent"
	RoleOperator = "operator"
	RoleSystem   = "system"
)

// Message is one persisted message of a conversation. Seq numbers messages
// within the conversation from 1 without gaps; shoppers do not see the
// numbers of operators' internal notes.
type Message struct {
	ID             int64      `json:"-"`
	ConversationID int64      `json:"-"`
	Seq            int        `json:"seq"`
	Role           string     `json:"role"`
	Body           string     `json:"text"`
	Cards          []Card     `json:"cards,omitempty"`
	Citations      []Citation `json:"citations,omitempty"`
	ClientID       string     `json:"client_id,omitempty"`
	ReplyTo        int        `json:"reply_to,omitempty"`
	// Internal marks an operator's note, which only operators see. The
	// shopper-facing message queries leave internal messages out.
	Internal bool `json:"internal,omitempty"`
	// OperatorID is the operator who wrote an operator reply or note. It is
	// left out of JSON so that shoppers do not see operator ids.
	OperatorID int64 `json:"-"`
	// Author is the display name of the operator who wrote an operator
	// message, which the widget shows beside it. It is empty otherwise.
	Author    string    `json:"author,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Card types.
const (
	CardSizeGuide = "size_guide"
	CardProducts  = "products"
	CardCart      = "cart"
	CardOrder     = "order"
	CardHandoff   = "handoff"
	CardDiscount  = "discount"
)

// Card is structured content shown beside an answer: a size table, product
// tiles, a saved-cart link, an order's status or a handoff notice.
type Card struct {
	Type     string        `json:"type"`
	Title    string        `json:"title,omitempty"`
	Table    *Table        `json:"table,omitempty"`
	Products []ProductTile `json:"products,omitempty"`
	URL      string        `json:"url,omitempty"`
	Text     string        `json:"text,omitempty"`
	Fields   []Field       `json:"fields,omitempty"`
}

// ProductTile is a product shown in a card.
type ProductTile struct {
	Handle   string `json:"handle"`
	Title    string `json:"title"`
	Price    string `json:"price"`
	ImageURL string `json:"image_url,omitempty"`
	URL      string `json:"url,omitempty"`
	InStock  bool   `json:"in_stock"`
}

// Field is a labelled value in a card.
type Field struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Citation points an answer back to the stored fact it used.
type Citation struct {
	Kind       string `json:"kind"`
	ChunkID    int64  `json:"chunk_id,omitempty"`
	ProductID  int64  `json:"product_id,omitempty"`
	SKU        string `json:"sku,omitempty"`
	DocumentID int64  `json:"document_id,omitempty"`
	Title      string `json:"title"`
	Heading    string `json:"heading,omitempty"`
}

// CartItem is one line of a shopper's cart.
type CartItem struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"qty"`
}

// Event types of the append-only outcomes log.
const (
	EventNeedRecognised = "need_recognised"
	EventToolCalled     = "tool_called"
	EventCartSaved      = "cart_saved"
	EventEscalated      = "escalated"
	EventBought         = "bought"
	EventAnswered       = "answered"
	// The handoff steps, recorded with the operator's id.
	EventOperatorClaimed = "operator_claimed"
	EventHandedBack      = "handed_back"
	EventResolved        = "resolved"
)

// Event is one outcome recorded for a conversation.
type Event struct {
	ShopID         int64
	ConversationID *int64
	CustomerID     *int64
	Type           string
	Data           json.RawMessage
	CreatedAt      time.Time
}

// ValidSlug reports whether s can name a shop: 1 to 63 lowercase letters,
// digits and hyphens, starting with a letter or digit.
func ValidSlug(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
