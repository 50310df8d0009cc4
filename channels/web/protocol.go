package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
)

// Frame types of the widget protocol. docs/widget-protocol.md describes each
// frame with its fields.
const (
	// Sent by the client.
	FrameHello   = "hello"
	FrameMessage = "message"

	// Sent by the server. FrameMessage is also a server frame, carrying a
	// stored message.
	FrameWelcome = "welcome"
	FrameAck     = "ack"
	FrameDelta   = "delta"
	FrameReplace = "replace"
	FrameCard    = "card"
	FrameTool    = "tool"
	FrameHandoff = "handoff"
	FrameHeld    = "held"
	FrameError   = "error"
)

// Limits on the contents of client frames. Frame size and text length are
// configurable; these are fixed by the protocol.
const (
	maxClientIDLength = 64
	maxTokenLength    = 128
	maxShopKeyLength  = 128
	maxHandleLength   = 255
	maxSKULength      = 128
	maxURLLength      = 2048
	maxCartItems      = 50
	maxCartQuantity   = 999
)

// Page is the context the shopper's page sends: the product in view, the
// selected variant and the page address.
type Page struct {
	Product string `json:"product,omitempty"`
	SKU     string `json:"sku,omitempty"`
	URL     string `json:"url,omitempty"`
}

// HelloFrame opens a session. The client sends it first.
type HelloFrame struct {
	Type         string                `json:"type"`
	ShopKey      string                `json:"shop_key"`
	VisitorToken string                `json:"visitor_token,omitempty"`
	LastSeq      int                   `json:"last_seq,omitempty"`
	Page         *Page                 `json:"page,omitempty"`
	Cart         []salesagent.CartItem `json:"cart,omitempty"`
}

// MessageFrame is a shopper message sent by the client.
type MessageFrame struct {
	Type     string                `json:"type"`
	ClientID string                `json:"client_id"`
	Text     string                `json:"text"`
	Page     *Page                 `json:"page,omitempty"`
	Cart     []salesagent.CartItem `json:"cart,omitempty"`
}

// WelcomeFrame is the reply to hello: the session's conversation and every
// message after the client's last_seq.
type WelcomeFrame struct {
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id"`
	VisitorToken   string `json:"visitor_token"`
	ShopName       string `json:"shop_name"`
	// Reset tells the client to drop the messages it kept, because the
	// conversation is new or the client's last_seq is ahead of the server.
	Reset   bool                 `json:"reset"`
	Status  string               `json:"status"`
	LastSeq int                  `json:"last_seq"`
	History []salesagent.Message `json:"history"`
}

// AckFrame confirms that a shopper message is stored under seq.
type AckFrame struct {
	Type      string `json:"type"`
	ClientID  string `json:"client_id"`
	Seq       int    `json:"seq"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// DeltaFrame carries the next part of the agent's reply to the shopper
// message whose seq is Turn.
type DeltaFrame struct {
	Type string `json:"type"`
	Turn int    `json:"turn"`
	Text string `json:"text"`
}

// ReplaceFrame carries the whole reply text of a turn so far, in place of
// the text of every delta frame of the turn before it. The server sends it
// when the agent corrects a reply it has streamed: the grounding guard
// removed unsupported claims, or the offline agent answered after the LLM
// failed mid-stream. Deltas after it append to Text.
type ReplaceFrame struct {
	Type string `json:"type"`
	Turn int    `json:"turn"`
	Text string `json:"text"`
}

// CardFrame carries a card shown beside the reply of a turn.
type CardFrame struct {
	Type string          `json:"type"`
	Turn int             `json:"turn"`
	Card salesagent.Card `json:"card"`
}

// ToolFrame reports a tool the agent called during a turn. The tool's
// arguments are left out because they may hold the shopper's personal data.
type ToolFrame struct {
	Type    string `json:"type"`
	Turn    int    `json:"turn"`
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Summary string `json:"summary"`
}

// HandoffFrame reports that a person takes the conversation over.
type HandoffFrame struct {
	Type   string `json:"type"`
	Turn   int    `json:"turn"`
	Reason string `json:"reason"`
}

// HeldFrame ends a turn that gets no agent reply because a person from the
// shop holds the conversation. That person's reply comes later as a
// message frame. Text streamed for the turn, if any, is withdrawn.
type HeldFrame struct {
	Type string `json:"type"`
	Turn int    `json:"turn"`
}

// StoredMessageFrame delivers a stored message: the agent's final reply of
// a turn, an operator's reply, or a message sent from another tab.
type StoredMessageFrame struct {
	Type string `json:"type"`
	// Turn is set on the agent's reply to a shopper message that this
	// socket sent, and is that message's seq. It is 0 on other messages.
	Turn    int                `json:"turn,omitempty"`
	Message salesagent.Message `json:"message"`
}

// ErrorFrame reports a rejected frame or a failed turn. Code is one of the
// salesagent error codes; Message is safe to show the shopper.
type ErrorFrame struct {
	Type     string `json:"type"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	ClientID string `json:"client_id,omitempty"`
	Turn     int    `json:"turn,omitempty"`
	// RetryAfterMS is set on rate_limited errors: the wait before the
	// message may be sent again, in milliseconds.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
	// Fatal means the server closes the socket after this frame and the
	// client must not reconnect with the same hello.
	Fatal bool `json:"fatal,omitempty"`
}

// ServerFrame is any frame the server sends, decoded into one struct for
// clients. Raw keeps the frame's JSON as received.
type ServerFrame struct {
	Type string `json:"type"`

	// welcome
	ConversationID int64                `json:"conversation_id,omitempty"`
	VisitorToken   string               `json:"visitor_token,omitempty"`
	ShopName       string               `json:"shop_name,omitempty"`
	Reset          bool                 `json:"reset,omitempty"`
	Status         string               `json:"status,omitempty"`
	LastSeq        int                  `json:"last_seq,omitempty"`
	History        []salesagent.Message `json:"history,omitempty"`

	// ack
	ClientID  string `json:"client_id,omitempty"`
	Seq       int    `json:"seq,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`

	// delta, replace, card, tool, handoff, message
	Turn    int                 `json:"turn,omitempty"`
	Text    string              `json:"text,omitempty"`
	Card    *salesagent.Card    `json:"card,omitempty"`
	Name    string              `json:"name,omitempty"`
	OK      bool                `json:"ok,omitempty"`
	Summary string              `json:"summary,omitempty"`
	Reason  string              `json:"reason,omitempty"`
	Message *salesagent.Message `json:"message,omitempty"`

	// error
	Code         string `json:"code,omitempty"`
	ErrorMessage string `json:"-"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
	Fatal        bool   `json:"fatal,omitempty"`

	Raw json.RawMessage `json:"-"`
}

// DecodeServerFrame decodes one server frame. The message field is an object
// in message frames and a string in error frames, so it is decoded by type.
func DecodeServerFrame(data []byte) (ServerFrame, error) {
	var head struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return ServerFrame{}, fmt.Errorf("decode server frame: %w", err)
	}

	// Decode everything but message through an alias that drops the field,
	// then the message by frame type.
	type plain ServerFrame
	var f struct {
		plain
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return ServerFrame{}, fmt.Errorf("decode %s frame: %w", head.Type, err)
	}
	frame := ServerFrame(f.plain)
	frame.Raw = append(json.RawMessage(nil), data...)
	if len(head.Message) == 0 {
		return frame, nil
	}
	if head.Type == FrameError {
		if err := json.Unmarshal(head.Message, &frame.ErrorMessage); err != nil {
			return ServerFrame{}, fmt.Errorf("decode error frame message: %w", err)
		}
		return frame, nil
	}
	var m salesagent.Message
	if err := json.Unmarshal(head.Message, &m); err != nil {
		return ServerFrame{}, fmt.Errorf("decode %s frame message: %w", head.Type, err)
	}
	frame.Message = &m
	return frame, nil
}

// clientFrame is any frame a client sends, decoded into one struct.
type clientFrame struct {
	Type         string                `json:"type"`
	ShopKey      string                `json:"shop_key"`
	VisitorToken string                `json:"visitor_token"`
	LastSeq      int                   `json:"last_seq"`
	ClientID     string                `json:"client_id"`
	Text         string                `json:"text"`
	Page         *Page                 `json:"page"`
	Cart         []salesagent.CartItem `json:"cart"`
}

// decodeClientFrame decodes and checks one client frame. Errors are
// application errors whose messages tell the sender what to fix.
func decodeClientFrame(data []byte, maxTextRunes int) (clientFrame, error) {
	var f clientFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return f, salesagent.Errorf(salesagent.EINVALID, "%s", jsonProblem(err))
	}

	switch f.Type {
	case FrameHello:
		return f, checkHello(f)
	case FrameMessage:
		return f, checkMessage(&f, maxTextRunes)
	case "":
		return f, salesagent.Errorf(salesagent.EINVALID, "frame has no \"type\" field; use \"hello\" or \"message\"")
	}
	return f, salesagent.Errorf(salesagent.EINVALID, "unknown frame type %q; use \"hello\" or \"message\"", truncate(f.Type, 40))
}

func checkHello(f clientFrame) error {
	switch {
	case strings.TrimSpace(f.ShopKey) == "":
		return salesagent.Errorf(salesagent.EINVALID, "hello has no shop_key; copy the data-shop-key of the widget's script tag")
	case len(f.ShopKey) > maxShopKeyLength:
		return salesagent.Errorf(salesagent.EINVALID, "shop_key is %d bytes long; a widget key has at most %d", len(f.ShopKey), maxShopKeyLength)
	case len(f.VisitorToken) > maxTokenLength:
		return salesagent.Errorf(salesagent.EINVALID, "visitor_token is %d bytes long; a token has at most %d, so drop it to start anew", len(f.VisitorToken), maxTokenLength)
	case f.LastSeq < 0:
		return salesagent.Errorf(salesagent.EINVALID, "last_seq is %d; use 0 or the seq of the last message received", f.LastSeq)
	}
	return checkContext(f.Page, f.Cart)
}

func checkMessage(f *clientFrame, maxTextRunes int) error {
	f.Text = strings.TrimSpace(f.Text)
	switch {
	case f.ClientID == "":
		return salesagent.Errorf(salesagent.EINVALID, "message has no client_id; send a new UUID with each message")
	case len(f.ClientID) > maxClientIDLength || !printableASCII(f.ClientID):
		return salesagent.Errorf(salesagent.EINVALID, "invalid client_id %q: use a UUID (at most %d printable ASCII characters)", truncate(f.ClientID, 80), maxClientIDLength)
	case f.Text == "":
		return salesagent.Errorf(salesagent.EINVALID, "message text is empty; type a question and send it again")
	case !utf8.ValidString(f.Text):
		return salesagent.Errorf(salesagent.EINVALID, "message text is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(f.Text); n > maxTextRunes {
		return salesagent.Errorf(salesagent.ETOOLARGE,
			"message is %d characters long; the limit is %d, so shorten it and send it again", n, maxTextRunes)
	}
	return checkContext(f.Page, f.Cart)
}

// checkContext checks the page context and cart that hello and message
// frames may carry.
func checkContext(page *Page, cart []salesagent.CartItem) error {
	if page != nil {
		switch {
		case len(page.Product) > maxHandleLength:
			return salesagent.Errorf(salesagent.EINVALID, "page.product is %d bytes long; a product handle has at most %d", len(page.Product), maxHandleLength)
		case len(page.SKU) > maxSKULength:
			return salesagent.Errorf(salesagent.EINVALID, "page.sku is %d bytes long; a SKU has at most %d", len(page.SKU), maxSKULength)
		case len(page.URL) > maxURLLength:
			return salesagent.Errorf(salesagent.EINVALID, "page.url is %d bytes long; the limit is %d", len(page.URL), maxURLLength)
		}
	}
	if len(cart) > maxCartItems {
		return salesagent.Errorf(salesagent.EINVALID, "cart has %d lines; the limit is %d", len(cart), maxCartItems)
	}
	for i, item := range cart {
		switch {
		case item.SKU == "" || len(item.SKU) > maxSKULength:
			return salesagent.Errorf(salesagent.EINVALID, "cart line %d has an invalid sku %q: use 1 to %d bytes", i+1, truncate(item.SKU, 40), maxSKULength)
		case item.Quantity < 1 || item.Quantity > maxCartQuantity:
			return salesagent.Errorf(salesagent.EINVALID, "cart line %d (%s) has qty %d; use 1 to %d", i+1, item.SKU, item.Quantity, maxCartQuantity)
		}
	}
	return nil
}

// pageContext builds the agent's view of the page from the latest page and
// cart the client sent.
func pageContext(page *Page, cart []salesagent.CartItem) agent.PageContext {
	var pc agent.PageContext
	if page != nil {
		pc.ProductHandle, pc.SKU, pc.URL = page.Product, page.SKU, page.URL
	}
	pc.Cart = cart
	return pc
}

// jsonProblem describes a JSON decoding error of a client frame in plain
// words, naming the field and the JSON type it needs, without echoing the
// input or Go type names.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid frame: malformed JSON at byte %d; send one JSON object with a \"type\" field", syntax.Offset)
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return "a frame must be a JSON object with a \"type\" field" + notValue(typeErr.Value)
	case errors.As(err, &typeErr):
		return fmt.Sprintf("invalid frame: field %q must be %s%s", typeErr.Field, jsonTypeName(typeErr.Type), notValue(typeErr.Value))
	}
	return "invalid frame: malformed JSON; send one JSON object with a \"type\" field"
}

// jsonTypeName names the JSON type that decodes into Go type t.
func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another JSON type"
}

// notValue names the JSON value that encoding/json reports in an
// UnmarshalTypeError ("array", "string", "number 1.5", ...) as a clause
// such as ", not an array". Numbers get no clause: a number where a whole
// number is expected is clear from the expected type alone.
func notValue(value string) string {
	switch value {
	case "array", "object":
		return ", not an " + value
	case "string":
		return ", not a string"
	case "bool":
		return ", not true or false"
	}
	return ""
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// truncate shortens s to at most n bytes on a rune boundary, for quoting
// client input in error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
