package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"

	openai "github.com/sashabaranov/go-openai"
	"github.com/sony/gobreaker/v2"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/prompts"
)

// EventGroundingCorrected is the event of a reply that the grounding guard
// corrected, with the terms it found no evidence for.
const EventGroundingCorrected = "grounding_corrected"

// LLMBrain replies with a language model served over the OpenAI chat
// completions API. It streams the model's text as it arrives, runs the
// model's tool calls through the turn's toolbox for up to MaxToolRounds
// rounds, and checks the finished reply with the grounding guard.
//
// Respond returns a *BrainError when the model fails, so the Service can
// let the offline brain reply instead.
type LLMBrain struct {
	config  LLMConfig
	client  *openai.Client
	offline Brain
	prompts *prompts.Set
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]
	metrics *LLMMetrics
	logger  *slog.Logger
}

// LLMOptions are the dependencies LLM brains share besides their config.
type LLMOptions struct {
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics *LLMMetrics
	// Prompts defaults to the embedded templates.
	Prompts *prompts.Set
}

func (o LLMOptions) withDefaults() LLMOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Prompts == nil {
		o.Prompts = prompts.Default()
	}
	return o
}

// NewLLMBrain returns an LLM brain for config, with defaults applied, and
// a circuit breaker of its own. offline, by default OfflineBrain, replies
// in its place when the grounding guard rejects most of a reply.
func NewLLMBrain(config LLMConfig, offline Brain, opts LLMOptions) (*LLMBrain, error) {
	config = config.WithDefaults()
	if err := config.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	return newLLMBrain(config, offline, opts, newBreaker(config, opts.Logger)), nil
}

func newLLMBrain(config LLMConfig, offline Brain, opts LLMOptions, breaker *gobreaker.TwoStepCircuitBreaker[struct{}]) *LLMBrain {
	if offline == nil {
		offline = OfflineBrain{}
	}
	return &LLMBrain{
		config: config, client: config.newClient(), offline: offline, prompts: opts.Prompts,
		breaker: breaker, metrics: opts.Metrics, logger: opts.Logger.With("llm_model", config.Model),
	}
}

// Name returns "llm".
func (b *LLMBrain) Name() string { return "llm" }

// Respond runs the turn with the model.
func (b *LLMBrain) Respond(ctx context.Context, turn *Turn, tools *Toolbox, out Emitter) (*Reply, error) {
	t := &llmTurn{brain: b, turn: turn, tools: tools, out: out, usage: Usage{Model: b.config.Model}}
	t.filter = &markerFilter{emit: func(s string) {
		_ = out.Emit(ctx, StreamEvent{Type: StreamDelta, Text: s})
	}}

	// The reply timeout leaves the rest of the turn's time to the offline
	// agent, which replies when the model is too slow.
	replyCtx, cancel := context.WithTimeoutCause(ctx, b.config.ReplyTimeout, errReplyTimeout)
	defer cancel()
	reply, err := t.run(replyCtx)
	usage := t.spent()
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(replyCtx), errReplyTimeout) {
		err = &llmError{result: llmTimeout, err: errReplyTimeout}
	}
	if err != nil {
		return nil, &BrainError{Brain: b.Name(), Usage: usage, Err: err}
	}
	reply.Usage = usage
	return reply, nil
}

// llmTurn is the state of one turn of the LLM brain.
type llmTurn struct {
	brain  *LLMBrain
	turn   *Turn
	tools  *Toolbox
	out    Emitter
	filter *markerFilter

	sources []source
	// evidence holds the texts the reply may state facts from.
	evidence []string
	// results are the turn's successful tool results, in call order.
	results []*ToolResult
	usage   Usage
}

// run builds the request, lets the model reply and call tools, and checks
// the reply.
func (t *llmTurn) run(ctx context.Context) (*Reply, error) {
	config := t.brain.config
	t.sources = buildSources(t.turn, config.SourceTokens)
	data := systemData(t.turn, t.tools.Tools(), t.sources, t.turn.PolicyTitles)
	system, err := t.brain.prompts.System(data)
	if err != nil {
		return nil, err
	}
	t.evidence = evidenceTexts(data)

	messages := []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleSystem, Content: system}}
	messages = append(messages, historyMessages(t.turn.History, config.HistoryTokens)...)
	messages = append(messages, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: t.turn.Message.Body})
	definitions := toolDefinitions(t.tools.Tools())

	for round := 0; ; round++ {
		// The request after the last tool round offers no tools, so the
		// model has to reply with what it has.
		offerTools := round < config.MaxToolRounds
		request := openai.ChatCompletionRequest{
			Model: config.Model, Messages: messages, StreamOptions: &openai.StreamOptions{IncludeUsage: true},
			MaxTokens: config.MaxTokens,
		}
		if offerTools {
			request.Tools = definitions
		}
		if round > 0 {
			t.filter.nextRound()
		}
		result, err := t.complete(ctx, request)
		if err != nil {
			return nil, err
		}
		if !offerTools || len(result.calls) == 0 {
			break
		}

		messages = append(messages, openai.ChatCompletionMessage{
			Role: openai.ChatMessageRoleAssistant, Content: result.text, ToolCalls: result.calls,
		})
		for _, call := range result.calls {
			messages = append(messages, t.runTool(ctx, call))
		}
	}
	t.filter.flush()
	if t.filter.text() == "" && len(t.results) > 0 {
		// The tools acted even when the model ends without text, so the
		// last tool result is relayed. An offline reply would ignore it.
		t.filter.write(t.results[len(t.results)-1].Text)
		t.filter.flush()
	}
	if t.filter.text() == "" {
		return nil, errors.New("the model returned an empty reply")
	}
	return t.guard(ctx, t.reply())
}

// runTool runs one tool call and returns the tool message that tells the
// model its outcome. A rejected call, as with invalid arguments, goes back
// to the model as an error it can correct.
func (t *llmTurn) runTool(ctx context.Context, call openai.ToolCall) openai.ChatCompletionMessage {
	message := openai.ChatCompletionMessage{Role: openai.ChatMessageRoleTool, ToolCallID: call.ID}
	result, err := t.tools.Call(ctx, call.Function.Name, json.RawMessage(call.Function.Arguments))
	var body any
	switch {
	case err == nil:
		t.results = append(t.results, result)
		data, _ := json.Marshal(result.Data)
		t.evidence = append(t.evidence, result.Text, string(data))
		body = map[string]any{"result": result.Text, "data": result.Data}
	case rejected(err):
		body = map[string]string{"error": salesagent.ErrorMessage(err)}
	default:
		t.brain.logger.ErrorContext(ctx, "tool failed during LLM turn", "tool", call.Function.Name, "error", err)
		body = map[string]string{"error": "The tool failed. Tell the shopper it could not be done right now and offer a person from the team."}
	}
	raw, _ := json.Marshal(body)
	message.Content = string(raw)
	return message
}

// reply assembles the reply from the streamed text and the tool results.
func (t *llmTurn) reply() *Reply {
	reply := &Reply{Text: t.filter.text(), Outcome: OutcomeClarified}
	reply.Citations = t.citations(nil)
	for _, r := range t.results {
		if r.Card != nil {
			reply.Cards = append(reply.Cards, *r.Card)
		}
	}
	switch {
	case t.tools.Handoff() != nil:
		reply.Outcome = OutcomeEscalated
	case len(reply.Citations) > 0 || len(t.results) > 0:
		reply.Outcome = OutcomeAnswered
	}
	return reply
}

// citations returns the citations of the sources the text cites and of
// the tool results. With spans set, only markers that stood within one of
// those spans of the text count.
func (t *llmTurn) citations(spans [][2]int) []salesagent.Citation {
	var out []salesagent.Citation
	add := func(c salesagent.Citation) {
		for _, have := range out {
			if have == c {
				return
			}
		}
		out = append(out, c)
	}
	for _, m := range t.filter.marks {
		if spans != nil && !withinSpans(m.offset, spans) {
			continue
		}
		for _, s := range t.sources {
			if s.ID == m.id {
				add(s.citation)
			}
		}
	}
	for _, r := range t.results {
		for _, c := range r.Citations {
			add(c)
		}
	}
	return out
}

func withinSpans(offset int, spans [][2]int) bool {
	for _, s := range spans {
		if offset >= s[0] && offset <= s[1] {
			return true
		}
	}
	return false
}

// guard checks the reply's prices, stock levels, delivery times, policy
// terms and percentages against the turn's evidence. When some are not
// found, it removes the sentences that state them if at least half of the
// reply remains, and otherwise replaces the reply with the offline
// brain's. Either way it sends the corrected text as a StreamReplace and
// records an EventGroundingCorrected event.
func (t *llmTurn) guard(ctx context.Context, reply *Reply) (*Reply, error) {
	// Most replies state no checkable term, and indexing the evidence
	// costs far more than finding the reply's terms, so it waits until a
	// term needs it.
	if len(findClaims(reply.Text)) == 0 {
		return reply, nil
	}
	bad := newEvidence(t.evidence...).unsupported(reply.Text)
	bad = append(bad, t.misattributedPrices(reply.Text, bad)...)
	if len(bad) == 0 {
		return reply, nil
	}

	action := "removed_sentences"
	total := len(sentenceSpans(reply.Text))
	kept, spans := removeSentences(reply.Text, bad)
	if kept != "" && (total-len(spans))*2 <= total {
		reply.Text = kept
		reply.Citations = t.citations(spans)
	} else {
		action = "offline_reply"
		offline, err := t.brain.offline.Respond(ctx, t.turn, t.tools, &captureEmitter{out: t.out})
		if err != nil {
			return nil, err
		}
		offline.Cards = mergeCards(reply.Cards, offline.Cards)
		if t.tools.Handoff() != nil {
			offline.Outcome = OutcomeEscalated
		}
		reply = offline
	}

	terms := make([]string, len(bad))
	kinds := make([]string, len(bad))
	for i, c := range bad {
		terms[i], kinds[i] = c.Text, c.Kind
	}
	t.tools.env.record(EventGroundingCorrected, map[string]any{"terms": terms, "kinds": kinds, "action": action})
	t.brain.logger.WarnContext(ctx, "grounding guard corrected the model's reply", "action", action, "kinds", kinds)
	_ = t.out.Emit(ctx, StreamEvent{Type: StreamReplace, Text: reply.Text})
	return reply, nil
}

// mergeCards returns a's cards followed by those of b that a lacks.
func mergeCards(a, b []salesagent.Card) []salesagent.Card {
	out := append([]salesagent.Card(nil), a...)
	for _, card := range b {
		duplicate := false
		for _, have := range out {
			if reflect.DeepEqual(have, card) {
				duplicate = true
				break
			}
		}
		if !duplicate {
			out = append(out, card)
		}
	}
	return out
}

// evidenceTexts returns the texts of the system prompt's data that a
// reply may state facts from.
func evidenceTexts(data prompts.System) []string {
	texts := append([]string(nil), data.Policies...)
	for _, s := range data.Sources {
		texts = append(texts, s.Title+": "+s.Text)
	}
	if data.Shop.SupportHours != "" {
		texts = append(texts, data.Shop.SupportHours)
	}
	return texts
}

// toolDefinitions converts the tools to the chat completions format.
func toolDefinitions(tools []*Tool) []openai.Tool {
	out := make([]openai.Tool, len(tools))
	for i, tool := range tools {
		out[i] = openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
			Name: tool.Name, Description: tool.Description, Parameters: tool.Parameters,
		}}
	}
	return out
}

// captureEmitter drops text events and passes the rest on, so a brain can
// compose a reply that is sent later as one StreamReplace.
type captureEmitter struct {
	out Emitter
}

func (c *captureEmitter) Emit(ctx context.Context, event StreamEvent) error {
	if event.Type == StreamDelta || event.Type == StreamReplace {
		return nil
	}
	return c.out.Emit(ctx, event)
}

// spent returns the turn's usage priced and counted in metrics, or nil
// when no request was made.
func (t *llmTurn) spent() *Usage {
	if t.usage.Requests == 0 {
		return nil
	}
	u := t.usage
	u.price(t.brain.config.PricePerMillionInput, t.brain.config.PricePerMillionOutput)
	t.brain.metrics.used(u.PromptTokens, u.CompletionTokens, u.CostUSD)
	return &u
}

// messagesText joins the contents of messages, to estimate their tokens.
func messagesText(messages []openai.ChatCompletionMessage) string {
	var b strings.Builder
	for _, m := range messages {
		b.WriteString(m.Content)
		for _, c := range m.ToolCalls {
			b.WriteString(c.Function.Name)
			b.WriteString(c.Function.Arguments)
		}
	}
	return b.String()
}
