package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/internal/shareddata"
)

func TestClientSendsMetaWireFormat(t *testing.T) {
	graph := newFakeGraph(t)
	client, err := NewClient(ClientConfig{BaseURL: graph.server.URL})
	if err != nil {
		t.Fatal(err)
	}
	from := Sender{PhoneNumberID: "106540352242922", AccessToken: "token-1"}
	ctx := context.Background()

	result, err := client.SendText(ctx, from, "16505551234", "Hello")
	if err != nil {
		t.Fatal(err)
	}
	if result.MessageID() != "wamid.fake1" || result.Contacts[0].WAID != "16505551234" {
		t.Errorf("result = %+v", result)
	}
	if _, err := client.SendButtons(ctx, from, "16505551234", "Pick one", []ButtonReply{{ID: "a", Title: "A"}, {ID: "b", Title: "B"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SendList(ctx, from, "16505551234", "Choose", "Options", []Section{{Title: "S", Rows: []Row{{ID: "r", Title: "Row"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SendTemplate(ctx, from, "16505551234", Template{Name: "hello_world", Language: TemplateLanguage{Code: "en_US"}}); err != nil {
		t.Fatal(err)
	}
	requests := graph.all()
	if len(requests) != 4 {
		t.Fatalf("graph got %d requests, want 4", len(requests))
	}
	for _, r := range requests {
		if r.PhoneNumberID != from.PhoneNumberID || r.Token != from.AccessToken {
			t.Errorf("request to %s with token %q, want the sender's", r.PhoneNumberID, r.Token)
		}
	}
}

// TestRequestsMatchMetaExamples checks that the request types carry every
// field of Meta's own request examples, so nothing is dropped on the way.
func TestRequestsMatchMetaExamples(t *testing.T) {
	path := shareddata.Path(t, "whatsapp-cloud-api", "outbound-meta-openapi", "POST_messages_request_examples.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var examples map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &examples); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Send Text Message", "Send Reply Button", "Send List Message", "Send Message Template Text"} {
		example, ok := examples[name]
		if !ok {
			t.Fatalf("example %q missing from %s", name, path)
		}
		var m Message
		if err := json.Unmarshal(example.Value, &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, _ := json.Marshal(m)
		for _, field := range fieldPaths(t, example.Value) {
			if strings.Contains(field, "currency") || strings.Contains(field, "date_time") {
				continue // parameter types this channel does not send
			}
			if !strings.Contains(string(again), `"`+field[strings.LastIndex(field, ".")+1:]+`"`) {
				t.Errorf("%s: field %s lost in a round trip", name, field)
			}
		}
	}
}

// fieldPaths lists the object keys in a JSON document as dotted paths.
func fieldPaths(t *testing.T, raw json.RawMessage) []string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var paths []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				paths = append(paths, prefix+k)
				walk(prefix+k+".", child)
			}
		case []any:
			for _, child := range v {
				walk(prefix, child)
			}
		}
	}
	walk("", v)
	return paths
}

func TestClientParsesMetaErrors(t *testing.T) {
	graph := newFakeGraph(t)
	client, err := NewClient(ClientConfig{BaseURL: graph.server.URL})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_subcode":2494010,` +
		`"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"A1b2C3"}}`
	graph.fail(http.StatusBadRequest, body, 1)
	graph.fail(http.StatusBadGateway, "<html>bad gateway</html>", 1)

	_, err = client.SendText(context.Background(), Sender{PhoneNumberID: "1", AccessToken: "t"}, "2", "hi")
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not an APIError", err)
	}
	want := APIError{HTTPStatus: 400, Message: "(#131047) Re-engagement message", Type: "OAuthException", Code: 131047, Subcode: 2494010,
		Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number.", FBTraceID: "A1b2C3"}
	if *apiErr != want {
		t.Errorf("error = %+v, want %+v", *apiErr, want)
	}
	if classify(err) != outcomeWindowClosed {
		t.Errorf("131047 classified %v, want window closed", classify(err))
	}

	_, err = client.SendText(context.Background(), Sender{PhoneNumberID: "1", AccessToken: "t"}, "2", "hi")
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != 502 || !strings.Contains(apiErr.Message, "bad gateway") {
		t.Errorf("non-JSON error = %v", err)
	}
	if classify(err) != outcomeRetry {
		t.Errorf("502 classified %v, want retry", classify(err))
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		want outcome
	}{
		{fmt.Errorf("send: %w", errors.New("connection reset")), outcomeRetry},
		{&APIError{HTTPStatus: 500, Code: 131000}, outcomeRetry},
		{&APIError{HTTPStatus: 400, Code: codeThroughput}, outcomeThrottle},
		{&APIError{HTTPStatus: 400, Code: codePairRateLimit}, outcomeThrottle},
		{&APIError{HTTPStatus: 429}, outcomeThrottle},
		{&APIError{HTTPStatus: 400, Code: codeReengagementLegacy}, outcomeWindowClosed},
		{&APIError{HTTPStatus: 400, Code: codeMarketingStopped}, outcomeOptedOut},
		{&APIError{HTTPStatus: 400, Code: codeUndeliverable}, outcomeFail},
		{&APIError{HTTPStatus: 400, Code: codeUnsupportedType}, outcomeFail},
		{&APIError{HTTPStatus: 401, Code: codeAccessTokenExpired}, outcomeFail},
		{&APIError{HTTPStatus: 400, Code: 100, IsTransient: true}, outcomeRetry},
	}
	for _, tc := range cases {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestClientTimesOut(t *testing.T) {
	graph := newFakeGraph(t)
	slow := http.NewServeMux()
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	slow.HandleFunc("POST /v21.0/{phone}/messages", func(w http.ResponseWriter, r *http.Request) { <-block })
	graph.server.Config.Handler = slow
	client, err := NewClient(ClientConfig{BaseURL: graph.server.URL, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.SendText(context.Background(), Sender{PhoneNumberID: "1", AccessToken: "t"}, "2", "hi")
	if err == nil || classify(err) != outcomeRetry {
		t.Errorf("timeout gave %v, want an error to retry", err)
	}
}

func TestNewClientRejectsBadConfig(t *testing.T) {
	if _, err := NewClient(ClientConfig{BaseURL: "graph.facebook.com"}); err == nil || !strings.Contains(err.Error(), "graph.facebook.com") {
		t.Errorf("relative base URL: %v", err)
	}
	if _, err := NewClient(ClientConfig{APIVersion: "21"}); err == nil || !strings.Contains(err.Error(), "v21.0") {
		t.Errorf("bad version: %v", err)
	}
	client, err := NewClient(ClientConfig{})
	if err != nil || client.base != DefaultBaseURL || client.version != DefaultAPIVersion {
		t.Errorf("defaults = %+v, %v", client, err)
	}
}

func TestSignatureMatchesPublishedVector(t *testing.T) {
	// HMAC-SHA256 of "test" keyed with "secret", as published in the
	// documentation of the Elixir WhatsApp SDK.
	header := "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
	if !validSignature([]byte("test"), header, "secret") {
		t.Error("the published vector does not verify")
	}
	if validSignature([]byte("test"), header, "") {
		t.Error("an empty secret verified a signature")
	}
	if validSignature([]byte("test!"), header, "secret") {
		t.Error("a changed body verified")
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	s := &salesagent.WhatsAppSettings{PhoneNumberID: "123", AccessToken: "EAAG-secret-token", AppSecret: "app-secret-value", VerifyToken: "verify-value"}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("settings", "whatsapp", s, "sender", Sender{PhoneNumberID: "123", AccessToken: "EAAG-secret-token"})
	outputs := []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", *s, s, s, s),
		fmt.Sprintf("%v %#v", Sender{AccessToken: "EAAG-secret-token"}, Sender{AccessToken: "EAAG-secret-token"}),
		logged.String(),
	}
	for _, out := range outputs {
		for _, secret := range []string{"EAAG-secret-token", "app-secret-value", "verify-value"} {
			if strings.Contains(out, secret) {
				t.Errorf("output %q shows a secret", out)
			}
		}
	}
	if !strings.Contains(outputs[0], "access_token: set") {
		t.Errorf("String = %q, want the token's presence shown", outputs[0])
	}
}

func TestSettingsValidate(t *testing.T) {
	valid := salesagent.WhatsAppSettings{PhoneNumberID: "123", AccessToken: "t", AppSecret: "s", VerifyToken: "v"}
	if err := valid.Validate(); err != nil {
		t.Errorf("valid settings: %v", err)
	}
	cases := map[string]func(*salesagent.WhatsAppSettings){
		"phone number id": func(s *salesagent.WhatsAppSettings) { s.PhoneNumberID = "+1 555" },
		"access token":    func(s *salesagent.WhatsAppSettings) { s.AccessToken = "" },
		"app secret":      func(s *salesagent.WhatsAppSettings) { s.AppSecret = "" },
		"verify token":    func(s *salesagent.WhatsAppSettings) { s.VerifyToken = "" },
		"template name": func(s *salesagent.WhatsAppSettings) {
			s.Template = &salesagent.WhatsAppTemplate{Name: "Reply Waiting", Language: "en_US"}
		},
		"template language": func(s *salesagent.WhatsAppSettings) { s.Template = &salesagent.WhatsAppTemplate{Name: "reply_waiting"} },
	}
	for name, change := range cases {
		s := valid
		change(&s)
		err := s.Validate()
		if err == nil || salesagent.ErrorCode(err) != salesagent.EINVALID {
			t.Errorf("%s: error %v, want invalid", name, err)
			continue
		}
		if !strings.Contains(strings.ToLower(err.Error()), name) {
			t.Errorf("%s: error %q does not name the setting", name, err)
		}
	}
}

func TestConsentIntent(t *testing.T) {
	cases := map[string]string{
		"STOP": intentOptOut, "stop!": intentOptOut, " Stop messages ": intentOptOut, "Unsubscribe": intentOptOut,
		"opt-out": intentOptOut, "Don't message me": intentOptOut, "START": intentOptIn, "start.": intentOptIn,
		"stop sending me the wrong size": "", "Can I stop my order?": "", "": "", "starting size?": "",
	}
	for text, want := range cases {
		if got := consentIntent(text); got != want {
			t.Errorf("consentIntent(%q) = %q, want %q", text, got, want)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, seed := range []string{
		`{"from":"1","id":"w","timestamp":"1697043223","type":"text","text":{"body":"hi"}}`,
		`{"from":"1","id":"w","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"product:x","title":"X"}}}`,
		`{"from":"1","id":"w","type":"image","image":{"id":"5","caption":"c"}}`,
		`{"from":"1","id":"w","type":"location","location":{"latitude":1.5,"longitude":2}}`,
		`{"from":"1","id":"w","type":"unsupported","errors":[{"code":131051}]}`,
		`{"from":"1","id":"w","type":"reaction","reaction":{"message_id":"m","emoji":""}}`,
	} {
		f.Add([]byte(seed))
	}
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := decodeMessage(raw, now)
		if err != nil {
			return
		}
		if in.WAMID == "" || in.From == "" {
			t.Fatalf("decoded a message without id or sender: %+v", in)
		}
		if in.SentAt.After(now) {
			t.Fatalf("sent at %v is after now", in.SentAt)
		}
		if in.Kind != kindReaction && in.body() == "" {
			t.Fatalf("empty body for %+v", in)
		}
	})
}
