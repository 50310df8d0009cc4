package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

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
	// Message, when set, is sent alone: RunChat prints the events of its
	// turn and returns after the final message.
	Message string
	// JSON prints every protocol frame as one JSON object per line instead
	// of text.
	JSON bool
	// Timeout bounds the wait for the reply to Message. Defaults to 3m.
	Timeout time.Duration
	In      io.Reader
	Out     io.Writer
}

// RunChat talks to a shop over the widget protocol: with opts.Message set
// it sends that one message, otherwise it runs a REPL that reads one
// message per line from opts.In until EOF or /quit.
func RunChat(ctx context.Context, opts ChatOptions) error {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Minute
	}
	var page *Page
	if opts.Product != "" {
		page = &Page{Product: opts.Product}
	}
	client, err := Dial(ctx, opts.Server, opts.Shop, DialOptions{VisitorToken: opts.Visitor, Page: page, Cart: opts.Cart})
	if err != nil {
		return err
	}
	defer client.Close()

	p := &chatPrinter{out: opts.Out, json: opts.JSON}
	if opts.Message != "" {
		p.welcome(client.Welcome, false)
		ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
		return sendAndWait(ctx, client, p, opts.Message)
	}
	return repl(ctx, client, p, opts.In)
}

// sendAndWait sends text and prints frames until the turn's final message
// or error.
func sendAndWait(ctx context.Context, client *Client, p *chatPrinter, text string) error {
	clientID, err := client.Send(ctx, text)
	if err != nil {
		return err
	}
	turn := 0
	for {
		f, err := client.Next(ctx)
		if err != nil {
			if turn == 0 {
				return fmt.Errorf("wait for the server to store the message: %w", err)
			}
			return fmt.Errorf("wait for the reply to message %d: %w", turn, err)
		}
		p.frame(f)
		switch {
		case f.Type == FrameAck && f.ClientID == clientID:
			if f.Duplicate {
				return nil
			}
			turn = f.Seq
		case f.Type == FrameError && (f.ClientID == clientID || (turn != 0 && f.Turn == turn)):
			return f.Err()
		case f.Type == FrameError && f.Fatal:
			return f.Err()
		case f.Type == FrameMessage && turn != 0 && f.Message != nil && (f.Turn == turn || f.Message.ReplyTo == turn):
			return nil
		}
	}
}

// repl sends each line of in as a message and prints what comes back,
// including messages that arrive between turns, such as an operator's.
func repl(ctx context.Context, client *Client, p *chatPrinter, in io.Reader) error {
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
	}()

	var waitingFor string // client id of the message whose reply is awaited
	turn := 0
	inputDone := false
	p.prompt()
	for {
		var nextLine <-chan string
		if waitingFor == "" && !inputDone {
			nextLine = lines
		}
		if waitingFor == "" && inputDone {
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
			id, err := client.Send(ctx, line)
			if err != nil {
				return err
			}
			waitingFor, turn = id, 0
		case f := <-frames:
			p.frame(f)
			if f.Fatal {
				return f.Err()
			}
			if done, next := turnDone(f, waitingFor, turn); done {
				waitingFor, turn = "", 0
				p.prompt()
			} else {
				turn = next
			}
		}
	}
}

// turnDone reports whether f ends the wait for the reply to the message
// with clientID, and otherwise the turn to wait for.
func turnDone(f ServerFrame, clientID string, turn int) (bool, int) {
	if clientID == "" {
		return false, turn
	}
	switch f.Type {
	case FrameAck:
		if f.ClientID == clientID {
			return f.Duplicate, f.Seq
		}
	case FrameError:
		if f.ClientID == clientID || (turn != 0 && f.Turn == turn) {
			return true, 0
		}
	case FrameMessage:
		if turn != 0 && f.Message != nil && (f.Turn == turn || f.Message.ReplyTo == turn) {
			return true, 0
		}
	}
	return false, turn
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
		if p.streamed == nil {
			p.streamed = map[int]bool{}
		}
		if !p.streamed[f.Turn] {
			p.streamed[f.Turn] = true
			fmt.Fprint(p.out, "agent: ")
		}
		fmt.Fprint(p.out, f.Text)
		p.midLine = true
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
	case FrameMessage:
		if f.Message != nil {
			p.message(*f.Message, f.Turn)
		}
	case FrameError:
		p.endLine()
		fmt.Fprintf(p.out, "error (%s): %s\n", f.Code, f.ErrorMessage)
	}
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
// products as a list, other cards as their fields and link.
func writeCard(out io.Writer, c salesagent.Card) {
	if c.Title != "" {
		fmt.Fprintf(out, "  [%s] %s\n", c.Type, c.Title)
	} else {
		fmt.Fprintf(out, "  [%s]\n", c.Type)
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
	for _, field := range c.Fields {
		fmt.Fprintf(out, "    %s: %s\n", field.Label, field.Value)
	}
	if c.URL != "" {
		fmt.Fprintf(out, "    %s\n", c.URL)
	}
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
