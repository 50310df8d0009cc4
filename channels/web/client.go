package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/salesagent/salesagent"
)

// DialOptions are the optional parts of a client's hello.
type DialOptions struct {
	// VisitorToken resumes the visitor's conversation; empty starts a new
	// one.
	VisitorToken string
	// LastSeq is the seq of the last message the client has; the welcome
	// carries every message after it.
	LastSeq int
	Page    *Page
	Cart    []salesagent.CartItem
	// HTTPClient looks up a shop's widget key by slug. Defaults to a client
	// with a 10s timeout.
	HTTPClient *http.Client
}

// Client is one connection speaking the widget protocol, as the widget
// does. A goroutine reads frames into a buffer that Next drains, so a Next
// that gives up on its context leaves the connection usable.
type Client struct {
	conn *websocket.Conn
	// Welcome is the server's reply to the client's hello.
	Welcome ServerFrame
	page    *Page
	cart    []salesagent.CartItem

	writeMu sync.Mutex
	frames  chan ServerFrame
	// readErr is set before frames is closed.
	readErr   error
	closed    chan struct{}
	closeOnce sync.Once
}

// Dial connects to the server at serverURL (http or https, as in
// http://127.0.0.1:8080), sends hello to the shop named by a slug or a
// widget key (pk_...), and waits for the welcome.
func Dial(ctx context.Context, serverURL, shop string, opts DialOptions) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(serverURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("invalid server URL %q: use http://HOST:PORT or https://HOST", serverURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	key, err := shopKey(ctx, opts.HTTPClient, base, shop)
	if err != nil {
		return nil, err
	}

	socketURL := *base
	socketURL.Scheme = map[string]string{"http": "ws", "https": "wss"}[base.Scheme]
	socketURL.Path = strings.TrimRight(base.Path, "/") + "/ws"
	header := http.Header{"Origin": {base.Scheme + "://" + base.Host}}
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}
	conn, resp, err := dialer.DialContext(ctx, socketURL.String(), header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("connect to %s: server responded %s: %w", socketURL.String(), resp.Status, err)
		}
		return nil, fmt.Errorf("connect to %s: %w", socketURL.String(), err)
	}

	c := &Client{conn: conn, page: opts.Page, cart: opts.Cart, frames: make(chan ServerFrame, 256), closed: make(chan struct{})}
	go c.readLoop()
	hello := HelloFrame{Type: FrameHello, ShopKey: key, VisitorToken: opts.VisitorToken, LastSeq: opts.LastSeq, Page: opts.Page, Cart: opts.Cart}
	if err := c.write(ctx, hello); err != nil {
		conn.Close()
		return nil, err
	}
	welcome, err := c.Next(ctx)
	if err == nil {
		err = welcome.Err()
	}
	if err == nil && welcome.Type != FrameWelcome {
		err = fmt.Errorf("server sent %q before welcome", welcome.Type)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("say hello to shop %s: %w", shop, err)
	}
	c.Welcome = welcome
	return c, nil
}

// shopKey returns shop when it is a widget key, or looks the slug's key up
// with GET /api/shops/{slug}/widget.
func shopKey(ctx context.Context, client *http.Client, base *url.URL, shop string) (string, error) {
	if strings.HasPrefix(shop, "pk_") {
		return shop, nil
	}
	if !salesagent.ValidSlug(shop) {
		return "", fmt.Errorf("invalid shop %q: give a shop slug (lowercase letters, digits, hyphens) or a widget key starting with pk_", shop)
	}

	infoURL := base.String() + "/api/shops/" + shop + "/widget"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, infoURL, nil)
	if err != nil {
		return "", fmt.Errorf("look up shop %s: %w", shop, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("look up shop %s at %s: %w", shop, infoURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("look up shop %s: read response: %w", shop, err)
	}

	if resp.StatusCode != http.StatusOK {
		var failure struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(body, &failure) == nil && failure.Error.Message != "" {
			return "", &salesagent.Error{Code: failure.Error.Code, Message: failure.Error.Message}
		}
		return "", fmt.Errorf("look up shop %s: %s responded %s; check that %s is a salesagent server", shop, infoURL, resp.Status, base)
	}

	var info WidgetInfo
	if err := json.Unmarshal(body, &info); err != nil || info.ShopKey == "" {
		return "", fmt.Errorf("look up shop %s: %s returned no shop_key", shop, infoURL)
	}
	return info.ShopKey, nil
}

// Send sends a shopper message with a new client id and the page and cart
// given at Dial, and returns the client id.
func (c *Client) Send(ctx context.Context, text string) (string, error) {
	frame := c.newMessage(text)
	return frame.ClientID, c.SendMessage(ctx, frame)
}

// newMessage builds a message frame with a new client id and the page and
// cart given at Dial.
func (c *Client) newMessage(text string) MessageFrame {
	return MessageFrame{Type: FrameMessage, ClientID: newClientID(), Text: text, Page: c.page, Cart: c.cart}
}

// SendMessage sends a message frame as given, as when resending with the
// same client id.
func (c *Client) SendMessage(ctx context.Context, frame MessageFrame) error {
	frame.Type = FrameMessage
	return c.write(ctx, frame)
}

// SendRaw sends data as one text frame, for tests of the server's checks.
func (c *Client) SendRaw(ctx context.Context, data []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.setWriteDeadline(ctx)
	if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("send frame: %w", err)
	}
	return nil
}

func (c *Client) write(ctx context.Context, frame any) error {
	data, err := json.Marshal(frame)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	return c.SendRaw(ctx, data)
}

func (c *Client) setWriteDeadline(ctx context.Context) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = c.conn.SetWriteDeadline(deadline)
}

func (c *Client) readLoop() {
	defer close(c.frames)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.readErr = fmt.Errorf("read frame: %w", err)
			return
		}
		f, err := DecodeServerFrame(data)
		if err != nil {
			c.readErr = err
			return
		}
		select {
		case c.frames <- f:
		case <-c.closed:
			c.readErr = errors.New("read frame: client closed")
			return
		}
	}
}

// Next returns the next frame from the server, waiting until ctx ends.
// After the connection fails it returns the read error.
func (c *Client) Next(ctx context.Context) (ServerFrame, error) {
	select {
	case f, ok := <-c.frames:
		if !ok {
			return ServerFrame{}, c.readErr
		}
		return f, nil
	case <-ctx.Done():
		return ServerFrame{}, fmt.Errorf("wait for frame: %w", ctx.Err())
	}
}

// Close closes the connection with a normal close frame.
func (c *Client) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	c.writeMu.Lock()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	c.writeMu.Unlock()
	return c.conn.Close()
}

// Err returns an error frame as an application error, and nil for any other
// frame.
func (f ServerFrame) Err() error {
	if f.Type != FrameError {
		return nil
	}
	return &salesagent.Error{Code: f.Code, Message: f.ErrorMessage}
}

// newClientID returns a random version 4 UUID.
func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// IsClosed reports whether err means the server closed the connection, and
// with which close code.
func IsClosed(err error) (code int, closed bool) {
	var closeErr *websocket.CloseError
	if errors.As(err, &closeErr) {
		return closeErr.Code, true
	}
	return 0, false
}
