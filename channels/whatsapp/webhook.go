package whatsapp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// signatureHeader carries the HMAC-SHA256 of the raw body, keyed with the
// Meta app's secret, as "sha256=<hex>".
const signatureHeader = "X-Hub-Signature-256"

// maxChallengeLength caps the echoed hub.challenge; Meta sends a short
// number.
const maxChallengeLength = 1024

// shopCacheTTL is how long the webhook reuses a shop and its WhatsApp
// settings before it reads them again. A signature that fails against a
// cached app secret is checked again against the stored one, so a new
// secret takes effect at once, but a replaced secret, even a leaked one,
// still passes for up to this time. Other changes, such as a new phone
// number id or removed settings, take effect within this time.
const shopCacheTTL = 10 * time.Second

// webhook serves one route pair for every shop.
type webhook struct {
	ch   *Channel
	jobs JobInserter
	// shops caches the shops that notifications name, because a busy
	// number sends hundreds of notifications a second and each would
	// otherwise read its shop again.
	shops shopCache
}

// shopCache holds recently read shops with their WhatsApp settings, by
// slug. Shops that are not found are not cached. The zero value is ready
// to use.
type shopCache struct {
	mu      sync.Mutex
	entries map[string]cachedShop
}

// cachedShop is a shop and its WhatsApp settings as read at the time
// loaded. Requests share them, so they must not be changed.
type cachedShop struct {
	shop     *salesagent.Shop
	settings *salesagent.WhatsAppSettings
	loaded   time.Time
}

func (c *shopCache) get(slug string, now time.Time) (cachedShop, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	entry, ok := c.entries[slug]
	if !ok || now.Sub(entry.loaded) >= shopCacheTTL {
		return cachedShop{}, false
	}
	return entry, true
}

func (c *shopCache) put(slug string, entry cachedShop) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cachedShop{}
	}
	c.entries[slug] = entry
}

func (c *shopCache) remove(slug string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, slug)
}

// verify handles Meta's verification request, which the Meta App Dashboard
// sends when the callback URL is saved: it echoes hub.challenge when
// hub.mode is subscribe and hub.verify_token is the shop's verify token.
func (h *webhook) verify(w http.ResponseWriter, r *http.Request) {
	// The handshake runs right after the verify token is set, so it
	// always reads the shop.
	shop, s, _, ok := h.shopSettings(w, r, false)
	if !ok {
		return
	}
	query := r.URL.Query()
	token, challenge := query.Get("hub.verify_token"), query.Get("hub.challenge")
	if query.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare([]byte(token), []byte(s.VerifyToken)) != 1 {
		h.ch.log.WarnContext(r.Context(), "whatsapp webhook verification rejected", "shop_id", shop.ID, "mode", query.Get("hub.mode"))
		http.Error(w, "verification failed: hub.mode must be subscribe and hub.verify_token must match the shop's WhatsApp verify token", http.StatusForbidden)
		return
	}
	if challenge == "" || len(challenge) > maxChallengeLength {
		http.Error(w, "verification failed: hub.challenge is missing or too long", http.StatusBadRequest)
		return
	}
	h.ch.log.InfoContext(r.Context(), "whatsapp webhook verified", "shop_id", shop.ID)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.WriteString(w, challenge)
}

// receive checks the signature of a webhook notification and that its
// body is JSON, queues the body in one inbound job, and responds with 200.
// The job stores the messages and statuses, and the agent's turns run in
// jobs after that, so Meta gets its response after a single insert.
func (h *webhook) receive(w http.ResponseWriter, r *http.Request) {
	shop, s, cached, ok := h.shopSettings(w, r, true)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.ch.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.ch.log.WarnContext(r.Context(), "whatsapp webhook body too large", "shop_id", shop.ID, "limit_bytes", tooLarge.Limit)
		http.Error(w, "webhook body too large", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "read webhook body failed", http.StatusBadRequest)
		return
	}
	signature := r.Header.Get(signatureHeader)
	if cached && !validSignature(body, signature, s.AppSecret) {
		// The app secret may have changed since the shop was cached.
		if shop, s, _, ok = h.shopSettings(w, r, false); !ok {
			return
		}
	}
	if !validSignature(body, signature, s.AppSecret) {
		h.ch.log.WarnContext(r.Context(), "whatsapp webhook rejected: bad or missing signature", "shop_id", shop.ID)
		http.Error(w, "invalid "+signatureHeader+": sign the raw body with HMAC-SHA256 keyed with the Meta app secret", http.StatusUnauthorized)
		return
	}

	// The inbound job decodes the body again. Decoding it here too rejects
	// a body the job could never store, while the sender still gets the
	// error.
	var notification webhookBody
	if err := json.Unmarshal(body, &notification); err != nil {
		h.ch.log.WarnContext(r.Context(), "whatsapp webhook body is not JSON", "shop_id", shop.ID, "error", err)
		http.Error(w, "invalid webhook body: expected a JSON notification", http.StatusBadRequest)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.ch.cfg.WebhookTimeout)
	defer cancel()
	args := InboundArgs{ShopID: shop.ID, Body: string(body), ReceivedAt: h.ch.cfg.Now().UTC()}
	var jobID int64
	err = h.ch.db.InTx(ctx, func(tx pgx.Tx) error {
		res, err := h.jobs.InsertTx(ctx, tx, args, nil)
		if err != nil {
			return err
		}
		jobID = res.Job.ID
		return nil
	})
	if err != nil {
		// Nothing is stored, and Meta redelivers the notification.
		h.ch.log.ErrorContext(ctx, "queue whatsapp webhook failed", "shop_id", shop.ID, "error", err)
		http.Error(w, "queuing the notification failed; it will be redelivered", http.StatusInternalServerError)
		return
	}
	h.ch.log.DebugContext(ctx, "whatsapp webhook queued", "shop_id", shop.ID, "job_id", jobID, "bytes", len(body))
	w.WriteHeader(http.StatusOK)
}

// shopSettings returns the shop named in the path and its WhatsApp
// settings, or responds with 404 and reports false. With useCache set, it
// may return a copy read within shopCacheTTL, which the caller must not
// change, and then reports cached.
func (h *webhook) shopSettings(w http.ResponseWriter, r *http.Request, useCache bool) (shop *salesagent.Shop, s *salesagent.WhatsAppSettings, cached, ok bool) {
	slug := r.PathValue("shop")
	now := time.Now()
	if useCache {
		if entry, found := h.shops.get(slug, now); found {
			return entry.shop, entry.settings, true, true
		}
	}

	h.shops.remove(slug)
	shop, err := h.ch.db.ShopBySlug(r.Context(), slug)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		http.Error(w, "unknown shop "+truncate(slug, 63), http.StatusNotFound)
		return nil, nil, false, false
	}
	if err != nil {
		h.ch.log.ErrorContext(r.Context(), "look up shop for whatsapp webhook failed", "error", err)
		http.Error(w, "shop lookup failed", http.StatusInternalServerError)
		return nil, nil, false, false
	}
	s, err = settings(shop)
	if err != nil {
		h.ch.log.WarnContext(r.Context(), "whatsapp webhook for a shop without WhatsApp settings", "shop_id", shop.ID, "error", err)
		http.Error(w, "WhatsApp is not set up for this shop", http.StatusNotFound)
		return nil, nil, false, false
	}
	h.shops.put(slug, cachedShop{shop: shop, settings: s, loaded: now})
	return shop, s, false, true
}

// validSignature reports whether header is "sha256=" and the hex HMAC-SHA256
// of body keyed with secret, compared in constant time.
func validSignature(body []byte, header, secret string) bool {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok || secret == "" {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// truncate cuts s to at most n bytes on a rune boundary, ending with "…"
// when cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
