package whatsapp

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// graphRequest is one request the fake Graph API received.
type graphRequest struct {
	PhoneNumberID string
	Token         string
	Message       Message
	// WAMID is the id in the response, or "" when the request failed.
	WAMID string
}

// scriptedAnswer is a response the fake returns instead of a success.
type scriptedAnswer struct {
	status int
	body   string
}

// fakeGraph is a Graph API that speaks the Cloud API's wire format for
// POST /v21.0/{phone-number-id}/messages. It checks the limits WhatsApp
// puts on messages and responds with Meta's error body when one is broken.
type fakeGraph struct {
	server *httptest.Server

	mu       sync.Mutex
	requests []graphRequest
	script   []scriptedAnswer
	next     int
}

func newFakeGraph(t *testing.T) *fakeGraph {
	g := &fakeGraph{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v21.0/{phone}/messages", g.messages)
	g.server = httptest.NewServer(mux)
	t.Cleanup(g.server.Close)
	return g
}

// fail makes the next sends respond with status and body, in order.
func (g *fakeGraph) fail(status int, body string, times int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for range times {
		g.script = append(g.script, scriptedAnswer{status: status, body: body})
	}
}

// metaError returns a Graph API error body.
func metaError(code int, message string, transient bool) string {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": message, "type": "OAuthException", "code": code,
		"error_data": map[string]any{"messaging_product": "whatsapp", "details": message},
		"fbtrace_id": "AbCdEfGh123", "is_transient": transient,
	}})
	return string(body)
}

func (g *fakeGraph) messages(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	req := graphRequest{PhoneNumberID: r.PathValue("phone"), Token: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")}
	if err := json.Unmarshal(raw, &req.Message); err != nil {
		writeJSON(w, http.StatusBadRequest, metaError(100, "Invalid parameter: body is not JSON", false))
		return
	}
	if problem := checkMessage(&req.Message); problem != "" {
		g.record(req)
		writeJSON(w, http.StatusBadRequest, metaError(100, "(#100) Invalid parameter: "+problem, false))
		return
	}

	g.mu.Lock()
	if len(g.script) > 0 {
		answer := g.script[0]
		g.script = g.script[1:]
		g.requests = append(g.requests, req)
		g.mu.Unlock()
		writeJSON(w, answer.status, answer.body)
		return
	}
	g.next++
	req.WAMID = fmt.Sprintf("wamid.fake%d", g.next)
	g.requests = append(g.requests, req)
	g.mu.Unlock()

	body, _ := json.Marshal(map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": req.Message.To, "wa_id": req.Message.To}},
		"messages":          []map[string]string{{"id": req.WAMID}},
	})
	writeJSON(w, http.StatusOK, string(body))
}

func (g *fakeGraph) record(req graphRequest) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, req)
}

// checkMessage returns the first WhatsApp limit m breaks, or "".
func checkMessage(m *Message) string {
	switch {
	case m.MessagingProduct != "whatsapp":
		return "messaging_product must be whatsapp"
	case m.To == "":
		return "to is required"
	}
	switch m.Type {
	case "text":
		if m.Text == nil || m.Text.Body == "" || textLength(m.Text.Body) > 4096 {
			return "text.body must have 1 to 4096 characters"
		}
	case "interactive":
		return checkInteractive(m.Interactive)
	case "template":
		if m.Template == nil || m.Template.Name == "" || m.Template.Language.Code == "" {
			return "template.name and template.language.code are required"
		}
	default:
		return "unsupported type " + m.Type
	}
	return ""
}

func checkInteractive(in *Interactive) string {
	if in == nil || in.Body.Text == "" || textLength(in.Body.Text) > 1024 {
		return "interactive.body.text must have 1 to 1024 characters"
	}
	switch in.Type {
	case "button":
		if len(in.Action.Buttons) == 0 || len(in.Action.Buttons) > 3 {
			return "a button message has 1 to 3 buttons"
		}
		for _, b := range in.Action.Buttons {
			if b.Type != "reply" || b.Reply.ID == "" || utf8.RuneCountInString(b.Reply.Title) > 20 {
				return "button titles have at most 20 characters"
			}
		}
	case "list":
		rows := 0
		for _, s := range in.Action.Sections {
			for _, r := range s.Rows {
				rows++
				if r.ID == "" || utf8.RuneCountInString(r.Title) > 24 || utf8.RuneCountInString(r.Description) > 72 {
					return "row titles have at most 24 characters and descriptions 72"
				}
			}
		}
		if rows == 0 || rows > 10 || in.Action.Button == "" || utf8.RuneCountInString(in.Action.Button) > 20 {
			return "a list message has 1 to 10 rows and a button title of at most 20 characters"
		}
	default:
		return "unsupported interactive type " + in.Type
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// sent returns the requests that got a wamid.
func (g *fakeGraph) sent() []graphRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []graphRequest
	for _, r := range g.requests {
		if r.WAMID != "" {
			out = append(out, r)
		}
	}
	return out
}

// all returns every request received.
func (g *fakeGraph) all() []graphRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]graphRequest(nil), g.requests...)
}

// bodyText returns the text that a sent message shows the shopper.
func bodyText(m Message) string {
	switch {
	case m.Text != nil:
		return m.Text.Body
	case m.Interactive != nil:
		return m.Interactive.Body.Text
	case m.Template != nil:
		return "template " + m.Template.Name
	}
	return ""
}
