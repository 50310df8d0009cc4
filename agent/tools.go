package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/retrieval"
)

// Retriever finds the shop's passages for a query. *retrieval.Searcher
// implements it.
type Retriever interface {
	Search(ctx context.Context, shop *salesagent.Shop, q retrieval.Query) ([]retrieval.Hit, error)
}

// Tool is an action the agent can take. Both brains call the same tools,
// so the rules, such as whose orders a shopper may see, live here and not
// in a brain's wording.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments object, as function
	// calling APIs take it.
	Parameters json.RawMessage
	// Run validates args and acts. It returns an application error with
	// code invalid, not_found or forbidden when it rejects the call, and
	// any other error when it failed.
	Run func(ctx context.Context, env *ToolEnv, args json.RawMessage) (*ToolResult, error)
}

// ToolResult is the outcome of a tool call, returned to the brain.
type ToolResult struct {
	// Text states the outcome for a model to read and relay.
	Text string
	// Card is shown beside the reply, if set.
	Card *salesagent.Card
	// Data is the outcome as a JSON-encodable value; each tool documents
	// its type.
	Data any
	// Citations are the stored facts the result states.
	Citations []salesagent.Citation
}

// ToolEnv is the state a tool can read and change during a turn.
type ToolEnv struct {
	DB     *postgres.DB
	Search Retriever
	Turn   *Turn

	events  []salesagent.Event
	handoff *Handoff
}

// record adds an outcome event of the turn's conversation.
func (env *ToolEnv) record(eventType string, data any) {
	raw, _ := json.Marshal(data)
	convID := env.Turn.Conversation.ID
	env.events = append(env.events, salesagent.Event{
		ShopID: env.Turn.Shop.ID, ConversationID: &convID, Type: eventType, Data: raw,
	})
}

// Registry holds the tools by name.
type Registry struct {
	tools map[string]*Tool
}

// NewRegistry returns a registry of the given tools. It panics on a
// duplicate or invalid definition, which is a programming error.
func NewRegistry(tools ...*Tool) *Registry {
	r := &Registry{tools: map[string]*Tool{}}
	for _, t := range tools {
		if _, dup := r.tools[t.Name]; dup {
			panic("agent: duplicate tool " + t.Name)
		}
		if !json.Valid(t.Parameters) || t.Run == nil {
			panic("agent: tool " + t.Name + " has invalid parameters or no Run")
		}
		r.tools[t.Name] = t
	}
	return r
}

// DefaultRegistry returns the registry of every built-in tool.
func DefaultRegistry() *Registry {
	return NewRegistry(searchProductsTool, sendSizeGuideTool, saveCartTool, orderStatusTool, escalateTool, applyDiscountTool)
}

// Tools returns the tools sorted by name, as a model's function list.
func (r *Registry) Tools() []*Tool {
	out := make([]*Tool, 0, len(r.tools))
	for _, t := range r.tools {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the tool with the given name.
func (r *Registry) Lookup(name string) (*Tool, bool) {
	t, ok := r.tools[name]
	return t, ok
}

// Toolbox runs tools for one turn: it runs the call, emits a StreamToolCall
// event, counts the call in metrics and keeps the calls and events for the
// Service to record. Its emitter must not fail, so the Service passes one
// that logs and drops write errors.
type Toolbox struct {
	registry *Registry
	env      ToolEnv
	out      Emitter
	metrics  *Metrics
	logger   *slog.Logger
	calls    []ToolCall
}

// Tools returns the tools a brain may call.
func (tb *Toolbox) Tools() []*Tool { return tb.registry.Tools() }

// Has reports whether the brain may call the named tool. A draft's
// toolbox lacks the tools that act for the shopper.
func (tb *Toolbox) Has(name string) bool {
	_, ok := tb.registry.Lookup(name)
	return ok
}

// Calls returns the calls made so far in the turn.
func (tb *Toolbox) Calls() []ToolCall { return tb.calls }

// Handoff returns the handoff the turn asked for, or nil.
func (tb *Toolbox) Handoff() *Handoff { return tb.env.handoff }

// Tool result labels in metrics.
const (
	toolOK       = "ok"
	toolRejected = "rejected"
	toolFailed   = "error"
)

// Call runs the named tool with JSON arguments. When the tool rejects the
// call, Call returns the rejection as an application error, whose message
// is safe to show the shopper or a model. Any other error means the tool
// failed.
func (tb *Toolbox) Call(ctx context.Context, name string, args json.RawMessage) (*ToolResult, error) {
	tool, ok := tb.registry.Lookup(name)
	if !ok {
		names := make([]string, 0, len(tb.registry.tools))
		for _, t := range tb.registry.Tools() {
			names = append(names, t.Name)
		}
		return nil, salesagent.Errorf(salesagent.EINVALID, "unknown tool %q; use one of %s", name, strings.Join(names, ", "))
	}
	if len(bytes.TrimSpace(args)) == 0 {
		args = json.RawMessage("{}")
	}

	result, err := tool.Run(ctx, &tb.env, args)
	call := ToolCall{Name: name, OK: err == nil}
	_ = json.Unmarshal(args, &call.Arguments)
	label := toolOK
	switch {
	case err == nil:
		call.Summary = firstLine(result.Text)
	case salesagent.ErrorCode(err) == salesagent.EINTERNAL:
		label = toolFailed
		call.Summary = "failed"
	default:
		label = toolRejected
		call.Summary = salesagent.ErrorMessage(err)
	}
	tb.calls = append(tb.calls, call)
	tb.metrics.toolCalled(name, label)
	tb.env.record(salesagent.EventToolCalled, map[string]any{"tool": name, "ok": call.OK})
	tb.logger.DebugContext(ctx, "tool called", "tool", name, "result", label)
	if _, malformed := errors.AsType[*argumentsError](err); !malformed {
		_ = tb.out.Emit(ctx, StreamEvent{Type: StreamToolCall, Tool: &call})
	}
	if err != nil {
		if label == toolFailed {
			return nil, fmt.Errorf("tool %s: %w", name, err)
		}
		return nil, err
	}
	return result, nil
}

// CallWith runs the named tool with arguments encoded from a Go value.
func (tb *Toolbox) CallWith(ctx context.Context, name string, args any) (*ToolResult, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("encode arguments of tool %s: %w", name, err)
	}
	return tb.Call(ctx, name, raw)
}

// decodeArgs decodes a tool's JSON arguments into v, rejecting unknown
// fields so that a misspelt argument is reported rather than ignored.
func decodeArgs(tool string, args json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return &argumentsError{salesagent.Errorf(salesagent.EINVALID, "invalid arguments for %s: field %q must be a %s", tool, typeErr.Field, typeErr.Type)}
		}
		return &argumentsError{salesagent.Errorf(salesagent.EINVALID, "invalid arguments for %s: %v; send a JSON object matching the tool's parameters", tool, err)}
	}
	return nil
}

// argumentsError is a tool's rejection of arguments that the model
// malformed. The model gets it and may call again, but the shopper is
// not shown the call, whose message is meant for the model.
type argumentsError struct{ err error }

func (e *argumentsError) Error() string { return e.err.Error() }

func (e *argumentsError) Unwrap() error { return e.err }

// firstLine returns the first line of s, shortened to 160 characters.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return shorten(line, 160)
}

// shorten cuts s to at most n characters, ending it with "..." when cut.
func shorten(s string, n int) string {
	runes := []rune(s)
	if len(runes) <= n {
		return s
	}
	return string(runes[:n-3]) + "..."
}
