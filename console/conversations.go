package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// Public system messages stored when an operator takes over and hands back.
const (
	joinedNotice   = "%s joined the conversation"
	handBackNotice = "The assistant is back"
	resolvedNotice = "The shop's team closed this conversation. Write here any time to continue."
	requeuedNotice = "Another person from the shop's team will reply here shortly."
)

// queueItem is one conversation of GET /console/api/queue.
type queueItem struct {
	ID             int64               `json:"id"`
	Channel        string              `json:"channel"`
	Status         string              `json:"status"`
	Reason         string              `json:"reason"`
	Summary        string              `json:"summary"`
	EscalatedAt    time.Time           `json:"escalated_at"`
	WaitingSeconds int64               `json:"waiting_seconds"`
	CreatedAt      time.Time           `json:"created_at"`
	Owner          *ownerRef           `json:"owner"`
	Customer       *customerSummary    `json:"customer"`
	Cart           *postgres.SavedCart `json:"cart"`
	LastMessage    *salesagent.Message `json:"last_message"`
}

// customerSummary is the part of a shopper's profile shown to operators.
type customerSummary struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name"`
	Email         string   `json:"email,omitempty"`
	Phone         string   `json:"phone,omitempty"`
	TopNeeds      []string `json:"top_needs"`
	CartsSaved    int      `json:"carts_saved"`
	Escalations   int      `json:"escalations"`
	Purchases     int      `json:"purchases"`
	PreferredSize string   `json:"preferred_size,omitempty"`
}

func summarizeCustomer(c *salesagent.Customer) *customerSummary {
	if c == nil {
		return nil
	}
	needs := make([]string, 0, len(c.Profile.Needs))
	for need := range c.Profile.Needs {
		needs = append(needs, need)
	}
	sort.Slice(needs, func(i, j int) bool {
		a, b := c.Profile.Needs[needs[i]], c.Profile.Needs[needs[j]]
		if a != b {
			return a > b
		}
		return needs[i] < needs[j]
	})
	if len(needs) > 3 {
		needs = needs[:3]
	}
	return &customerSummary{
		ID: c.ID, Name: c.Name, Email: c.Email, Phone: c.Phone, TopNeeds: needs,
		CartsSaved: c.Profile.CartsSaved, Escalations: c.Profile.Escalations,
		Purchases: c.Profile.Purchases, PreferredSize: c.Profile.PreferredSize,
	}
}

func (c *Console) handleQueue(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	entries, err := c.db.HandoffQueue(r.Context(), s.Operator.ShopID)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	now := time.Now()
	owners := map[int64]*ownerRef{}
	items := make([]queueItem, 0, len(entries))
	for _, e := range entries {
		owner, err := c.owner(r.Context(), e.Conversation, owners)
		if err != nil {
			c.writeError(w, r, err)
			return
		}
		items = append(items, queueItem{
			ID: e.Conversation.ID, Channel: e.Conversation.Channel, Status: e.Conversation.Status,
			Reason: e.Reason, Summary: e.Summary, EscalatedAt: e.EscalatedAt,
			WaitingSeconds: int64(now.Sub(e.EscalatedAt).Seconds()), CreatedAt: e.Conversation.CreatedAt,
			Owner: owner, Customer: summarizeCustomer(e.Customer), Cart: e.Cart, LastMessage: e.LastMessage,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": items})
}

// owner returns the operator holding conv, or nil, looking each operator
// up once per request in seen.
func (c *Console) owner(ctx context.Context, conv *salesagent.Conversation, seen map[int64]*ownerRef) (*ownerRef, error) {
	if conv.OwnerOperatorID == nil {
		return nil, nil
	}
	id := *conv.OwnerOperatorID
	if ref, ok := seen[id]; ok {
		return ref, nil
	}
	op, err := c.db.OperatorByID(ctx, conv.ShopID, id)
	if err != nil {
		return nil, fmt.Errorf("load owner of conversation %d: %w", conv.ID, err)
	}
	ref := &ownerRef{ID: op.ID, Name: op.Name}
	seen[id] = ref
	return ref, nil
}

// messageView is a message as operators see it, with its author.
type messageView struct {
	salesagent.Message
	OperatorID int64 `json:"operator_id,omitempty"`
}

func viewMessage(m salesagent.Message) messageView {
	return messageView{Message: m, OperatorID: m.OperatorID}
}

// conversationView is the conversation part of the detail and claim
// responses.
type conversationView struct {
	ID        int64     `json:"id"`
	Channel   string    `json:"channel"`
	Status    string    `json:"status"`
	LastSeq   int       `json:"last_seq"`
	Owner     *ownerRef `json:"owner"`
	CreatedAt time.Time `json:"created_at"`
}

type ownerRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type eventView struct {
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

func (c *Console) viewConversation(ctx context.Context, conv *salesagent.Conversation) (conversationView, error) {
	view := conversationView{ID: conv.ID, Channel: conv.Channel, Status: conv.Status, LastSeq: conv.LastSeq, CreatedAt: conv.CreatedAt}
	owner, err := c.owner(ctx, conv, map[int64]*ownerRef{})
	view.Owner = owner
	return view, err
}

func (c *Console) handleConversation(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	ctx := r.Context()
	shopID := s.Operator.ShopID
	id, err := conversationID(r)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	conv, err := c.db.ConversationByID(ctx, shopID, id)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	view, err := c.viewConversation(ctx, conv)
	if err != nil {
		c.writeError(w, r, err)
		return
	}

	messages, err := c.db.AllMessages(ctx, shopID, id)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	events, err := c.db.ConversationEvents(ctx, shopID, id)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	cart, err := c.db.ConversationCart(ctx, shopID, id)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	var customer *salesagent.Customer
	if conv.CustomerID != nil {
		customer, err = c.db.CustomerByID(ctx, shopID, *conv.CustomerID)
		if err != nil && salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
			c.writeError(w, r, err)
			return
		}
	}

	eventViews := make([]eventView, 0, len(events))
	for _, e := range events {
		eventViews = append(eventViews, eventView{Type: e.Type, Data: e.Data, CreatedAt: e.CreatedAt})
	}
	messageViews := make([]messageView, 0, len(messages))
	for _, m := range messages {
		messageViews = append(messageViews, viewMessage(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"conversation": view,
		"customer":     summarizeCustomer(customer),
		"cart":         cart,
		"messages":     messageViews,
		"events":       eventViews,
	})
}

func (c *Console) handleClaim(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	id, err := conversationID(r)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	conv, notice, err := c.db.ClaimConversation(r.Context(), s.Operator, id, fmt.Sprintf(joinedNotice, s.Operator.Name), c.deliver)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	view, err := c.viewConversation(r.Context(), conv)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	if notice.Seq == 0 {
		// The operator held it already: nothing changed.
		writeJSON(w, http.StatusOK, map[string]any{"conversation": view, "message": nil})
		return
	}
	view.LastSeq = notice.Seq
	c.log.InfoContext(r.Context(), "operator claimed conversation", "shop_id", s.Operator.ShopID, "operator_id", s.Operator.ID, "conversation_id", id)
	writeJSON(w, http.StatusOK, map[string]any{"conversation": view, "message": viewMessage(notice)})
}

type textRequest struct {
	Text string `json:"text"`
}

// readText decodes a reply or note body and checks its length.
func (c *Console) readText(r *http.Request) (string, error) {
	var req textRequest
	if err := decodeBody(r, &req); err != nil {
		return "", err
	}
	text := strings.TrimSpace(req.Text)
	if strings.ContainsRune(text, 0) {
		return "", salesagent.Errorf(salesagent.EINVALID, "text contains a NUL character (\\u0000): remove it and send again")
	}
	if text == "" {
		return "", salesagent.Errorf(salesagent.EINVALID, "missing text: send {\"text\": \"...\"} with the message")
	}
	if n := len([]rune(text)); n > c.cfg.MaxTextRunes {
		return "", salesagent.Errorf(salesagent.EINVALID, "text is %d characters long: shorten it to %d", n, c.cfg.MaxTextRunes)
	}
	return text, nil
}

func (c *Console) handleReply(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	c.handleText(w, r, s, func(ctx context.Context, op *postgres.Operator, id int64, text string) (salesagent.Message, error) {
		return c.db.AppendOperatorReply(ctx, op, id, text, c.deliver)
	})
}

func (c *Console) handleNote(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	c.handleText(w, r, s, c.db.AppendOperatorNote)
}

// handleText stores a reply or note with store and returns it with 201.
func (c *Console) handleText(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession,
	store func(context.Context, *postgres.Operator, int64, string) (salesagent.Message, error)) {
	id, err := conversationID(r)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	text, err := c.readText(r)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	stored, err := store(r.Context(), s.Operator, id, text)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"message": viewMessage(stored)})
}

func (c *Console) handleHandBack(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	id, err := conversationID(r)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	// The delivery hook runs in the handback's transaction and receives
	// the conversation as stored, which the resume step needs.
	var handedBack *salesagent.Conversation
	after := func(ctx context.Context, tx pgx.Tx, conv *salesagent.Conversation, msg salesagent.Message) error {
		handedBack = conv
		return c.deliver(ctx, tx, conv, msg)
	}
	notice, err := c.db.HandBackConversation(r.Context(), s.Operator, id, handBackNotice, after)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	c.log.InfoContext(r.Context(), "operator handed conversation back", "shop_id", s.Operator.ShopID, "operator_id", s.Operator.ID, "conversation_id", id)
	resume := c.resumeAfterHandBack(r.Context(), handedBack, notice)
	writeJSON(w, http.StatusOK, map[string]any{"status": salesagent.StatusOpen, "message": viewMessage(notice), "resume": resume})
}

func (c *Console) handleResolve(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	id, err := conversationID(r)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	notice, err := c.db.ResolveConversation(r.Context(), s.Operator, id, resolvedNotice, c.deliver)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	c.log.InfoContext(r.Context(), "operator resolved conversation", "shop_id", s.Operator.ShopID, "operator_id", s.Operator.ID, "conversation_id", id)
	body := map[string]any{"status": salesagent.StatusResolved, "message": nil}
	if notice.Seq > 0 {
		body["message"] = viewMessage(notice)
	}
	writeJSON(w, http.StatusOK, body)
}

// draftTimeout bounds the writing of a suggested reply, which may wait on a
// language model.
const draftTimeout = 60 * time.Second

// handleDraft returns the agent's suggested reply to the conversation's
// latest shopper message, for the operator to edit and send. Nothing is
// stored or sent.
func (c *Console) handleDraft(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	if c.cfg.Drafter == nil {
		c.writeError(w, r, salesagent.Errorf(salesagent.EUNAVAILABLE, "suggested replies are not set up on this server: write the reply yourself"))
		return
	}
	id, err := conversationID(r)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	shop, err := c.db.ShopByID(r.Context(), s.Operator.ShopID)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), draftTimeout)
	defer cancel()
	reply, brain, err := c.cfg.Drafter.Draft(ctx, shop, id)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	c.log.InfoContext(r.Context(), "operator drafted a reply", "shop_id", shop.ID, "operator_id", s.Operator.ID, "conversation_id", id, "brain", brain)
	writeJSON(w, http.StatusOK, map[string]any{"text": reply.Text, "cards": reply.Cards, "citations": reply.Citations, "brain": brain})
}

// conversationID parses the {id} path value.
func conversationID(r *http.Request) (int64, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, salesagent.Errorf(salesagent.EINVALID, "invalid conversation id %q: use the numeric id from the queue", raw)
	}
	return id, nil
}
