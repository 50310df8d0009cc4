package console

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
)

func makeAdmin(t *testing.T, db *postgres.DB, op *postgres.Operator) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), `UPDATE operators SET role = 'admin' WHERE id = $1`, op.ID); err != nil {
		t.Fatal(err)
	}
	op.Role = postgres.OperatorRoleAdmin
}

func TestAdminManagesOperators(t *testing.T) {
	f := newFixture(t, Config{})
	makeAdmin(t, f.db, f.op)
	admin := newClient(t, f.srv.URL)
	admin.login(f.shop.Slug, "dana@example.com", testPassword)

	var added struct {
		Operator postgres.Operator `json:"operator"`
	}
	admin.expect(http.StatusCreated, "POST", "/console/api/operators",
		map[string]string{"email": "eli@example.com", "name": "Eli", "password": testPassword}, &added)
	if added.Operator.Role != postgres.OperatorRoleOperator || added.Operator.Name != "Eli" {
		t.Errorf("added operator %+v, want Eli with role operator by default", added.Operator)
	}

	// Bad input names the value and the fix.
	var bad apiError
	admin.expect(http.StatusBadRequest, "POST", "/console/api/operators",
		map[string]string{"email": "eli@example.com", "name": "Eli", "role": "owner", "password": testPassword}, &bad)
	if bad.Error.Code != salesagent.EINVALID || !strings.Contains(bad.Error.Message, `"owner"`) {
		t.Errorf("bad role error %+v, want EINVALID naming \"owner\"", bad.Error)
	}
	admin.expect(http.StatusConflict, "POST", "/console/api/operators",
		map[string]string{"email": "ELI@example.com", "name": "Eli again", "password": testPassword}, nil)
	admin.expect(http.StatusBadRequest, "POST", "/console/api/operators",
		map[string]string{"email": "fay@example.com", "name": "Fay", "password": "short"}, nil)

	// An operator cannot manage operators.
	eli := newClient(t, f.srv.URL)
	eli.login(f.shop.Slug, "eli@example.com", testPassword)
	eli.expect(http.StatusForbidden, "GET", "/console/api/operators", nil, nil)
	eli.expect(http.StatusForbidden, "POST", "/console/api/operators",
		map[string]string{"email": "gus@example.com", "name": "Gus", "password": testPassword}, nil)

	// Eli holds a conversation and is removed: it goes back to the queue,
	// and Eli's session ends.
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")
	eli.expect(http.StatusOK, "POST", fmt.Sprintf("/console/api/conversations/%d/claim", conv.ID), nil, nil)
	csrf := admin.csrf
	admin.csrf = ""
	admin.expect(http.StatusForbidden, "DELETE", fmt.Sprintf("/console/api/operators/%d", added.Operator.ID), nil, nil)
	admin.csrf = csrf
	admin.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/console/api/operators/%d", added.Operator.ID), nil, nil)
	got, err := f.db.ConversationByID(context.Background(), f.shop.ID, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != salesagent.StatusEscalated || got.OwnerOperatorID != nil {
		t.Errorf("removed operator's conversation has status %s and owner %v, want escalated with no owner", got.Status, got.OwnerOperatorID)
	}
	var notice string
	if err := f.db.Pool.QueryRow(context.Background(), `SELECT body FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT 1`, conv.ID).Scan(&notice); err != nil {
		t.Fatal(err)
	}
	if notice != requeuedNotice {
		t.Errorf("last message after the removal %q, want the shopper told %q", notice, requeuedNotice)
	}
	eli.expect(http.StatusUnauthorized, "GET", "/console/api/queue", nil, nil)

	var list struct {
		Operators []postgres.Operator `json:"operators"`
	}
	admin.expect(http.StatusOK, "GET", "/console/api/operators", nil, &list)
	if len(list.Operators) != 1 || list.Operators[0].ID != f.op.ID {
		t.Errorf("operators after removal %+v, want only Dana", list.Operators)
	}

	// An admin cannot remove themselves, nor the last admin.
	admin.expect(http.StatusBadRequest, "DELETE", fmt.Sprintf("/console/api/operators/%d", f.op.ID), nil, nil)
	if err := f.db.DeleteOperator(context.Background(), f.shop.ID, f.op.ID, "requeued", nil); salesagent.ErrorCode(err) != salesagent.ECONFLICT {
		t.Errorf("removing the last admin: %v, want ECONFLICT", err)
	}
}

func TestAdminReleasesAnotherOperatorsConversation(t *testing.T) {
	f := newFixture(t, Config{})
	addOperator(t, f.db, f.shop, "eli@example.com", "Eli")
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")
	eli := newClient(t, f.srv.URL)
	eli.login(f.shop.Slug, "eli@example.com", testPassword)
	eli.expect(http.StatusOK, "POST", fmt.Sprintf("/console/api/conversations/%d/claim", conv.ID), nil, nil)

	// Dana, an operator, may neither reply nor hand back.
	dana := newClient(t, f.srv.URL)
	dana.login(f.shop.Slug, "dana@example.com", testPassword)
	dana.expect(http.StatusForbidden, "POST", fmt.Sprintf("/console/api/conversations/%d/handback", conv.ID), nil, nil)
	dana.expect(http.StatusForbidden, "POST", fmt.Sprintf("/console/api/conversations/%d/resolve", conv.ID), nil, nil)

	// As an admin she may hand it back, but still not reply in it.
	makeAdmin(t, f.db, f.op)
	dana.expect(http.StatusForbidden, "POST", fmt.Sprintf("/console/api/conversations/%d/reply", conv.ID), map[string]string{"text": "hi"}, nil)
	dana.expect(http.StatusOK, "POST", fmt.Sprintf("/console/api/conversations/%d/handback", conv.ID), nil, nil)
	got, err := f.db.ConversationByID(context.Background(), f.shop.ID, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != salesagent.StatusOpen || got.OwnerOperatorID != nil {
		t.Errorf("after the admin's hand-back: status %s, owner %v; want open with no owner", got.Status, got.OwnerOperatorID)
	}
}

func TestClientIPBehindTrustedProxy(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name    string
		proxies []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies configured ignores the header", nil, "10.1.2.3:5000", []string{"203.0.113.9"}, "10.1.2.3"},
		{"direct client ignores the header", trusted, "198.51.100.7:5000", []string{"203.0.113.9"}, "198.51.100.7"},
		{"through the proxy", trusted, "10.1.2.3:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"forged left entry is not used", trusted, "10.1.2.3:5000", []string{"192.0.2.1, 203.0.113.9"}, "203.0.113.9"},
		{"two proxies", trusted, "10.1.2.3:5000", []string{"203.0.113.9", "10.9.9.9"}, "203.0.113.9"},
		{"garbage stops the walk", trusted, "10.1.2.3:5000", []string{"203.0.113.9, nonsense"}, "10.1.2.3"},
		{"proxy without the header", trusted, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"IPv6 client", trusted, "10.1.2.3:5000", []string{"2001:db8::1"}, "2001:db8::1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Console{cfg: Config{TrustedProxies: tc.proxies}}
			r, _ := http.NewRequest("POST", "http://console.test/console/api/login", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := c.clientIP(r); got != tc.want {
				t.Errorf("clientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAdminTakesOverHeldConversation(t *testing.T) {
	f := newFixture(t, Config{})
	addOperator(t, f.db, f.shop, "eli@example.com", "Eli")
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")
	eli := newClient(t, f.srv.URL)
	eli.login(f.shop.Slug, "eli@example.com", testPassword)
	path := fmt.Sprintf("/console/api/conversations/%d", conv.ID)
	eli.expect(http.StatusOK, "POST", path+"/claim", nil, nil)

	makeAdmin(t, f.db, f.op)
	dana := newClient(t, f.srv.URL)
	dana.login(f.shop.Slug, "dana@example.com", testPassword)
	var claimed struct {
		Conversation conversationView    `json:"conversation"`
		Message      *salesagent.Message `json:"message"`
	}
	dana.expect(http.StatusOK, "POST", path+"/claim", nil, &claimed)
	if claimed.Conversation.Owner == nil || claimed.Conversation.Owner.ID != f.op.ID {
		t.Errorf("after the admin's claim the owner is %+v, want Dana", claimed.Conversation.Owner)
	}
	if claimed.Message == nil || claimed.Message.Body != "Dana joined the conversation" {
		t.Errorf("take-over notice %+v, want \"Dana joined the conversation\"", claimed.Message)
	}

	// Eli no longer holds it, so Eli's reply is refused and Dana's goes in.
	var rejected apiError
	eli.expect(http.StatusForbidden, "POST", path+"/reply", map[string]string{"text": "still here"}, &rejected)
	if !strings.Contains(rejected.Error.Message, "only they can reply") {
		t.Errorf("reply by the former holder: %q, want it to say only the holder can reply", rejected.Error.Message)
	}
	dana.expect(http.StatusCreated, "POST", path+"/reply", map[string]string{"text": "Dana here, I'll help."}, nil)
	if got := f.eventsOf(t, conv.ID); strings.Join(got, ",") != "escalated,operator_claimed,operator_claimed" {
		t.Errorf("events %v, want both claims recorded", got)
	}
}

// fakeDrafter returns a draft naming the conversation id it received.
type fakeDrafter struct{}

func (fakeDrafter) Draft(_ context.Context, shop *salesagent.Shop, convID int64) (*agent.Reply, string, error) {
	return &agent.Reply{Text: fmt.Sprintf("draft for %d in %s", convID, shop.Slug)}, "fake", nil
}

func TestDraftRoute(t *testing.T) {
	off := newFixture(t, Config{})
	conv := escalatedConversation(t, off.db, off.shop, "cancel order", "")
	c := newClient(t, off.srv.URL)
	c.login(off.shop.Slug, "dana@example.com", testPassword)
	path := fmt.Sprintf("/console/api/conversations/%d/draft", conv.ID)
	c.expect(http.StatusServiceUnavailable, "POST", path, nil, nil)

	on := newFixture(t, Config{Drafter: fakeDrafter{}})
	conv = escalatedConversation(t, on.db, on.shop, "cancel order", "")
	c = newClient(t, on.srv.URL)
	c.login(on.shop.Slug, "dana@example.com", testPassword)
	var draft struct {
		Text  string `json:"text"`
		Brain string `json:"brain"`
	}
	c.expect(http.StatusOK, "POST", fmt.Sprintf("/console/api/conversations/%d/draft", conv.ID), nil, &draft)
	if want := fmt.Sprintf("draft for %d in %s", conv.ID, on.shop.Slug); draft.Text != want || draft.Brain != "fake" {
		t.Errorf("draft %+v, want text %q from brain fake", draft, want)
	}
	c.csrf = ""
	c.expect(http.StatusForbidden, "POST", fmt.Sprintf("/console/api/conversations/%d/draft", conv.ID), nil, nil)
}
