package console

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

type queueResponse struct {
	Conversations []struct {
		ID             int64  `json:"id"`
		Channel        string `json:"channel"`
		Status         string `json:"status"`
		Reason         string `json:"reason"`
		Summary        string `json:"summary"`
		WaitingSeconds int64  `json:"waiting_seconds"`
		Customer       *struct {
			Name     string   `json:"name"`
			Email    string   `json:"email"`
			TopNeeds []string `json:"top_needs"`
		} `json:"customer"`
		Cart *struct {
			Token string `json:"token"`
			Items []struct {
				SKU      string `json:"sku"`
				Quantity int    `json:"qty"`
			} `json:"items"`
		} `json:"cart"`
		LastMessage *salesagent.Message `json:"last_message"`
	} `json:"conversations"`
}

func TestQueueListsEscalatedConversations(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()

	var customerID int64
	if err := f.db.Pool.QueryRow(ctx, `INSERT INTO customers (shop_id, email, name, profile)
		VALUES ($1, 'ada@example.com', 'Ada', '{"needs": {"sizing": 3, "shipping": 1}}') RETURNING id`, f.shop.ID).Scan(&customerID); err != nil {
		t.Fatalf("create customer: %v", err)
	}
	customer := &salesagent.Customer{ID: customerID}
	first := escalatedConversation(t, f.db, f.shop, "cancel order", "Ada wants to cancel order 1001")
	if err := f.db.SetConversationCustomer(ctx, f.shop.ID, first.ID, customer.ID); err != nil {
		t.Fatalf("tie customer: %v", err)
	}
	if _, err := f.db.SaveCart(ctx, f.shop.ID, &first.ID, &customer.ID, []salesagent.CartItem{{SKU: "TEE-M", Quantity: 2}}); err != nil {
		t.Fatalf("save cart: %v", err)
	}
	second := escalatedConversation(t, f.db, f.shop, "damaged item", "")
	// An open conversation is not in the queue.
	open, err := f.db.CreateConversation(ctx, f.shop.ID, salesagent.ChannelWeb, []byte("open-conversation-token-"+f.shop.Slug), nil)
	if err != nil {
		t.Fatalf("create open conversation: %v", err)
	}

	c := newClient(t, f.srv.URL)
	c.login(f.shop.Slug, "dana@example.com", testPassword)
	var queue queueResponse
	c.expect(http.StatusOK, "GET", "/console/api/queue", nil, &queue)

	if len(queue.Conversations) != 2 {
		t.Fatalf("queue has %d conversations, want 2: %+v", len(queue.Conversations), queue.Conversations)
	}
	got := queue.Conversations[0]
	if got.ID != first.ID {
		t.Errorf("first queued conversation %d, want the longest waiting %d", got.ID, first.ID)
	}
	if queue.Conversations[1].ID != second.ID {
		t.Errorf("second queued conversation %d, want %d", queue.Conversations[1].ID, second.ID)
	}
	for _, item := range queue.Conversations {
		if item.ID == open.ID {
			t.Errorf("open conversation %d is in the queue", open.ID)
		}
	}
	if got.Reason != "cancel order" || got.Summary != "Ada wants to cancel order 1001" {
		t.Errorf("reason %q, summary %q; want the escalation event's", got.Reason, got.Summary)
	}
	if got.Channel != "web" || got.Status != "escalated" {
		t.Errorf("channel %q, status %q; want web, escalated", got.Channel, got.Status)
	}
	if got.WaitingSeconds < 0 {
		t.Errorf("waiting_seconds %d is negative", got.WaitingSeconds)
	}
	if got.Customer == nil || got.Customer.Name != "Ada" || got.Customer.Email != "ada@example.com" {
		t.Fatalf("customer %+v, want Ada", got.Customer)
	}
	if len(got.Customer.TopNeeds) != 2 || got.Customer.TopNeeds[0] != "sizing" {
		t.Errorf("top needs %v, want sizing first", got.Customer.TopNeeds)
	}
	if got.Cart == nil || len(got.Cart.Items) != 1 || got.Cart.Items[0].SKU != "TEE-M" || got.Cart.Items[0].Quantity != 2 {
		t.Errorf("cart %+v, want 2 x TEE-M", got.Cart)
	}
	if got.LastMessage == nil || got.LastMessage.Role != salesagent.RoleAgent {
		t.Errorf("last message %+v, want the agent's reply", got.LastMessage)
	}
	if queue.Conversations[1].Customer != nil || queue.Conversations[1].Cart != nil {
		t.Errorf("anonymous conversation has customer %+v and cart %+v, want none", queue.Conversations[1].Customer, queue.Conversations[1].Cart)
	}
}

type detailResponse struct {
	Conversation struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		Owner  *struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"owner"`
	} `json:"conversation"`
	Messages []salesagent.Message `json:"messages"`
	Events   []struct {
		Type string `json:"type"`
	} `json:"events"`
}

func TestClaimReplyNoteHandBackResolve(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "wants to cancel")
	path := "/console/api/conversations/" + itoa(conv.ID)
	dana := newClient(t, f.srv.URL)
	dana.login(f.shop.Slug, "dana@example.com", testPassword)
	addOperator(t, f.db, f.shop, "sam@example.com", "Sam")
	sam := newClient(t, f.srv.URL)
	sam.login(f.shop.Slug, "sam@example.com", testPassword)

	// Replying before claiming is a conflict.
	var notHeld apiError
	dana.expect(http.StatusConflict, "POST", path+"/reply", map[string]string{"text": "Hi"}, &notHeld)
	if notHeld.Error.Code != "conflict" {
		t.Errorf("reply before claim: code %q, want conflict", notHeld.Error.Code)
	}

	var claimed struct {
		Conversation struct {
			Status string `json:"status"`
			Owner  struct {
				Name string `json:"name"`
			} `json:"owner"`
		} `json:"conversation"`
		Message salesagent.Message `json:"message"`
	}
	dana.expect(http.StatusOK, "POST", path+"/claim", nil, &claimed)
	if claimed.Conversation.Status != "operator" || claimed.Conversation.Owner.Name != "Dana" {
		t.Errorf("claim returned %+v, want status operator owned by Dana", claimed.Conversation)
	}
	if claimed.Message.Role != salesagent.RoleSystem || claimed.Message.Body != "Dana joined the conversation" || claimed.Message.Internal {
		t.Errorf("claim notice %+v, want public system message \"Dana joined the conversation\"", claimed.Message)
	}

	// Only one operator holds a conversation.
	var taken apiError
	sam.expect(http.StatusConflict, "POST", path+"/claim", nil, &taken)
	if taken.Error.Message != "conversation "+itoa(conv.ID)+" is already held by Dana" {
		t.Errorf("second claim message %q, want it to name Dana", taken.Error.Message)
	}
	var forbidden apiError
	sam.expect(http.StatusForbidden, "POST", path+"/reply", map[string]string{"text": "Me too"}, &forbidden)
	if forbidden.Error.Code != "forbidden" {
		t.Errorf("reply by non-owner: code %q, want forbidden", forbidden.Error.Code)
	}
	sam.expect(http.StatusForbidden, "POST", path+"/handback", nil, nil)

	var reply struct {
		Message struct {
			salesagent.Message
			OperatorID int64 `json:"operator_id"`
		} `json:"message"`
	}
	dana.expect(http.StatusCreated, "POST", path+"/reply", map[string]string{"text": "Hi, I can cancel it for you."}, &reply)
	if reply.Message.Role != salesagent.RoleOperator || reply.Message.Internal || reply.Message.OperatorID != f.op.ID {
		t.Errorf("reply %+v, want a public operator message by Dana", reply.Message)
	}
	var note struct {
		Message salesagent.Message `json:"message"`
	}
	sam.expect(http.StatusCreated, "POST", path+"/note", map[string]string{"text": "Order 1001 already shipped"}, &note)
	if !note.Message.Internal {
		t.Errorf("note %+v is not internal", note.Message)
	}
	dana.expect(http.StatusBadRequest, "POST", path+"/reply", map[string]string{"text": "   "}, nil)

	var detail detailResponse
	dana.expect(http.StatusOK, "GET", path, nil, &detail)
	if detail.Conversation.Status != "operator" || detail.Conversation.Owner == nil || detail.Conversation.Owner.ID != f.op.ID {
		t.Errorf("detail conversation %+v, want held by Dana", detail.Conversation)
	}
	var bodies []string
	for _, m := range detail.Messages {
		bodies = append(bodies, m.Body)
	}
	want := []string{"I want to cancel my order", "I've asked a person to join.", "Dana joined the conversation",
		"Hi, I can cancel it for you.", "Order 1001 already shipped"}
	if len(bodies) != len(want) {
		t.Fatalf("detail messages %q, want %q", bodies, want)
	}
	for i := range want {
		if bodies[i] != want[i] {
			t.Errorf("message %d = %q, want %q", i, bodies[i], want[i])
		}
	}
	if !detail.Messages[4].Internal {
		t.Error("detail does not mark the note as internal")
	}
	if len(detail.Events) != 2 || detail.Events[0].Type != salesagent.EventEscalated || detail.Events[1].Type != salesagent.EventOperatorClaimed {
		t.Errorf("events %+v, want the escalation and Dana's claim", detail.Events)
	}

	var handedBack struct {
		Status  string             `json:"status"`
		Message salesagent.Message `json:"message"`
	}
	dana.expect(http.StatusOK, "POST", path+"/handback", nil, &handedBack)
	if handedBack.Status != "open" || handedBack.Message.Body != "The assistant is back" || handedBack.Message.Internal {
		t.Errorf("hand back returned %+v, want status open and a public \"The assistant is back\"", handedBack)
	}
	stored, err := f.db.ConversationByID(ctx, f.shop.ID, conv.ID)
	if err != nil {
		t.Fatalf("load conversation: %v", err)
	}
	if stored.Status != salesagent.StatusOpen || stored.OwnerOperatorID != nil {
		t.Errorf("after hand back: status %q, owner %v; want open with no owner", stored.Status, stored.OwnerOperatorID)
	}

	sam.expect(http.StatusOK, "POST", path+"/claim", nil, nil)
	// Claiming again changes nothing and stores no second notice.
	var again struct {
		Message *salesagent.Message `json:"message"`
	}
	sam.expect(http.StatusOK, "POST", path+"/claim", nil, &again)
	if again.Message != nil {
		t.Errorf("second claim by the holder stored %+v, want no notice", again.Message)
	}
	dana.expect(http.StatusForbidden, "POST", path+"/resolve", nil, nil)
	var resolved struct {
		Message *salesagent.Message `json:"message"`
	}
	sam.expect(http.StatusOK, "POST", path+"/resolve", nil, &resolved)
	if resolved.Message == nil || resolved.Message.Role != salesagent.RoleSystem || resolved.Message.Internal {
		t.Errorf("resolve notice %+v, want a public system message telling the shopper", resolved.Message)
	}
	sam.expect(http.StatusOK, "POST", path+"/resolve", nil, &resolved)
	if resolved.Message != nil {
		t.Errorf("resolving a resolved conversation stored %+v, want nothing", resolved.Message)
	}
	if got := strings.Join(f.eventsOf(t, conv.ID), ","); got != "escalated,operator_claimed,handed_back,operator_claimed,resolved" {
		t.Errorf("events %s, want every handoff step recorded once", got)
	}
	stored, err = f.db.ConversationByID(ctx, f.shop.ID, conv.ID)
	if err != nil {
		t.Fatalf("load conversation: %v", err)
	}
	if stored.Status != salesagent.StatusResolved || stored.OwnerOperatorID != nil {
		t.Errorf("after resolve: status %q, owner %v; want resolved with no owner", stored.Status, stored.OwnerOperatorID)
	}
}

func TestResolvedConversationReopensForAgent(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")
	op := f.op
	if _, _, err := f.db.ClaimConversation(ctx, op, conv.ID, "Dana joined the conversation", nil); err != nil {
		t.Fatalf("claim: %v", err)
	}
	if _, err := f.db.ResolveConversation(ctx, op, conv.ID, "closed", nil); err != nil {
		t.Fatalf("resolve: %v", err)
	}

	appendMessage(t, f.db, f.shop, conv.ID, salesagent.RoleShopper, "One more question about sizes")
	stored, err := f.db.ConversationByID(ctx, f.shop.ID, conv.ID)
	if err != nil {
		t.Fatalf("load conversation: %v", err)
	}
	if stored.Status != salesagent.StatusOpen {
		t.Errorf("status after the shopper wrote again: %q, want open (back with the agent, not escalated)", stored.Status)
	}
	reply, err := f.db.AppendAgentMessage(ctx, f.shop.ID, salesagent.Message{ConversationID: conv.ID, Role: salesagent.RoleAgent, Body: "Sure"})
	if err != nil {
		t.Fatalf("append agent reply: %v", err)
	}
	if reply.Seq == 0 {
		t.Error("agent reply to a reopened conversation was not stored")
	}
}

func TestOtherShopOperatorGetsNotFound(t *testing.T) {
	f := newFixture(t, Config{})
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")
	other, _, err := f.db.EnsureShop(context.Background(), randomSlug(t, "other"), "Other Shop")
	if err != nil {
		t.Fatalf("create other shop: %v", err)
	}
	addOperator(t, f.db, other, "eve@example.com", "Eve")
	eve := newClient(t, f.srv.URL)
	eve.login(other.Slug, "eve@example.com", testPassword)
	path := "/console/api/conversations/" + itoa(conv.ID)

	var queue queueResponse
	eve.expect(http.StatusOK, "GET", "/console/api/queue", nil, &queue)
	if len(queue.Conversations) != 0 {
		t.Errorf("other shop's queue has %d conversations, want 0", len(queue.Conversations))
	}
	var notFound apiError
	eve.expect(http.StatusNotFound, "GET", path, nil, &notFound)
	if notFound.Error.Code != "not_found" {
		t.Errorf("code %q, want not_found", notFound.Error.Code)
	}
	for _, action := range []string{"claim", "handback", "resolve"} {
		eve.expect(http.StatusNotFound, "POST", path+"/"+action, nil, nil)
	}
	for _, action := range []string{"reply", "note"} {
		eve.expect(http.StatusNotFound, "POST", path+"/"+action, map[string]string{"text": "hello"}, nil)
	}
	eve.expect(http.StatusBadRequest, "GET", "/console/api/conversations/abc", nil, nil)

	stored, err := f.db.ConversationByID(context.Background(), f.shop.ID, conv.ID)
	if err != nil {
		t.Fatalf("load conversation: %v", err)
	}
	if stored.Status != salesagent.StatusEscalated || stored.LastSeq != conv.LastSeq+2 {
		t.Errorf("after the other shop's requests: status %q, last seq %d; want escalated and unchanged", stored.Status, stored.LastSeq)
	}
}

func TestNotesHiddenFromShopperQueries(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")
	if _, _, err := f.db.ClaimConversation(ctx, f.op, conv.ID, "Dana joined the conversation", nil); err != nil {
		t.Fatalf("claim: %v", err)
	}
	note, err := f.db.AppendOperatorNote(ctx, f.op, conv.ID, "VIP customer, be generous")
	if err != nil {
		t.Fatalf("add note: %v", err)
	}
	reply, err := f.db.AppendOperatorReply(ctx, f.op, conv.ID, "Hello from Dana", nil)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}

	after, err := f.db.MessagesAfter(ctx, f.shop.ID, conv.ID, 0, 100)
	if err != nil {
		t.Fatalf("messages after: %v", err)
	}
	recent, err := f.db.RecentMessages(ctx, f.shop.ID, conv.ID, 100)
	if err != nil {
		t.Fatalf("recent messages: %v", err)
	}
	fromSeq, err := f.db.MessagesAfter(ctx, f.shop.ID, conv.ID, note.Seq-1, 1)
	if err != nil {
		t.Fatalf("messages after the note's seq: %v", err)
	}
	for name, msgs := range map[string][]salesagent.Message{"MessagesAfter": after, "RecentMessages": recent, "MessagesAfter(note-1)": fromSeq} {
		for _, m := range msgs {
			if m.Internal || m.Body == note.Body {
				t.Errorf("%s returned the internal note %+v", name, m)
			}
		}
	}
	if len(after) != 4 || after[3].Seq != reply.Seq {
		t.Errorf("MessagesAfter returned %d messages ending at seq %d, want 4 ending at the reply %d", len(after), after[len(after)-1].Seq, reply.Seq)
	}
	if len(recent) != 4 {
		t.Errorf("RecentMessages returned %d messages, want 4", len(recent))
	}
	if len(fromSeq) != 1 || fromSeq[0].Seq != reply.Seq {
		t.Errorf("MessagesAfter the note's seq returned %+v, want the reply", fromSeq)
	}

	all, err := f.db.AllMessages(ctx, f.shop.ID, conv.ID)
	if err != nil {
		t.Fatalf("all messages: %v", err)
	}
	if len(all) != 5 || !all[3].Internal {
		t.Errorf("AllMessages returned %d messages, want 5 with the note internal", len(all))
	}
}
