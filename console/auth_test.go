package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestLoginWrongPasswordRejected(t *testing.T) {
	f := newFixture(t, Config{})
	c := newClient(t, f.srv.URL)

	cases := []struct{ name, shop, email, password string }{
		{"wrong password", f.shop.Slug, "dana@example.com", "not the password"},
		{"unknown email", f.shop.Slug, "nobody@example.com", testPassword},
		{"unknown shop", "no-such-shop", "dana@example.com", testPassword},
	}
	for _, tc := range cases {
		var got apiError
		c.expect(http.StatusUnauthorized, "POST", "/console/api/login",
			map[string]string{"shop": tc.shop, "email": tc.email, "password": tc.password}, &got)
		if got.Error.Code != "unauthorized" {
			t.Errorf("%s: code %q, want unauthorized", tc.name, got.Error.Code)
		}
		if !strings.Contains(got.Error.Message, "wrong shop, email or password") {
			t.Errorf("%s: message %q does not say what was wrong", tc.name, got.Error.Message)
		}
	}
	c.expect(http.StatusUnauthorized, "GET", "/console/api/me", nil, nil)
}

func TestLoginStoresHashesOnly(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	if err := bcrypt.CompareHashAndPassword([]byte(f.op.PasswordHash), []byte(testPassword)); err != nil {
		t.Fatalf("stored password hash is not the bcrypt hash of the password: %v", err)
	}

	resp, body := newClient(t, f.srv.URL).do("POST", "/console/api/login",
		map[string]string{"shop": f.shop.Slug, "email": "DANA@example.com", "password": testPassword})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login with upper-case email: status %d, body %s", resp.StatusCode, body)
	}
	var token string
	for _, cookie := range resp.Cookies() {
		if cookie.Name == SessionCookie {
			token = cookie.Value
		}
	}
	if token == "" {
		t.Fatal("login set no session cookie")
	}

	var stored []byte
	if err := f.db.Pool.QueryRow(ctx, `SELECT token_hash FROM operator_sessions WHERE operator_id = $1`, f.op.ID).Scan(&stored); err != nil {
		t.Fatalf("load stored session: %v", err)
	}
	sum := sha256.Sum256([]byte(token))
	if !bytes.Equal(stored, sum[:]) {
		t.Error("stored session key is not the SHA-256 of the cookie's token")
	}
	var plain int
	if err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM operator_sessions WHERE token_hash = $1`, []byte(token)).Scan(&plain); err != nil {
		t.Fatalf("look up plain token: %v", err)
	}
	if plain != 0 {
		t.Error("the session token is stored in plain text")
	}
}

func TestLoginCookieFlags(t *testing.T) {
	cases := []struct {
		name       string
		publicURL  string
		tls        bool
		wantSecure bool
	}{
		{"plain http", "http://127.0.0.1", false, false},
		{"https public URL", "https://chat.example.com", false, true},
		{"TLS request", "", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{PublicURL: tc.publicURL})
			base, httpClient := f.srv.URL, http.DefaultClient
			if tc.tls {
				tlsSrv := httptest.NewTLSServer(f.srv.Config.Handler)
				t.Cleanup(tlsSrv.Close)
				base, httpClient = tlsSrv.URL, tlsSrv.Client()
			}
			body, _ := json.Marshal(map[string]string{"shop": f.shop.Slug, "email": "dana@example.com", "password": testPassword})
			resp, err := httpClient.Post(base+"/console/api/login", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("login: status %d", resp.StatusCode)
			}
			cookies := resp.Cookies()
			if len(cookies) != 1 || cookies[0].Name != SessionCookie {
				t.Fatalf("cookies %v, want one %s", cookies, SessionCookie)
			}
			cookie := cookies[0]
			if !cookie.HttpOnly {
				t.Error("session cookie is not HttpOnly")
			}
			if cookie.SameSite != http.SameSiteLaxMode {
				t.Errorf("session cookie SameSite %v, want Lax", cookie.SameSite)
			}
			if cookie.Secure != tc.wantSecure {
				t.Errorf("session cookie Secure %v, want %v", cookie.Secure, tc.wantSecure)
			}
			if cookie.MaxAge <= 0 {
				t.Errorf("session cookie MaxAge %d, want a positive lifetime", cookie.MaxAge)
			}
		})
	}
}

func TestLoginRateLimited(t *testing.T) {
	f := newFixture(t, Config{LoginLimit: LoginLimit{Burst: 3, Every: time.Hour}})
	addOperator(t, f.db, f.shop, "sam@example.com", "Sam")
	c := newClient(t, f.srv.URL)
	bad := map[string]string{"shop": f.shop.Slug, "email": "dana@example.com", "password": "guess guess guess"}

	for i := range 3 {
		resp, body := c.do("POST", "/console/api/login", bad)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d, want 401; body %s", i+1, resp.StatusCode, body)
		}
	}
	var limited apiError
	resp, body := c.do("POST", "/console/api/login", map[string]string{"shop": f.shop.Slug, "email": "dana@example.com", "password": testPassword})
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth attempt, right password: status %d, want 429; body %s", resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &limited); err != nil {
		t.Fatalf("decode 429 body %s: %v", body, err)
	}
	if limited.Error.Code != "rate_limited" {
		t.Errorf("code %q, want rate_limited", limited.Error.Code)
	}
	if !strings.Contains(limited.Error.Message, "too many login attempts") || !strings.Contains(limited.Error.Message, "seconds") {
		t.Errorf("message %q does not say to wait", limited.Error.Message)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 response without Retry-After")
	}

	// The bucket is per account, so another operator can still log in.
	newClient(t, f.srv.URL).login(f.shop.Slug, "sam@example.com", testPassword)
}

func TestPostWithoutCSRFForbidden(t *testing.T) {
	f := newFixture(t, Config{})
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "wants to cancel")
	c := newClient(t, f.srv.URL)
	c.login(f.shop.Slug, "dana@example.com", testPassword)
	csrf := c.csrf

	for _, header := range []string{"", "wrong-token"} {
		c.csrf = header
		var got apiError
		c.expect(http.StatusForbidden, "POST", "/console/api/conversations/"+itoa(conv.ID)+"/claim", nil, &got)
		if got.Error.Code != "forbidden" || !strings.Contains(got.Error.Message, CSRFHeader) {
			t.Errorf("CSRF header %q: error %+v, want forbidden naming %s", header, got.Error, CSRFHeader)
		}
	}
	stored, err := f.db.ConversationByID(context.Background(), f.shop.ID, conv.ID)
	if err != nil {
		t.Fatalf("load conversation: %v", err)
	}
	if stored.Status != "escalated" {
		t.Errorf("status %q after rejected claims, want escalated", stored.Status)
	}

	// A GET needs no token, and the right token lets the POST through.
	c.csrf = ""
	c.expect(http.StatusOK, "GET", "/console/api/me", nil, nil)
	c.csrf = csrf
	c.expect(http.StatusOK, "POST", "/console/api/conversations/"+itoa(conv.ID)+"/claim", nil, nil)
}

func TestLogoutEndsSession(t *testing.T) {
	f := newFixture(t, Config{})
	c := newClient(t, f.srv.URL)
	c.login(f.shop.Slug, "dana@example.com", testPassword)

	var me struct {
		Operator struct {
			Name string `json:"name"`
		} `json:"operator"`
		Shop struct {
			Slug string `json:"slug"`
		} `json:"shop"`
		CSRFToken string `json:"csrf_token"`
	}
	c.expect(http.StatusOK, "GET", "/console/api/me", nil, &me)
	if me.Operator.Name != "Dana" || me.Shop.Slug != f.shop.Slug || me.CSRFToken != c.csrf {
		t.Errorf("me = %+v, want Dana of %s with the login's CSRF token", me, f.shop.Slug)
	}

	c.expect(http.StatusNoContent, "POST", "/console/api/logout", nil, nil)
	c.expect(http.StatusUnauthorized, "GET", "/console/api/me", nil, nil)
}

func TestHashPasswordRejectsShort(t *testing.T) {
	if _, err := HashPassword("short"); err == nil || !strings.Contains(err.Error(), "at least 10") {
		t.Errorf("HashPassword(short) error %v, want one asking for at least 10 characters", err)
	}
	if _, err := HashPassword(strings.Repeat("x", 73)); err == nil || !strings.Contains(err.Error(), "72") {
		t.Errorf("HashPassword(73 bytes) error %v, want one naming the 72-byte limit", err)
	}
}

func TestLoginLimitSharedAcrossServers(t *testing.T) {
	f := newFixture(t, Config{LoginLimit: LoginLimit{Burst: 3, Every: time.Hour}})
	second := secondServerWith(t, Config{LoginLimit: LoginLimit{Burst: 3, Every: time.Hour}})
	bad := map[string]string{"shop": f.shop.Slug, "email": "dana@example.com", "password": "guess guess guess"}

	// Twenty attempts at once, spread over both servers: the shared
	// bucket lets exactly three through to the password check.
	var wg sync.WaitGroup
	statuses := make(chan int, 20)
	for i := range 20 {
		base := f.srv.URL
		if i%2 == 1 {
			base = second
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := newClient(t, base).do("POST", "/console/api/login", bad)
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for status := range statuses {
		counts[status]++
	}
	if counts[http.StatusUnauthorized] != 3 || counts[http.StatusTooManyRequests] != 17 {
		t.Errorf("statuses %v, want 3 × 401 and 17 × 429", counts)
	}
}

func TestBadInputGetsClearErrors(t *testing.T) {
	f := newFixture(t, Config{})
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")
	c := newClient(t, f.srv.URL)
	c.login(f.shop.Slug, "dana@example.com", testPassword)
	path := fmt.Sprintf("/console/api/conversations/%d", conv.ID)
	c.expect(http.StatusOK, "POST", path+"/claim", nil, nil)

	cases := []struct {
		name, method, path, body, want string
		status                         int
	}{
		{"NUL in a reply", "POST", path + "/reply", `{"text":"hi\u0000there"}`, "NUL character", http.StatusBadRequest},
		{"NUL in a login", "POST", "/console/api/login", `{"shop":"x\u0000","email":"a@example.com","password":"p"}`, "NUL character", http.StatusBadRequest},
		{"trailing data", "POST", path + "/note", `{"text":"a"}{"text":"b"}`, "after the first JSON object", http.StatusBadRequest},
		{"wrong type", "POST", path + "/note", `{"text":42}`, `field "text" cannot be a JSON number; send a string`, http.StatusBadRequest},
		{"unknown route", "GET", "/console/api/nothing-here", "", "no console API at GET /console/api/nothing-here", http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, f.srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(CSRFHeader, c.csrf)
			resp, err := c.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got apiError
			_ = json.NewDecoder(resp.Body).Decode(&got)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d (error %+v)", resp.StatusCode, tc.status, got.Error)
			}
			if !strings.Contains(got.Error.Message, tc.want) {
				t.Errorf("message %q, want it to contain %q", got.Error.Message, tc.want)
			}
		})
	}

	// Nothing was stored by the rejected requests.
	if n := len(f.eventsOf(t, conv.ID)); n != 2 {
		t.Errorf("%d events after rejected requests, want the escalation and the claim only", n)
	}
	var notes int
	if err := f.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE conversation_id = $1 AND visibility = 'internal'`, conv.ID).Scan(&notes); err != nil {
		t.Fatal(err)
	}
	if notes != 0 {
		t.Errorf("%d notes stored from rejected requests, want 0", notes)
	}
}

func TestLoginLimitPerAddress(t *testing.T) {
	f := newFixture(t, Config{LoginLimit: LoginLimit{AddressBurst: 4, AddressEvery: time.Hour}})
	c := newClient(t, f.srv.URL)

	// One password against four accounts uses up the address's bucket, so
	// the fifth account is refused before any password check.
	for i := range 4 {
		guess := map[string]string{"shop": f.shop.Slug, "email": fmt.Sprintf("user%d@example.com", i), "password": "summer2026!"}
		if resp, body := c.do("POST", "/console/api/login", guess); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d, want 401; body %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := c.do("POST", "/console/api/login", map[string]string{"shop": f.shop.Slug, "email": "dana@example.com", "password": testPassword})
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("fifth account from the same address: status %d, want 429; body %s", resp.StatusCode, body)
	}
}
