package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/channels/web"
)

// Outcomes of a turn other than a reply. Error frames count under their
// error code.
const (
	OutcomeDial    = "dial_failed"
	OutcomeTimeout = "timeout"
	OutcomeClosed  = "connection_closed"
	OutcomeSend    = "send_failed"
	// OutcomeCut is a turn still waiting when the run's duration cap
	// ended it. It is not an error of the server.
	OutcomeCut = "cut_by_duration"
)

// LoadConfig describes a load run: simulated shoppers that each open a
// widget connection and send scripted messages, one after the reply to the
// last.
type LoadConfig struct {
	// ServerURL is the salesagent server's root, such as
	// http://127.0.0.1:8080, and ShopKey the shop's widget key or slug.
	ServerURL, ShopKey string
	// PageURL is the page address that messages carry. Each message
	// carries it with the turn's TurnMarker as the fragment.
	PageURL string

	Conversations, Turns int
	// Messages is the script: turn t of conversation c sends
	// Messages[(c*Turns+t) % len(Messages)], so a script of
	// Conversations × Turns messages sends each once.
	Messages []string
	// Ramp spreads the conversations' starts evenly over this time.
	Ramp time.Duration
	// Think is the pause between a reply and the next message.
	Think time.Duration
	// TurnTimeout bounds the wait for one reply.
	TurnTimeout time.Duration
	// Duration caps the whole run. Turns still waiting then end as
	// OutcomeCut.
	Duration time.Duration
}

// Validate reports a setting that cannot make a bounded run.
func (c LoadConfig) Validate() error {
	switch {
	case c.Conversations < 1:
		return fmt.Errorf("invalid number of conversations %d: use 1 or more", c.Conversations)
	case c.Turns < 1:
		return fmt.Errorf("invalid number of turns %d: use 1 or more", c.Turns)
	case len(c.Messages) == 0:
		return errors.New("no messages to send: give the load run a script of at least one message")
	case c.Duration <= 0:
		return fmt.Errorf("invalid duration cap %s: use a positive duration such as 2m", c.Duration)
	case c.TurnTimeout <= 0:
		return fmt.Errorf("invalid turn timeout %s: use a positive duration such as 30s", c.TurnTimeout)
	case c.Ramp < 0 || c.Think < 0:
		return fmt.Errorf("invalid ramp %s or think time %s: use 0 or more", c.Ramp, c.Think)
	}
	return nil
}

// TurnResult is one shopper's record of one turn. Durations count from
// the moment the message was sent and are zero for frames that never came.
type TurnResult struct {
	Conversation, Turn int
	Marker             string
	Sent               time.Time
	// Ack is the wait for the server's ack, FirstText for the turn's first
	// delta or replace frame, and Reply for the stored reply.
	Ack, FirstText, Reply time.Duration
	// Outcome is "" for a turn that got its reply, an error code from an
	// error frame, or one of the Outcome constants.
	Outcome string
}

// LoadResult is the record of a load run.
type LoadResult struct {
	Config         LoadConfig
	Started, Ended time.Time
	// Connected counts the conversations whose connection got a welcome.
	Connected int
	Turns     []TurnResult
}

// RunLoad runs the load described by config against its server and
// returns every turn's result. It returns an error only for an invalid
// config; failed connections and turns are in the result. It stops by
// itself after config.Duration at the latest.
func RunLoad(ctx context.Context, config LoadConfig) (*LoadResult, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, config.Duration)
	defer cancel()

	run := &loadRun{config: config, result: &LoadResult{Config: config, Started: time.Now()}}
	var wg sync.WaitGroup
	for c := range config.Conversations {
		wg.Go(func() { run.converse(ctx, c) })
	}
	wg.Wait()
	run.result.Ended = time.Now()
	return run.result, nil
}

// loadRun collects the results of a running load.
type loadRun struct {
	config LoadConfig
	mu     sync.Mutex
	result *LoadResult
}

func (r *loadRun) add(t TurnResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.result.Turns = append(r.result.Turns, t)
}

// converse is one shopper: wait for its start in the ramp, connect, and
// send the scripted messages.
func (r *loadRun) converse(ctx context.Context, c int) {
	cfg := r.config
	start := r.result.Started.Add(time.Duration(c) * cfg.Ramp / time.Duration(cfg.Conversations))
	if !sleepUntil(ctx, start) {
		return
	}
	client, err := web.Dial(ctx, cfg.ServerURL, cfg.ShopKey, web.DialOptions{Page: &web.Page{URL: cfg.PageURL}})
	if err != nil {
		r.add(TurnResult{Conversation: c, Sent: time.Now(), Outcome: OutcomeDial})
		return
	}
	defer client.Close()
	r.mu.Lock()
	r.result.Connected++
	r.mu.Unlock()

	for t := range cfg.Turns {
		if ctx.Err() != nil {
			return
		}
		result, fatal := r.turn(ctx, client, c, t)
		r.add(result)
		if fatal {
			return
		}
		if t < cfg.Turns-1 && !sleepUntil(ctx, time.Now().Add(cfg.Think)) {
			return
		}
	}
}

// turn sends one message and waits for its reply. fatal is true when the
// connection cannot carry another turn.
func (r *loadRun) turn(ctx context.Context, client *web.Client, c, t int) (result TurnResult, fatal bool) {
	cfg := r.config
	marker := TurnMarker(c, t)
	frame := web.MessageFrame{
		ClientID: rand.Text(),
		Text:     cfg.Messages[(c*cfg.Turns+t)%len(cfg.Messages)],
		Page:     &web.Page{URL: cfg.PageURL + marker},
	}
	result = TurnResult{Conversation: c, Turn: t, Marker: marker}

	turnCtx, cancel := context.WithTimeout(ctx, cfg.TurnTimeout)
	defer cancel()
	result.Sent = time.Now()
	if err := client.SendMessage(turnCtx, frame); err != nil {
		result.Outcome = OutcomeSend
		return result, true
	}

	seq := 0
	for {
		f, err := client.Next(turnCtx)
		elapsed := time.Since(result.Sent)
		switch {
		case err != nil && ctx.Err() != nil:
			result.Outcome = OutcomeCut
			return result, true
		case err != nil && turnCtx.Err() != nil:
			result.Outcome = OutcomeTimeout
			return result, true
		case err != nil:
			result.Outcome = OutcomeClosed
			return result, true
		}

		switch f.Type {
		case web.FrameAck:
			if f.ClientID == frame.ClientID {
				seq, result.Ack = f.Seq, elapsed
			}
		case web.FrameDelta, web.FrameReplace:
			if seq != 0 && f.Turn == seq && result.FirstText == 0 {
				result.FirstText = elapsed
			}
		case web.FrameMessage:
			if seq != 0 && f.Turn == seq && f.Message != nil && f.Message.Role == salesagent.RoleAgent {
				result.Reply = elapsed
				return result, false
			}
		case web.FrameError:
			if f.ClientID == frame.ClientID || (seq != 0 && f.Turn == seq) || f.Fatal {
				result.Outcome = f.Code
				return result, f.Fatal
			}
		}
	}
}
