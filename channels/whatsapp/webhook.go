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
	"log/slog"
	"net/http"
	"strings"
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

// webhook serves one route pair for every shop.
type webhook struct {
	ch   *Channel
	jobs JobInserter
}

// verify handles Meta's verification request, which the Meta App Dashboard
// sends when the callback URL is saved: it echoes hub.challenge when
// hub.mode is subscribe and hub.verify_token is the shop's verify token.
func (h *webhook) verify(w http.ResponseWriter, r *http.Request) {
	shop, s, ok := h.shopSettings(w, r)
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

// receive checks the signature of a webhook notification, stores its
// messages and statuses in one transaction, and responds with 200. The
// agent's turns run later in River jobs, so Meta gets its response fast.
func (h *webhook) receive(w http.ResponseWriter, r *http.Request) {
	shop, s, ok := h.shopSettings(w, r)
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
	if !validSignature(body, r.Header.Get(signatureHeader), s.AppSecret) {
		h.ch.log.WarnContext(r.Context(), "whatsapp webhook rejected: bad or missing signature", "shop_id", shop.ID)
		http.Error(w, "invalid "+signatureHeader+": sign the raw body with HMAC-SHA256 keyed with the Meta app secret", http.StatusUnauthorized)
		return
	}

	var notification webhookBody
	if err := json.Unmarshal(body, &notification); err != nil {
		h.ch.log.WarnContext(r.Context(), "whatsapp webhook body is not JSON", "shop_id", shop.ID, "error", err)
		http.Error(w, "invalid webhook body: expected a JSON notification", http.StatusBadRequest)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.ch.cfg.WebhookTimeout)
	defer cancel()
	var counts batchCounts
	err = h.ch.db.InTx(ctx, func(tx pgx.Tx) error {
		counts = batchCounts{}
		return h.ch.storeNotification(ctx, tx, h.jobs, shop, s, &notification, &counts)
	})
	if err != nil {
		// Meta redelivers the notification, and the stored wamids make the
		// next delivery store each message once.
		h.ch.log.ErrorContext(ctx, "store whatsapp webhook failed", "shop_id", shop.ID, "error", err)
		http.Error(w, "storing the notification failed; it will be redelivered", http.StatusInternalServerError)
		return
	}
	// Status notifications come up to three per message sent, so only new
	// messages are logged at info.
	level := slog.LevelDebug
	if counts.stored > 0 {
		level = slog.LevelInfo
	}
	h.ch.log.Log(ctx, level, "whatsapp webhook stored", "shop_id", shop.ID,
		"messages", counts.stored, "duplicates", counts.duplicates, "statuses", counts.statuses, "ignored", counts.ignored)
	w.WriteHeader(http.StatusOK)
}

// shopSettings returns the shop named in the path and its WhatsApp
// settings, or responds with 404 and reports false.
func (h *webhook) shopSettings(w http.ResponseWriter, r *http.Request) (*salesagent.Shop, *salesagent.WhatsAppSettings, bool) {
	slug := r.PathValue("shop")
	shop, err := h.ch.db.ShopBySlug(r.Context(), slug)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		http.Error(w, "unknown shop "+truncate(slug, 63), http.StatusNotFound)
		return nil, nil, false
	}
	if err != nil {
		h.ch.log.ErrorContext(r.Context(), "look up shop for whatsapp webhook failed", "error", err)
		http.Error(w, "shop lookup failed", http.StatusInternalServerError)
		return nil, nil, false
	}
	s, err := settings(shop)
	if err != nil {
		h.ch.log.WarnContext(r.Context(), "whatsapp webhook for a shop without WhatsApp settings", "shop_id", shop.ID, "error", err)
		http.Error(w, "WhatsApp is not set up for this shop", http.StatusNotFound)
		return nil, nil, false
	}
	return shop, s, true
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
