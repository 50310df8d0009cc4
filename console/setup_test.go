package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testPassword = "correct horse battery"

// fixture is a shop with one operator and a console server.
type fixture struct {
	db   *postgres.DB
	shop *salesagent.Shop
	op   *postgres.Operator
	srv  *httptest.Server
}

func randomSlug(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// newFixture creates a fresh shop with an operator named Dana and serves
// the console for it on loopback.
func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	db := pgtest.DB(t)
	shop, _, err := db.EnsureShop(ctx, randomSlug(t, "console"), "Console Test Shop")
	if err != nil {
		t.Fatalf("create shop: %v", err)
	}
	op := addOperator(t, db, shop, "dana@example.com", "Dana")

	cfg.DB = db
	cfg.Logger = slog.New(slog.DiscardHandler)
	testAddressLimit(&cfg)
	// Buckets persist in the database, and every test logs in from
	// 127.0.0.1, so each test starts with full ones.
	if _, err := db.Pool.Exec(ctx, `DELETE FROM rate_limits`); err != nil {
		t.Fatalf("empty rate limits: %v", err)
	}
	mux := http.NewServeMux()
	New(cfg).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{db: db, shop: shop, op: op, srv: srv}
}

func addOperator(t *testing.T, db *postgres.DB, shop *salesagent.Shop, email, name string) *postgres.Operator {
	t.Helper()
	hash, err := HashPassword(testPassword)
	if err != nil {
		t.Fatalf("hash password: %v", err)
	}
	op, err := db.CreateOperator(context.Background(), shop.ID, email, name, postgres.OperatorRoleOperator, hash)
	if err != nil {
		t.Fatalf("create operator %s: %v", email, err)
	}
	return op
}

// escalatedConversation creates a web conversation with a shopper message
// and an agent reply, then escalates it with reason and summary as the
// escalate_to_human tool does.
func escalatedConversation(t *testing.T, db *postgres.DB, shop *salesagent.Shop, reason, summary string) *salesagent.Conversation {
	t.Helper()
	ctx := context.Background()
	token := make([]byte, 32)
	_, _ = rand.Read(token)
	conv, err := db.CreateConversation(ctx, shop.ID, salesagent.ChannelWeb, token, nil)
	if err != nil {
		t.Fatalf("create conversation: %v", err)
	}
	appendMessage(t, db, shop, conv.ID, salesagent.RoleShopper, "I want to cancel my order")
	appendMessage(t, db, shop, conv.ID, salesagent.RoleAgent, "I've asked a person to join.")
	if _, err := db.EscalateConversation(ctx, postgres.Escalation{ShopID: shop.ID, ConversationID: conv.ID, Reason: "shopper asked for a person"}); err != nil {
		t.Fatalf("escalate conversation: %v", err)
	}
	data, _ := json.Marshal(map[string]string{"reason": reason, "summary": summary})
	if err := db.RecordEvents(ctx, shop.ID, nil, []salesagent.Event{{ConversationID: &conv.ID, Type: salesagent.EventEscalated, Data: data}}, nil); err != nil {
		t.Fatalf("record escalation: %v", err)
	}
	return conv
}

func appendMessage(t *testing.T, db *postgres.DB, shop *salesagent.Shop, convID int64, role, body string) salesagent.Message {
	t.Helper()
	m, _, err := db.AppendMessage(context.Background(), shop.ID, salesagent.Message{ConversationID: convID, Role: role, Body: body})
	if err != nil {
		t.Fatalf("append %s message: %v", role, err)
	}
	return m
}

// client is a signed-in console session.
type client struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// login signs in and keeps the session's CSRF token; it fails the test
// unless the login succeeds.
func (c *client) login(shop, email, password string) {
	c.t.Helper()
	resp, body := c.do("POST", "/console/api/login", map[string]string{"shop": shop, "email": email, "password": password})
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("login as %s: status %d, body %s", email, resp.StatusCode, body)
	}
	var session struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal(body, &session); err != nil || session.CSRFToken == "" {
		c.t.Fatalf("login response without csrf_token: %s (%v)", body, err)
	}
	c.csrf = session.CSRFToken
}

// do sends a request with a JSON body (when body is not nil) and the CSRF
// header, and returns the response with its body read.
func (c *client) do(method, path string, body any) (*http.Response, []byte) {
	c.t.Helper()
	var reader io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, reader)
	if err != nil {
		c.t.Fatalf("build request %s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set(CSRFHeader, c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read %s %s response: %v", method, path, err)
	}
	return resp, raw
}

// expect sends a request and fails the test unless the status matches. It
// decodes a JSON response into out when out is not nil.
func (c *client) expect(status int, method, path string, body, out any) []byte {
	c.t.Helper()
	resp, raw := c.do(method, path, body)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("decode %s %s response %s: %v", method, path, raw, err)
		}
	}
	return raw
}

// apiError is the decoded body of an error response.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// eventsOf returns the types of the conversation's events, oldest first.
func (f *fixture) eventsOf(t *testing.T, convID int64) []string {
	t.Helper()
	events, err := f.db.ConversationEvents(context.Background(), f.shop.ID, convID)
	if err != nil {
		t.Fatal(err)
	}
	types := make([]string, 0, len(events))
	for _, e := range events {
		types = append(types, e.Type)
	}
	return types
}

// testAddressLimit raises the per-address login limit, which the whole
// package's tests share since they all log in from 127.0.0.1, unless the
// test set it.
func testAddressLimit(cfg *Config) {
	if cfg.LoginLimit.AddressBurst == 0 {
		cfg.LoginLimit.AddressBurst = 100000
	}
}
