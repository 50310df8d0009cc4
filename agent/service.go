package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/retrieval"
)

// Defaults of a Service.
const (
	defaultHistoryLength = 12
	defaultHitLimit      = 8
	// productHitLimit is how many product passages a turn retrieves to
	// recognise the products and product types a message names.
	productHitLimit = 12
)

// Service runs the agent's turns for every shop.
type Service struct {
	db       *postgres.DB
	search   Retriever
	registry *Registry
	logger   *slog.Logger
	offline  Brain
	// policyTitles caches the titles of each shop's policy documents.
	policyTitles policyTitleCache

	// Brains picks the brain for a shop. When Brains is nil or returns nil,
	// the shop gets the offline brain.
	Brains func(shop *salesagent.Shop) Brain
	// Metrics records turns and tool calls; nil records nothing.
	Metrics *Metrics
	// HistoryLength is the number of earlier messages a brain gets. Zero
	// means 12.
	HistoryLength int
}

// NewService returns a Service that stores turns in db and retrieves
// passages with search. search may be nil, in which case brains get no
// passages and search_products fails.
func NewService(db *postgres.DB, search Retriever, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, search: search, registry: DefaultRegistry(), logger: logger, offline: OfflineBrain{}}
}

func (s *Service) brainFor(shop *salesagent.Shop) Brain {
	if s.Brains != nil {
		if b := s.Brains(shop); b != nil {
			return b
		}
	}
	return s.offline
}

// HandleMessage runs the agent's turn for a shopper message that the channel
// has already stored, streams the output to out, stores the agent's reply
// and returns it. While a person holds the conversation (status operator)
// no brain runs, and HandleMessage returns a zero Message (Seq 0) and nil.
// It returns the same when an operator claims the conversation while the
// brain runs: the reply is then dropped, though its stream went out.
//
// A failed write to out does not stop the turn: the reply is still stored,
// so the shopper gets it on reconnecting.
func (s *Service) HandleMessage(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message, page PageContext, out Emitter) (salesagent.Message, error) {
	start := time.Now()
	logger := s.logger.With("shop_id", shop.ID, "conversation_id", conv.ID, "seq", msg.Seq)

	brain := s.brainFor(shop)
	turn, err := s.prepareTurn(ctx, logger, shop, conv.ID, msg, page, true)
	if errors.Is(err, errHeld) {
		s.Metrics.turnDone(brain.Name(), OutcomeOperator, time.Since(start))
		logger.DebugContext(ctx, "agent turn skipped because an operator has taken over the conversation")
		return salesagent.Message{}, nil
	}
	if err != nil {
		s.Metrics.turnDone(brain.Name(), OutcomeError, time.Since(start))
		return salesagent.Message{}, err
	}
	for _, need := range turn.Needs {
		s.Metrics.needRecognised(need)
	}

	emitter := &guardedEmitter{out: out, logger: logger}
	toolbox := &Toolbox{
		registry: s.registry, out: emitter, metrics: s.Metrics, logger: logger,
		env: ToolEnv{DB: s.db, Search: s.search, Turn: turn},
	}
	if brain != s.offline && cutOff(ctx) {
		logger.InfoContext(ctx, "the offline agent replies because the server is shutting down")
		brain = s.offline
	}
	// Only a model is cut off: the offline agent's tools need the turn's
	// own context, which a closed cutoff has not ended.
	brainCtx, stopBrain := ctx, func() {}
	if brain != s.offline {
		brainCtx, stopBrain = brainContext(ctx)
	}
	reply, err := brain.Respond(brainCtx, turn, toolbox, emitter)
	stopBrain()
	if err != nil && brain != s.offline && errors.Is(context.Cause(brainCtx), errBrainCutoff) {
		err = errBrainCutoff
	}
	if err != nil && brain != s.offline {
		if reply, err = s.fallBack(ctx, logger, turn, toolbox, emitter, brain, err); err == nil {
			brain = s.offline
		}
	}
	if err != nil {
		// Tools may have acted already, as in a saved cart, so their events
		// are kept.
		if recordErr := s.recordTurn(ctx, turn, toolbox, brain, nil); recordErr != nil {
			logger.ErrorContext(ctx, "record events of failed turn", "error", recordErr)
		}
		s.Metrics.turnDone(brain.Name(), OutcomeError, time.Since(start))
		return salesagent.Message{}, fmt.Errorf("%s brain: %w", brain.Name(), err)
	}

	for i := range reply.Cards {
		_ = emitter.Emit(ctx, StreamEvent{Type: StreamCard, Card: &reply.Cards[i]})
	}
	if h := toolbox.Handoff(); h != nil {
		_ = emitter.Emit(ctx, StreamEvent{Type: StreamHandoff, Handoff: h})
	}

	// The reply is stored only if no operator claimed the conversation
	// while the brain ran; the store checks under the row lock.
	stored, err := s.db.AppendAgentMessage(ctx, shop.ID, salesagent.Message{
		ConversationID: conv.ID, Role: salesagent.RoleAgent, Body: reply.Text,
		Cards: reply.Cards, Citations: reply.Citations, ReplyTo: msg.Seq,
	})
	if err != nil {
		s.Metrics.turnDone(brain.Name(), OutcomeError, time.Since(start))
		return salesagent.Message{}, fmt.Errorf("store agent reply: %w", err)
	}
	if stored.Seq == 0 {
		// Tools may have acted already, as in a saved cart, so their events
		// are kept, but no answered event is recorded.
		if err := s.recordTurn(ctx, turn, toolbox, brain, nil); err != nil {
			logger.ErrorContext(ctx, "record events of a turn cut short by an operator", "error", err)
		}
		s.Metrics.turnDone(brain.Name(), OutcomeOperator, time.Since(start))
		logger.InfoContext(ctx, "agent reply dropped because an operator took over during the turn", "brain", brain.Name())
		return salesagent.Message{}, nil
	}
	if err := s.recordTurn(ctx, turn, toolbox, brain, reply); err != nil {
		// The reply is stored and sent; losing its outcome events must not
		// fail the turn.
		logger.ErrorContext(ctx, "record turn events", "error", err)
	}
	if err := s.recordUsage(ctx, turn, stored, reply.Usage); err != nil {
		logger.ErrorContext(ctx, "record turn usage", "error", err)
	}

	elapsed := time.Since(start)
	s.Metrics.turnDone(brain.Name(), reply.Outcome, elapsed)
	logger.InfoContext(ctx, "agent replied",
		"brain", brain.Name(), "outcome", reply.Outcome, "reply_seq", stored.Seq,
		"needs", needNames(turn.Needs), "tools", len(toolbox.Calls()), "hits", len(turn.Hits),
		"duration_ms", elapsed.Milliseconds())
	return stored, nil
}

// errHeld ends a turn's preparation when an operator holds the
// conversation.
var errHeld = errors.New("conversation taken over by an operator")

// prepareTurn gathers what the brain needs: the conversation as stored
// now, the customer, the history, the product in view, the shop's policy
// titles, the needs and the retrieved passages. With unlessHeld, it
// returns errHeld when an operator has taken the conversation over: the
// channel's copy may be stale, so the conversation is read again.
//
// The two searches take most of the time before the brain starts, and
// nothing but the mentioned products depends on them, so they run beside
// the other lookups, and start before the conversation is read, while the
// database pool has free connections for them. The turn then waits for
// the slowest of the three rather than their sum. With no connection to
// spare, they run one after another, after the conversation is read,
// because a turn that holds one connection while it waits for another
// slows every other query waiting for the pool.
func (s *Service) prepareTurn(ctx context.Context, logger *slog.Logger, shop *salesagent.Shop, convID int64, msg salesagent.Message, page PageContext, unlessHeld bool) (*Turn, error) {
	turn := &Turn{Shop: shop, Message: msg, Page: page, Needs: Classify(msg.Body)}
	searchCtx, stopSearches := context.WithCancel(ctx)
	defer stopSearches()

	// The lookups on this goroutine take one of the free connections.
	spare := s.freeConnections() - 1
	var searches sync.WaitGroup
	var inline []func()
	search := func(find func()) {
		if spare > 0 {
			spare--
			searches.Go(find)
			return
		}
		inline = append(inline, find)
	}
	// Each search sets only its own field of turn.
	if s.search != nil && len(contentStems(msg.Body)) > 0 {
		search(func() { turn.Hits = s.findPassages(searchCtx, logger, turn) })
		search(func() { turn.ProductHits = s.findProducts(searchCtx, logger, turn) })
	}

	conv, err := s.db.ConversationByID(ctx, shop.ID, convID)
	switch {
	case err != nil:
		err = fmt.Errorf("load conversation %d: %w", convID, err)
	case unlessHeld && conv.Status == salesagent.StatusOperator:
		err = errHeld
	}
	if err != nil {
		stopSearches()
		searches.Wait()
		return nil, err
	}
	turn.Conversation = conv
	for _, find := range inline {
		find()
	}

	err = s.loadTurnContext(ctx, logger, turn)
	searches.Wait()
	if err != nil {
		return nil, err
	}

	if err := s.loadMentionedProducts(ctx, turn); err != nil {
		return nil, err
	}
	return turn, nil
}

// freeConnections returns the number of connections the database pool
// can hand out without waiting: the idle ones and those it may still open.
func (s *Service) freeConnections() int {
	if s.db == nil {
		return 0
	}
	stat := s.db.Pool.Stat()
	return int(stat.IdleConns() + stat.MaxConns() - stat.TotalConns())
}

// findPassages returns the shop's passages for the turn's message. A
// failed search returns none, because tools and the product in view still
// work without passages.
func (s *Service) findPassages(ctx context.Context, logger *slog.Logger, turn *Turn) []retrieval.Hit {
	hits, err := s.search.Search(ctx, turn.Shop, retrieval.Query{Text: retrievalText(turn.Message.Body, turn.Needs), Limit: defaultHitLimit})
	if err != nil && ctx.Err() == nil {
		logger.WarnContext(ctx, "retrieval failed, so the reply uses no passages", "error", err)
	}
	return hits
}

// findProducts returns the shop's product passages for the turn's message,
// which show the products it may name.
func (s *Service) findProducts(ctx context.Context, logger *slog.Logger, turn *Turn) []retrieval.Hit {
	hits, err := s.search.Search(ctx, turn.Shop, retrieval.Query{Text: turn.Message.Body, Kinds: []string{salesagent.KindProduct}, Limit: productHitLimit})
	if err != nil && ctx.Err() == nil {
		logger.WarnContext(ctx, "product retrieval failed, so no product named in the message is recognised", "error", err)
	}
	return hits
}

// loadTurnContext sets the turn's customer, history, product in view and
// policy titles.
func (s *Service) loadTurnContext(ctx context.Context, logger *slog.Logger, turn *Turn) error {
	shop, conv, msg, page := turn.Shop, turn.Conversation, turn.Message, turn.Page
	if conv.CustomerID != nil {
		customer, err := s.db.CustomerByID(ctx, shop.ID, *conv.CustomerID)
		switch {
		case err == nil:
			turn.Customer = customer
		case salesagent.ErrorCode(err) != salesagent.ENOTFOUND:
			return fmt.Errorf("load customer %d: %w", *conv.CustomerID, err)
		}
	}

	length := s.HistoryLength
	if length <= 0 {
		length = defaultHistoryLength
	}
	recent, err := s.db.RecentMessages(ctx, shop.ID, conv.ID, length+1)
	if err != nil {
		return fmt.Errorf("load history: %w", err)
	}
	for _, m := range recent {
		if m.Seq < msg.Seq || msg.Seq == 0 {
			turn.History = append(turn.History, m)
		}
	}
	if len(turn.History) > length {
		turn.History = turn.History[len(turn.History)-length:]
	}

	product, err := s.productInView(ctx, shop.ID, page)
	if err != nil {
		return err
	}
	if product == nil && (page.ProductHandle != "" || page.SKU != "") {
		logger.DebugContext(ctx, "product in view not found", "product", page.ProductHandle, "sku", page.SKU)
	}
	turn.Product = product

	turn.PolicyTitles = s.policyTitles.get(ctx, s.db, shop.ID)
	return nil
}

// loadMentionedProducts sets the turn's Named products, and its Earlier
// products when no product is in view and the message names none.
func (s *Service) loadMentionedProducts(ctx context.Context, turn *Turn) error {
	candidates := candidatesFromHits(append(append([]retrieval.Hit(nil), turn.ProductHits...), turn.Hits...))
	if ids := namedProducts(turn.Message.Body, candidates); len(ids) > 0 {
		named, err := s.db.ProductsByIDs(ctx, turn.Shop.ID, ids)
		if err != nil {
			return fmt.Errorf("load products named in the message: %w", err)
		}
		turn.Named = named
		return nil
	}
	if turn.Product != nil {
		return nil
	}
	if ids := earlierProductIDs(turn.History); len(ids) > 0 {
		earlier, err := s.db.ProductsByIDs(ctx, turn.Shop.ID, ids)
		if err != nil {
			return fmt.Errorf("load products of the last reply: %w", err)
		}
		turn.Earlier = earlier
	}
	return nil
}

// productInView loads the product the page shows, by handle and then by
// SKU. It returns nil when the page names none or names an unknown one.
func (s *Service) productInView(ctx context.Context, shopID int64, page PageContext) (*salesagent.Product, error) {
	if page.ProductHandle != "" {
		p, err := s.db.ProductByHandle(ctx, shopID, page.ProductHandle)
		if err == nil {
			return p, nil
		}
		if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
			return nil, fmt.Errorf("load product in view: %w", err)
		}
	}
	// A page or the chat client may name the product by a variant SKU or
	// the store's own product id, so the handle is tried as those too.
	lookups := []struct {
		key  string
		find func(context.Context, int64, string) (*salesagent.Product, error)
	}{
		{page.SKU, s.db.ProductBySKU},
		{page.ProductHandle, s.db.ProductBySKU},
		{page.ProductHandle, s.db.ProductByExternalID},
	}
	for _, lookup := range lookups {
		if lookup.key == "" {
			continue
		}
		p, err := lookup.find(ctx, shopID, lookup.key)
		if err == nil {
			return p, nil
		}
		if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
			return nil, fmt.Errorf("load product in view: %w", err)
		}
	}
	return nil, nil
}

// recordTurn appends the turn's events and updates the shopper's profile.
// reply is nil when the brain failed, and then no answered event is
// recorded.
func (s *Service) recordTurn(ctx context.Context, turn *Turn, toolbox *Toolbox, brain Brain, reply *Reply) error {
	convID := turn.Conversation.ID
	event := func(eventType string, data any) salesagent.Event {
		raw, _ := json.Marshal(data)
		return salesagent.Event{ShopID: turn.Shop.ID, ConversationID: &convID, Type: eventType, Data: raw}
	}

	var events []salesagent.Event
	for _, need := range turn.Needs {
		events = append(events, event(salesagent.EventNeedRecognised, map[string]string{"need": string(need)}))
	}
	events = append(events, toolbox.env.events...)
	if reply != nil {
		events = append(events, event(salesagent.EventAnswered, map[string]any{
			"brain": brain.Name(), "outcome": reply.Outcome, "citations": len(reply.Citations), "cards": len(reply.Cards),
		}))
	}
	if len(events) == 0 {
		return nil
	}

	var customerID *int64
	if turn.Customer != nil {
		customerID = &turn.Customer.ID
	}
	return s.db.RecordEvents(ctx, turn.Shop.ID, customerID, events, func(p *salesagent.Profile) {
		updateProfile(p, turn.Needs, toolbox.Calls(), events)
	})
}

// updateProfile counts a turn's needs, successful tool calls, saved carts
// and escalations on the profile. Greetings and thanks are not needs worth
// keeping, so they are not counted.
func updateProfile(p *salesagent.Profile, needs []Need, calls []ToolCall, events []salesagent.Event) {
	for _, need := range needs {
		if need == NeedGreeting || need == NeedThanks {
			continue
		}
		if p.Needs == nil {
			p.Needs = map[string]int{}
		}
		p.Needs[string(need)]++
	}
	for _, call := range calls {
		if !call.OK {
			continue
		}
		if p.ToolsUsed == nil {
			p.ToolsUsed = map[string]int{}
		}
		p.ToolsUsed[call.Name]++
	}
	for _, e := range events {
		switch e.Type {
		case salesagent.EventCartSaved:
			p.CartsSaved++
		case salesagent.EventEscalated:
			p.Escalations++
		}
	}
}

func needNames(needs []Need) []string {
	names := make([]string, len(needs))
	for i, n := range needs {
		names[i] = string(n)
	}
	return names
}

// guardedEmitter passes events to the channel until a write fails, then
// drops the rest, so a closed socket does not stop the turn.
type guardedEmitter struct {
	out    Emitter
	logger *slog.Logger
	failed bool
	// streamed is set once reply text went out, so a later change of the
	// reply has to replace it.
	streamed bool
}

func (g *guardedEmitter) Emit(ctx context.Context, event StreamEvent) error {
	if event.Type == StreamDelta || event.Type == StreamReplace {
		g.streamed = true
	}
	if g.failed || g.out == nil {
		return nil
	}
	if err := g.out.Emit(ctx, event); err != nil {
		g.failed = true
		g.logger.WarnContext(ctx, "stream to channel failed; the reply will still be stored", "error", err)
	}
	return nil
}
