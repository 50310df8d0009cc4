package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/time/rate"

	"github.com/salesagent/salesagent"
)

// ChatOptions configure RunChat, the client behind `salesagent chat`.
type ChatOptions struct {
	// Server is the server's base URL, as in http://127.0.0.1:8080.
	Server string
	// Shop is the shop's slug or widget key (pk_...).
	Shop string
	// Product is the handle of the product the shopper looks at, if any.
	Product string
	// Cart is the shopper's cart, sent with every message.
	Cart []salesagent.CartItem
	// Visitor is a visitor token that resumes an earlier conversation.
	Visitor string
	// Message is sent alone when MessageSet is true or Message is not
	// empty: RunChat prints the events of its turn and returns after the
	// final message.
	Message string
	// MessageSet means the caller was given a message, even an empty one,
	// so that an empty --message is rejected instead of starting an
	// interactive chat.
	MessageSet bool
	// JSON prints every protocol frame as one JSON object per line instead
	// of text. The rate_limited errors that RunChat handles by resending
	// the message are left out.
	JSON bool
	// Timeout bounds the wait for the reply to Message, resends after a
	// rate_limited error included. Defaults to 3m.
	Timeout time.Duration
	In      io.Reader
	Out     io.Writer
}

// Limits on how RunChat resends a message the server rejected as
// rate_limited.
const (
	// maxRateLimitedResends is how often one message is resent before
	// RunChat reports the rate_limited error.
	maxRateLimitedResends = 5
	// maxRetryWait caps the wait that a rate_limited error requests.
	maxRetryWait = time.Minute
	// retryMargin is added to that wait, because retry_after_ms is
	// rounded down to the millisecond.
	retryMargin = 100 * time.Millisecond
)

// The pace at which RunChat sends message frames, kept below the server's
// per-socket frame limit (socketFrameRate, socketFrameBurst) so that piped
// input never trips it. The burst leaves room for the hello frame.
const (
	chatFrameRate  = socketFrameRate * 4 / 5
	chatFrameBurst = socketFrameBurst - 5
)

// RunChat talks to a shop over the widget protocol: with a message set it
// sends that one message, otherwise it runs a REPL that reads one message
// per line from opts.In until EOF or /quit. Both wait for each message's
// turn to end before sending the next, and resend a message rejected as
// rate_limited after the wait that the error requests.
func RunChat(ctx context.Context, opts ChatOptions) error {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Minute
	}
	oneMessage := opts.MessageSet || opts.Message != ""
	if oneMessage && strings.TrimSpace(opts.Message) == "" {
		return salesagent.Errorf(salesagent.EINVALID,
			"--message is empty: give the text to send, as in --message \"Do you have this in M?\", or leave --message out to chat interactively")
	}

	var page *Page
	if opts.Product != "" {
		page = &Page{Product: opts.Product}
	}
	client, err := Dial(ctx, opts.Server, opts.Shop, DialOptions{VisitorToken: opts.Visitor, Page: page, Cart: opts.Cart})
	if err != nil {
		return explainDialError(opts.Server, opts.Shop, err)
	}
	defer client.Close()

	p := &chatPrinter{out: opts.Out, json: opts.JSON}
	pace := rate.NewLimiter(chatFrameRate, chatFrameBurst)
	if oneMessage {
		p.welcome(client.Welcome, false)
		ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
		return sendAndWait(ctx, client, p, pace, opts.Message)
	}
	return repl(ctx, client, p, pace, opts.In)
}

// explainDialError turns the failures a user of `salesagent chat` can fix
// into errors that name the fix: a server that is not reachable and an
// unknown shop.
func explainDialError(server, shop string, err error) error {
	server = strings.TrimRight(server, "/")
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return fmt.Errorf("the server at %s is not reachable: start it with `salesagent serve` (or `make demo` for the demo shop), or set --server to the URL of a running server: %w", server, opErr)
	}
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return &salesagent.Error{
			Code:    salesagent.ENOTFOUND,
			Message: fmt.Sprintf("shop %q not found on %s: check --shop (shops are listed at %s/)", shop, server, server),
		}
	}
	return err
}

// sendAndWait sends text and prints frames until the turn's final message
// or error. The error frame that ends the turn is returned, and printed
// only as JSON, so that text output shows it once.
func sendAndWait(ctx context.Context, client *Client, p *chatPrinter, pace *rate.Limiter, text string) error {
	msg := &outgoing{frame: client.newMessage(text)}
	if err := msg.send(ctx, client, pace); err != nil {
		return err
	}
	for {
		f, err := client.Next(ctx)
		if err != nil {
			if msg.turn == 0 {
				return fmt.Errorf("wait for the server to store the message: %w", err)
			}
			// The server stores the reply when it finishes the turn, so
			// the conversation can be picked up where it stopped.
			return fmt.Errorf("wait for the reply to message %d: %w (the server may still store the reply: to read it, run salesagent chat with the same --server and --shop and --visitor %s)",
				msg.turn, err, client.Welcome.VisitorToken)
		}

		state, wait, turnErr := msg.observe(f)
		switch state {
		case turnResend:
			p.resending(wait)
			if err := sleepContext(ctx, wait); err != nil {
				return fmt.Errorf("wait %s to resend the rate-limited message: %w", wait.Round(100*time.Millisecond), err)
			}
			if err := msg.send(ctx, client, pace); err != nil {
				return err
			}
		case turnDone:
			if turnErr != nil {
				if p.json {
					p.raw(f)
				}
				return turnErr
			}
			p.frame(f)
			return nil
		default:
			p.frame(f)
		}
	}
}

// repl sends each line of in as a message and prints what comes back,
// including messages that arrive between turns, such as an operator's. It
// sends one message at a time and reads the next line only once the
// previous message's turn has ended.
func repl(ctx context.Context, client *Client, p *chatPrinter, pace *rate.Limiter, in io.Reader) error {
	p.welcome(client.Welcome, true)
	if in == nil {
		return errors.New("chat needs an input to read messages from, or a message to send")
	}

	frames := make(chan ServerFrame)
	readErr := make(chan error, 1)
	go func() {
		for {
			f, err := client.Next(ctx)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case frames <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	lines := make(chan string)
	var inputErr error // set before lines is closed
	go func() {
		defer close(lines)
		scanner := bufio.NewScanner(in)
		scanner.Buffer(make([]byte, 64<<10), 64<<10)
		for scanner.Scan() {
			select {
			case lines <- scanner.Text():
			case <-ctx.Done():
				return
			}
		}
		inputErr = scanner.Err()
	}()

	var current *outgoing // the message whose turn has not ended
	var resend <-chan time.Time
	inputDone := false
	p.prompt()
	for {
		var nextLine <-chan string
		if current == nil && !inputDone {
			nextLine = lines
		}
		if current == nil && inputDone {
			if inputErr != nil {
				return fmt.Errorf("read messages from the input: %w", inputErr)
			}
			return nil
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return fmt.Errorf("connection lost (resume with visitor token %s): %w", client.Welcome.VisitorToken, err)
		case line, ok := <-nextLine:
			if !ok {
				inputDone = true
				continue
			}
			line = strings.TrimSpace(line)
			if line == "/quit" || line == "/exit" {
				return nil
			}
			if line == "" {
				p.prompt()
				continue
			}
			current = &outgoing{frame: client.newMessage(line)}
			if err := current.send(ctx, client, pace); err != nil {
				return err
			}
		case <-resend:
			resend = nil
			if err := current.send(ctx, client, pace); err != nil {
				return err
			}
		case f := <-frames:
			if f.Fatal {
				// The caller prints the returned error; JSON output
				// still gets the frame.
				if p.json {
					p.raw(f)
				}
				return f.Err()
			}
			if current == nil {
				p.frame(f)
				continue
			}
			state, wait, _ := current.observe(f)
			switch state {
			case turnResend:
				p.resending(wait)
				resend = time.After(wait)
			case turnDone:
				p.frame(f)
				current = nil
				p.prompt()
			default:
				p.frame(f)
			}
		}
	}
}

// turnState is the state of a sent message after a server frame.
type turnState int

const (
	// turnWaiting means the turn goes on: keep reading frames.
	turnWaiting turnState = iota
	// turnDone means the turn ended, with its final message or an error.
	turnDone
	// turnResend means the server rejected the message as rate_limited:
	// send it again with the same client id after the wait.
	turnResend
)

// outgoing is a shopper message followed from send to the end of its turn.
type outgoing struct {
	frame MessageFrame
	// turn is the seq of the message's ack, 0 until it is acknowledged.
	turn    int
	resends int
}

// send sends the message frame, keeping to the client's pace.
func (o *outgoing) send(ctx context.Context, client *Client, pace *rate.Limiter) error {
	if err := pace.Wait(ctx); err != nil {
		return fmt.Errorf("wait to send the message: %w", err)
	}
	return client.SendMessage(ctx, o.frame)
}

// observe updates the message's state with server frame f. It returns the
// wait before a resend with turnResend, and the turn's error, if any, with
// turnDone.
func (o *outgoing) observe(f ServerFrame) (turnState, time.Duration, error) {
	ours := f.ClientID == o.frame.ClientID
	switch {
	case f.Type == FrameAck && ours:
		if f.Duplicate {
			// The message was stored before, and no turn runs.
			return turnDone, 0, nil
		}
		o.turn = f.Seq
	case f.Type == FrameError && f.Fatal:
		return turnDone, 0, f.Err()
	case f.Type == FrameError && f.Code == salesagent.ERATELIMITED && ours && o.resends < maxRateLimitedResends:
		o.resends++
		return turnResend, retryWait(f.RetryAfterMS), nil
	case f.Type == FrameError && (ours || (o.turn != 0 && f.Turn == o.turn)):
		return turnDone, 0, f.Err()
	case f.Type == FrameError && o.turn == 0 && f.ClientID == "" && f.Turn == 0:
		// An error about a frame without a readable client_id, such as
		// a too_large frame, concerns the only unacknowledged message.
		return turnDone, 0, f.Err()
	case f.Type == FrameMessage && o.turn != 0 && f.Message != nil && (f.Turn == o.turn || f.Message.ReplyTo == o.turn):
		return turnDone, 0, nil
	case f.Type == FrameHeld && o.turn != 0 && f.Turn == o.turn:
		// A person holds the conversation; their reply comes as a
		// message whenever they write it.
		return turnDone, 0, nil
	}
	return turnWaiting, 0, nil
}

// retryWait returns the wait before resending a message rejected with
// retry_after_ms, with a margin, at least a second when the server gave
// none, and at most maxRetryWait.
func retryWait(retryAfterMS int64) time.Duration {
	if retryAfterMS <= 0 {
		return time.Second
	}
	wait := time.Duration(retryAfterMS)*time.Millisecond + retryMargin
	return min(wait, maxRetryWait)
}

// sleepContext waits for d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// chatPrinter prints frames as JSON lines or as readable text.
type chatPrinter struct {
	out      io.Writer
	json     bool
	streamed map[int]bool // turns whose text was printed as deltas
	midLine  bool
}

func (p *chatPrinter) welcome(w ServerFrame, interactive bool) {
	if p.json {
		p.raw(w)
		return
	}
	if !interactive {
		return
	}
	fmt.Fprintf(p.out, "Connected to %s (conversation %d).\nResume this conversation later with --visitor %s\n",
		w.ShopName, w.ConversationID, w.VisitorToken)
	for _, m := range w.History {
		p.message(m, 0)
	}
	fmt.Fprintln(p.out, "Type a message and press Enter; /quit ends the chat.")
}

func (p *chatPrinter) prompt() {
	if !p.json {
		fmt.Fprint(p.out, "you> ")
	}
}

// resending prints a note that a rate-limited message is sent again after
// wait. JSON output leaves the note out.
func (p *chatPrinter) resending(wait time.Duration) {
	if p.json {
		return
	}
	p.endLine()
	fmt.Fprintf(p.out, "  [rate limited by the server: resending in %s]\n", wait.Round(100*time.Millisecond))
}

func (p *chatPrinter) raw(f ServerFrame) {
	fmt.Fprintf(p.out, "%s\n", f.Raw)
}

func (p *chatPrinter) frame(f ServerFrame) {
	if p.json {
		p.raw(f)
		return
	}
	switch f.Type {
	case FrameDelta:
		if !p.streamed[f.Turn] {
			p.markStreamed(f.Turn)
			fmt.Fprint(p.out, "agent: ")
		}
		fmt.Fprint(p.out, f.Text)
		p.midLine = true
	case FrameReplace:
		p.replace(f.Turn, f.Text)
	case FrameCard:
		p.endLine()
		if f.Card != nil {
			writeCard(p.out, *f.Card)
		}
	case FrameTool:
		p.endLine()
		status := "ok"
		if !f.OK {
			status = "failed"
		}
		fmt.Fprintf(p.out, "  [tool %s %s: %s]\n", f.Name, status, f.Summary)
	case FrameHandoff:
		p.endLine()
		fmt.Fprintf(p.out, "  [handed over to the shop's team: %s]\n", f.Reason)
	case FrameHeld:
		p.endLine()
		if p.streamed[f.Turn] {
			fmt.Fprintln(p.out, "  [answer withdrawn]")
		}
		fmt.Fprintln(p.out, "  [a person from the shop's team has the conversation; their reply will appear here]")
	case FrameMessage:
		if f.Message != nil {
			p.message(*f.Message, f.Turn)
		}
	case FrameError:
		p.endLine()
		fmt.Fprintf(p.out, "error (%s): %s\n", f.Code, f.ErrorMessage)
	}
}

// replace prints the corrected text of a turn. Text streamed before it
// stays on the screen, so a note marks the correction.
func (p *chatPrinter) replace(turn int, text string) {
	p.endLine()
	if p.streamed[turn] {
		fmt.Fprintln(p.out, "  [answer corrected]")
	}
	p.markStreamed(turn)
	fmt.Fprint(p.out, "agent: ", text)
	p.midLine = true
}

func (p *chatPrinter) markStreamed(turn int) {
	if p.streamed == nil {
		p.streamed = map[int]bool{}
	}
	p.streamed[turn] = true
}

// message prints a stored message, leaving out the text and cards that
// were already streamed for its turn.
func (p *chatPrinter) message(m salesagent.Message, turn int) {
	if turn == 0 {
		turn = m.ReplyTo
	}
	if p.streamed[turn] && m.Role == salesagent.RoleAgent {
		p.endLine()
		delete(p.streamed, turn)
	} else {
		p.endLine()
		fmt.Fprintf(p.out, "%s: %s\n", m.Role, m.Body)
		for _, c := range m.Cards {
			writeCard(p.out, c)
		}
	}
	if len(m.Citations) > 0 {
		titles := make([]string, 0, len(m.Citations))
		for _, c := range m.Citations {
			titles = append(titles, c.Title)
		}
		fmt.Fprintf(p.out, "  sources: %s\n", strings.Join(titles, "; "))
	}
}

func (p *chatPrinter) endLine() {
	if p.midLine {
		fmt.Fprintln(p.out)
		p.midLine = false
	}
}

// writeCard prints a card as plain text: a size guide as an aligned table,
// products as a list, a discount's code and percentage on a line of their
// own, other cards as their fields and link.
func writeCard(out io.Writer, c salesagent.Card) {
	if c.Title != "" {
		fmt.Fprintf(out, "  [%s] %s\n", c.Type, c.Title)
	} else {
		fmt.Fprintf(out, "  [%s]\n", c.Type)
	}
	fields := c.Fields
	if c.Type == salesagent.CardDiscount {
		var code, percent string
		code, percent, fields = discountTerms(c.Fields)
		switch {
		case code != "" && percent != "":
			fmt.Fprintf(out, "    %s (%s off)\n", code, percent)
		case code != "":
			fmt.Fprintf(out, "    %s\n", code)
		}
	}
	if c.Table != nil {
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "    %s\n", strings.Join(c.Table.Columns, "\t"))
		for _, row := range c.Table.Rows {
			fmt.Fprintf(tw, "    %s\n", strings.Join(row, "\t"))
		}
		tw.Flush()
		if c.Table.Notes != "" {
			fmt.Fprintf(out, "    %s\n", c.Table.Notes)
		}
	}
	for _, product := range c.Products {
		stock := "in stock"
		if !product.InStock {
			stock = "out of stock"
		}
		fmt.Fprintf(out, "    - %s, %s, %s %s\n", product.Title, product.Price, stock, product.URL)
	}
	if c.Text != "" {
		fmt.Fprintf(out, "    %s\n", c.Text)
	}
	for _, field := range fields {
		fmt.Fprintf(out, "    %s: %s\n", field.Label, field.Value)
	}
	if c.URL != "" {
		fmt.Fprintf(out, "    %s\n", c.URL)
	}
}

// discountTerms picks a discount card's code and percentage out of its
// fields, which the apply_discount tool labels "Code" and "Discount", and
// returns the other fields. Without a code field, all fields are returned
// as the other fields.
func discountTerms(fields []salesagent.Field) (code, percent string, rest []salesagent.Field) {
	for _, f := range fields {
		switch {
		case code == "" && strings.EqualFold(f.Label, "code"):
			code = f.Value
		case percent == "" && strings.EqualFold(f.Label, "discount"):
			percent = f.Value
		default:
			rest = append(rest, f)
		}
	}
	if code == "" {
		return "", "", fields
	}
	return code, percent, rest
}

// ParseCart parses a cart given on the command line as SKU:QTY pairs
// separated by commas, as in "TEE-M:2,CAP-1:1". A SKU without :QTY counts
// once.
func ParseCart(s string) ([]salesagent.CartItem, error) {
	var items []salesagent.CartItem
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sku, qtyText, hasQty := strings.Cut(part, ":")
		qty := 1
		if hasQty {
			n, err := strconv.Atoi(strings.TrimSpace(qtyText))
			if err != nil || n < 1 || n > maxCartQuantity {
				return nil, fmt.Errorf("invalid cart line %q: the quantity after ':' must be a whole number from 1 to %d", part, maxCartQuantity)
			}
			qty = n
		}
		sku = strings.TrimSpace(sku)
		if sku == "" || len(sku) > maxSKULength {
			return nil, fmt.Errorf("invalid cart line %q: write SKU:QTY, as in TEE-M:2", part)
		}
		items = append(items, salesagent.CartItem{SKU: sku, Quantity: qty})
	}
	if len(items) > maxCartItems {
		return nil, fmt.Errorf("cart has %d lines; the limit is %d", len(items), maxCartItems)
	}
	return items, nil
}
