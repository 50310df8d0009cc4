package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of a Client.
const (
	DefaultBaseURL    = "https://graph.facebook.com"
	DefaultAPIVersion = "v21.0"
	defaultTimeout    = 20 * time.Second
	// maxResponseBytes caps the Graph API response read, which is a few
	// hundred bytes for a sent message.
	maxResponseBytes = 1 << 20
)

// ClientConfig sets up a Client. Every field has a default.
type ClientConfig struct {
	// BaseURL is the Graph API root. Defaults to https://graph.facebook.com.
	BaseURL string
	// APIVersion is the Graph API version in the path. Defaults to v21.0.
	APIVersion string
	// Timeout bounds one request, including reading the response.
	// Defaults to 20s.
	Timeout time.Duration
	// HTTPClient sends the requests. Defaults to a client with Timeout.
	HTTPClient *http.Client
}

// Client sends messages through the WhatsApp Cloud API. One Client serves
// every shop, because each call names the shop's number and token.
type Client struct {
	base       string
	version    string
	httpClient *http.Client
}

// NewClient returns a Client, or an error naming a bad BaseURL or
// APIVersion.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("invalid WhatsApp Graph API base URL %q: use an absolute URL such as %s", cfg.BaseURL, DefaultBaseURL)
	}
	if !strings.HasPrefix(cfg.APIVersion, "v") || strings.Trim(cfg.APIVersion[1:], "0123456789.") != "" || len(cfg.APIVersion) < 2 {
		return nil, fmt.Errorf("invalid WhatsApp Graph API version %q: use a version such as %s", cfg.APIVersion, DefaultAPIVersion)
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: cfg.Timeout}
	}
	return &Client{base: strings.TrimRight(cfg.BaseURL, "/"), version: cfg.APIVersion, httpClient: httpClient}, nil
}

// Sender is the business number that sends a message and the token that
// authorises it. String hides the token.
type Sender struct {
	PhoneNumberID string
	AccessToken   string
}

// String names the number and hides the token.
func (s Sender) String() string { return "number " + s.PhoneNumberID }

// GoString is String, so that %#v hides the token too.
func (s Sender) GoString() string { return s.String() }

// LogValue logs the number and hides the token.
func (s Sender) LogValue() slog.Value {
	return slog.GroupValue(slog.String("phone_number_id", s.PhoneNumberID), slog.String("access_token", secretState(s.AccessToken)))
}

func secretState(secret string) string {
	if secret == "" {
		return "missing"
	}
	return "set"
}

// Message is the body of a POST /{version}/{phone-number-id}/messages
// request, in the Cloud API's field names.
type Message struct {
	MessagingProduct string       `json:"messaging_product"`
	RecipientType    string       `json:"recipient_type,omitempty"`
	To               string       `json:"to"`
	Type             string       `json:"type"`
	Text             *Text        `json:"text,omitempty"`
	Interactive      *Interactive `json:"interactive,omitempty"`
	Template         *Template    `json:"template,omitempty"`
	// BizOpaqueCallbackData comes back in the message's status webhooks.
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data,omitempty"`
}

// Text is a text message's content.
type Text struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

// Interactive is a reply-button or list message.
type Interactive struct {
	// Type is "button" or "list".
	Type   string             `json:"type"`
	Header *InteractiveHeader `json:"header,omitempty"`
	Body   InteractiveText    `json:"body"`
	Footer *InteractiveText   `json:"footer,omitempty"`
	Action InteractiveAction  `json:"action"`
}

// InteractiveHeader is the header of an interactive message.
type InteractiveHeader struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
}

// InteractiveText is the body or footer of an interactive message.
type InteractiveText struct {
	Text string `json:"text"`
}

// InteractiveAction holds a button message's buttons, or a list message's
// button label and sections.
type InteractiveAction struct {
	Buttons  []Button  `json:"buttons,omitempty"`
	Button   string    `json:"button,omitempty"`
	Sections []Section `json:"sections,omitempty"`
}

// Button is one reply button.
type Button struct {
	Type  string      `json:"type"`
	Reply ButtonReply `json:"reply"`
}

// ButtonReply is a reply button's id, which comes back when the shopper
// taps it, and its title.
type ButtonReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Section is a titled group of list rows.
type Section struct {
	Title string `json:"title,omitempty"`
	Rows  []Row  `json:"rows"`
}

// Row is one choice of a list message.
type Row struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Template is a template message: an approved template's name, language
// and parameters.
type Template struct {
	Name       string              `json:"name"`
	Language   TemplateLanguage    `json:"language"`
	Components []TemplateComponent `json:"components,omitempty"`
}

// TemplateLanguage is a template's language code.
type TemplateLanguage struct {
	Code string `json:"code"`
}

// TemplateComponent fills the parameters of one part of a template, such
// as its body.
type TemplateComponent struct {
	Type       string              `json:"type"`
	Parameters []TemplateParameter `json:"parameters"`
}

// TemplateParameter is one text parameter.
type TemplateParameter struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// SendResult is the Cloud API's response to a sent message.
type SendResult struct {
	MessagingProduct string `json:"messaging_product"`
	Contacts         []struct {
		Input string `json:"input"`
		WAID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
}

// MessageID returns the wamid of the sent message.
func (r *SendResult) MessageID() string {
	if len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[0].ID
}

// APIError is an error body of the Graph API, with the HTTP status.
type APIError struct {
	HTTPStatus int
	Message    string
	Type       string
	Code       int
	Subcode    int
	// Details is error_data.details, Meta's explanation of the cause.
	Details     string
	FBTraceID   string
	IsTransient bool
}

// Error describes the error with Meta's code, message and trace id.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "whatsapp api error %d", e.Code)
	if e.Subcode != 0 {
		fmt.Fprintf(&b, " (subcode %d)", e.Subcode)
	}
	fmt.Fprintf(&b, " with HTTP status %d: %s", e.HTTPStatus, e.Message)
	if e.Details != "" {
		b.WriteString(": " + e.Details)
	}
	if e.FBTraceID != "" {
		b.WriteString(" (fbtrace_id " + e.FBTraceID + ")")
	}
	return b.String()
}

// graphErrorBody is the JSON of a Graph API error response.
type graphErrorBody struct {
	Error *struct {
		Message      string `json:"message"`
		Type         string `json:"type"`
		Code         int    `json:"code"`
		ErrorSubcode int    `json:"error_subcode"`
		ErrorData    struct {
			Details string `json:"details"`
		} `json:"error_data"`
		FBTraceID   string `json:"fbtrace_id"`
		IsTransient bool   `json:"is_transient"`
	} `json:"error"`
}

// parseAPIError decodes a Graph API error body. A body that is not one,
// as from a proxy, still gives an APIError with the HTTP status and the
// start of the body.
func parseAPIError(status int, body []byte) *APIError {
	var parsed graphErrorBody
	if err := json.Unmarshal(body, &parsed); err == nil && parsed.Error != nil {
		e := parsed.Error
		return &APIError{
			HTTPStatus: status, Message: e.Message, Type: e.Type, Code: e.Code, Subcode: e.ErrorSubcode,
			Details: e.ErrorData.Details, FBTraceID: e.FBTraceID, IsTransient: e.IsTransient,
		}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	if text == "" {
		text = http.StatusText(status)
	}
	return &APIError{HTTPStatus: status, Message: text}
}

// Send posts msg from the sender's number and returns Meta's response. A
// Graph API error is returned as *APIError. A network error or timeout is
// returned wrapped, and leaves open whether Meta received the message.
func (c *Client) Send(ctx context.Context, from Sender, msg *Message) (*SendResult, error) {
	if from.PhoneNumberID == "" || from.AccessToken == "" {
		return nil, errors.New("send whatsapp message: the shop's phone number id or access token is missing")
	}
	if msg.MessagingProduct == "" {
		msg.MessagingProduct = "whatsapp"
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode whatsapp message: %w", err)
	}
	endpoint := c.base + "/" + c.version + "/" + url.PathEscape(from.PhoneNumberID) + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build whatsapp request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+from.AccessToken)
	req.Header.Set("Content-Type", "application/json")

	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send whatsapp %s message from %s: %w", msg.Type, from, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("read whatsapp response for %s: %w", from, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, parseAPIError(resp.StatusCode, raw)
	}

	var result SendResult
	if err := json.Unmarshal(raw, &result); err != nil {
		return nil, fmt.Errorf("decode whatsapp response for %s: %w", from, err)
	}
	if result.MessageID() == "" {
		return nil, fmt.Errorf("whatsapp response for %s has no message id", from)
	}
	return &result, nil
}

// SendText sends a text message to the WhatsApp id to.
func (c *Client) SendText(ctx context.Context, from Sender, to, body string) (*SendResult, error) {
	return c.Send(ctx, from, textMessage(to, body))
}

// SendButtons sends body with up to three reply buttons.
func (c *Client) SendButtons(ctx context.Context, from Sender, to, body string, buttons []ButtonReply) (*SendResult, error) {
	return c.Send(ctx, from, buttonMessage(to, body, buttons))
}

// SendList sends body with a button that opens the list of sections.
func (c *Client) SendList(ctx context.Context, from Sender, to, body, button string, sections []Section) (*SendResult, error) {
	return c.Send(ctx, from, listMessage(to, body, button, sections))
}

// SendTemplate sends an approved template.
func (c *Client) SendTemplate(ctx context.Context, from Sender, to string, template Template) (*SendResult, error) {
	return c.Send(ctx, from, &Message{MessagingProduct: "whatsapp", RecipientType: "individual", To: to, Type: "template", Template: &template})
}

func textMessage(to, body string) *Message {
	return &Message{
		MessagingProduct: "whatsapp", RecipientType: "individual", To: to, Type: "text",
		Text: &Text{Body: body, PreviewURL: strings.Contains(body, "https://")},
	}
}

func buttonMessage(to, body string, buttons []ButtonReply) *Message {
	action := InteractiveAction{}
	for _, b := range buttons {
		action.Buttons = append(action.Buttons, Button{Type: "reply", Reply: b})
	}
	return &Message{
		MessagingProduct: "whatsapp", RecipientType: "individual", To: to, Type: "interactive",
		Interactive: &Interactive{Type: "button", Body: InteractiveText{Text: body}, Action: action},
	}
}

func listMessage(to, body, button string, sections []Section) *Message {
	return &Message{
		MessagingProduct: "whatsapp", RecipientType: "individual", To: to, Type: "interactive",
		Interactive: &Interactive{Type: "list", Body: InteractiveText{Text: body}, Action: InteractiveAction{Button: button, Sections: sections}},
	}
}
