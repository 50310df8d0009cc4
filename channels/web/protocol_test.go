package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/salesagent/salesagent"
)

func TestOriginAllowed(t *testing.T) {
	t.Parallel()
	allowed := []string{"https://shop.example", "http://localhost:3000/", "https://[::1]:8443"}
	cases := []struct {
		origin, host, public string
		want                 bool
	}{
		{"", "chat.example", "", true},
		{"https://chat.example", "chat.example", "", true},
		{"https://CHAT.example", "chat.example", "", true},
		{"https://shop.example", "chat.example", "", true},
		{"https://shop.example:443", "chat.example", "", true},
		{"http://localhost:3000", "chat.example", "", true},
		{"https://[::1]:8443", "chat.example", "", true},
		{"https://public.example", "10.0.0.5:8080", "https://public.example/base", true},
		{"https://shop.example.evil", "chat.example", "", false},
		{"https://evil.example", "chat.example", "", false},
		{"null", "chat.example", "", false},
		{"file://", "chat.example", "", false},
		{"http://shop.example", "chat.example", "", false},
	}
	for _, tc := range cases {
		if got := originAllowed(tc.origin, tc.host, tc.public, allowed); got != tc.want {
			t.Errorf("originAllowed(%q, host %q, public %q) = %v, want %v", tc.origin, tc.host, tc.public, got, tc.want)
		}
	}
}

func TestVisitorLimits(t *testing.T) {
	t.Parallel()
	limits := newVisitorLimits(RateLimit{Burst: 5, Every: 2 * time.Second})
	now := time.Unix(1_800_000_000, 0)
	for i := 0; i < 5; i++ {
		if ok, _ := limits.reserve(1, now); !ok {
			t.Fatalf("message %d of the burst was limited", i+1)
		}
	}
	ok, wait := limits.reserve(1, now)
	if ok || wait != 2*time.Second {
		t.Errorf("sixth message: ok %v, wait %v, want limited for 2s", ok, wait)
	}
	if ok, _ := limits.reserve(2, now); !ok {
		t.Error("another visitor shares the bucket")
	}
	if ok, _ := limits.reserve(1, now.Add(2*time.Second)); !ok {
		t.Error("a token was not earned back after 2s")
	}

	// Buckets idle long enough to be full again are dropped.
	limits.reserve(3, now.Add(time.Hour))
	limits.mu.Lock()
	n := len(limits.buckets)
	limits.mu.Unlock()
	if n != 1 {
		t.Errorf("%d buckets kept after an hour, want 1", n)
	}
}

func TestDecodeServerFrame(t *testing.T) {
	t.Parallel()
	msg, err := DecodeServerFrame([]byte(`{"type":"message","turn":3,"message":{"seq":4,"role":"agent","text":"Hi","reply_to":3,"created_at":"2026-01-02T03:04:05Z"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Message == nil || msg.Message.Seq != 4 || msg.Message.Body != "Hi" || msg.Turn != 3 {
		t.Errorf("message frame = %+v", msg)
	}
	e, err := DecodeServerFrame([]byte(`{"type":"error","code":"invalid","message":"bad","fatal":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.ErrorMessage != "bad" || !e.Fatal || salesagent.ErrorCode(e.Err()) != salesagent.EINVALID {
		t.Errorf("error frame = %+v", e)
	}
	if _, err := DecodeServerFrame([]byte(`{"type":"message","message":"oops"}`)); err == nil {
		t.Error("message frame with a string message decoded")
	}
}

func TestFramesRoundTrip(t *testing.T) {
	t.Parallel()
	frames := []any{
		AckFrame{Type: FrameAck, ClientID: "c1", Seq: 7},
		DeltaFrame{Type: FrameDelta, Turn: 7, Text: "Hel"},
		ReplaceFrame{Type: FrameReplace, Turn: 7, Text: "Hello"},
		ToolFrame{Type: FrameTool, Turn: 7, Name: "search_products", OK: false, Summary: "no match"},
		HandoffFrame{Type: FrameHandoff, Turn: 7, Reason: "refund request"},
		CardFrame{Type: FrameCard, Turn: 7, Card: sizeGuideCard},
	}
	for _, frame := range frames {
		data, _ := json.Marshal(frame)
		f, err := DecodeServerFrame(data)
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if f.Turn != 7 && f.Seq != 7 {
			t.Errorf("%s decoded without its turn or seq", data)
		}
	}
	data, _ := json.Marshal(ToolFrame{Type: FrameTool, Name: "x"})
	if !strings.Contains(string(data), `"ok":false`) {
		t.Errorf("tool frame %s leaves out ok", data)
	}
}

func TestClientFrameTypeErrorsInPlainWords(t *testing.T) {
	t.Parallel()
	cases := []struct {
		frame, want string
	}{
		{`[1,2]`, `a frame must be a JSON object with a "type" field, not an array`},
		{`"hello"`, `a frame must be a JSON object with a "type" field, not a string`},
		{`42`, `a frame must be a JSON object with a "type" field`},
		{`{"type":"hello","shop_key":"pk_x","page":"trail-tee"}`, `invalid frame: field "page" must be an object, not a string`},
		{`{"type":"hello","shop_key":"pk_x","last_seq":"3"}`, `invalid frame: field "last_seq" must be a whole number, not a string`},
		{`{"type":"hello","shop_key":"pk_x","last_seq":1.5}`, `invalid frame: field "last_seq" must be a whole number`},
		{`{"type":"message","client_id":"c1","text":"hi","cart":{"sku":"A"}}`, `invalid frame: field "cart" must be an array, not an object`},
		{`{"type":"message","client_id":"c1","text":"hi","cart":[{"sku":"A","qty":"2"}]}`, `invalid frame: field "cart.qty" must be a whole number, not a string`},
		{`{"type":"message","client_id":"c1","text":true}`, `invalid frame: field "text" must be a string, not true or false`},
		{`{"type":"message",`, `invalid frame: malformed JSON at byte 18; send one JSON object with a "type" field`},
	}
	for _, tc := range cases {
		_, err := decodeClientFrame([]byte(tc.frame), 100)
		if salesagent.ErrorCode(err) != salesagent.EINVALID {
			t.Errorf("frame %s: code %q, want invalid", tc.frame, salesagent.ErrorCode(err))
		}
		if got := salesagent.ErrorMessage(err); got != tc.want {
			t.Errorf("frame %s:\n got %q\nwant %q", tc.frame, got, tc.want)
		}
	}
}

func TestLeadingClientID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, frame, want string
	}{
		{"first", `{"type":"message","client_id":"e012ad67-12dc","text":"` + strings.Repeat("a", 2000) + `"}`, "e012ad67-12dc"},
		{"spaced", `{"type": "message", "client_id" : "id-2", "text": "x"}`, "id-2"},
		{"after long text", `{"type":"message","text":"` + strings.Repeat("a", 600) + `","client_id":"late"}`, ""},
		{"escaped quote in text", `{"type":"message","text":"say \"client_id\":\"fake\"","client_id":"real"}`, "real"},
		{"escaped id", `{"type":"message","client_id":"a\"b"}`, ""},
		{"too long", `{"client_id":"` + strings.Repeat("x", 65) + `"}`, ""},
		{"none", `{"type":"message","text":"hi"}`, ""},
	}
	for _, tc := range cases {
		if got := leadingClientID([]byte(tc.frame)); got != tc.want {
			t.Errorf("%s: leadingClientID = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzDecodeClientFrame checks that no input panics the decoder and that
// accepted frames hold what the server relies on.
func FuzzDecodeClientFrame(f *testing.F) {
	seeds := []string{
		`{"type":"hello","shop_key":"pk_x","visitor_token":"vt_y","last_seq":3,"page":{"product":"tee"},"cart":[{"sku":"A","qty":1}]}`,
		`{"type":"message","client_id":"c1","text":" hi "}`,
		`{"type":"message","client_id":"c1","text":"\u0000"}`,
		`{"type":"hello","last_seq":-1}`,
		`{"type":1}`, `[]`, `null`, `{`, ``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		frame, err := decodeClientFrame(data, 50)
		if err != nil {
			if salesagent.ErrorMessage(err) == "" {
				t.Fatalf("error without a message for %q", data)
			}
			return
		}
		switch frame.Type {
		case FrameHello:
			if frame.ShopKey == "" || frame.LastSeq < 0 || len(frame.VisitorToken) > maxTokenLength {
				t.Fatalf("accepted bad hello %q", data)
			}
		case FrameMessage:
			if frame.Text == "" || strings.TrimSpace(frame.Text) != frame.Text || utf8.RuneCountInString(frame.Text) > 50 || frame.ClientID == "" {
				t.Fatalf("accepted bad message %q", data)
			}
		default:
			t.Fatalf("accepted frame type %q", frame.Type)
		}
		if len(frame.Cart) > maxCartItems {
			t.Fatalf("accepted %d cart lines", len(frame.Cart))
		}
		for _, item := range frame.Cart {
			if item.Quantity < 1 || item.SKU == "" {
				t.Fatalf("accepted cart line %+v", item)
			}
		}
	})
}
