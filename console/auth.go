package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// SessionCookie is the name of the console's session cookie. It holds a
// random token, of which the server stores only the SHA-256.
const SessionCookie = "salesagent_console"

// CSRFHeader is the header that every POST or DELETE after login must carry, set to
// the session's csrf_token from the login or /me response.
const CSRFHeader = "X-CSRF-Token"

// dummyHash is compared against when the account does not exist, so that a
// login takes as long for an unknown email as for a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("salesagent unknown operator"), bcrypt.DefaultCost)

// HashPassword returns the bcrypt hash of an operator's password. It
// rejects passwords shorter than 10 characters or longer than bcrypt's
// 72-byte limit.
func HashPassword(password string) (string, error) {
	switch {
	case len([]rune(password)) < 10:
		return "", salesagent.Errorf(salesagent.EINVALID, "password is %d characters long: use at least 10", len([]rune(password)))
	case len(password) > 72:
		return "", salesagent.Errorf(salesagent.EINVALID, "password is %d bytes long: bcrypt uses at most 72, so use a shorter one", len(password))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(hash), nil
}

type loginRequest struct {
	Shop     string `json:"shop"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// sessionResponse is the body of login and /me responses.
type sessionResponse struct {
	Operator  *postgres.Operator `json:"operator"`
	Shop      shopSummary        `json:"shop"`
	CSRFToken string             `json:"csrf_token"`
	ExpiresAt time.Time          `json:"expires_at"`
}

type shopSummary struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req loginRequest
	if err := decodeBody(r, &req); err != nil {
		c.writeError(w, r, err)
		return
	}
	req.Shop, req.Email = strings.TrimSpace(req.Shop), strings.TrimSpace(req.Email)
	if req.Shop == "" || req.Email == "" || req.Password == "" {
		c.writeError(w, r, salesagent.Errorf(salesagent.EINVALID, "missing shop, email or password: send all three"))
		return
	}
	if strings.ContainsRune(req.Shop+req.Email+req.Password, 0) {
		c.writeError(w, r, salesagent.Errorf(salesagent.EINVALID, "shop, email or password contains a NUL character (\\u0000): remove it"))
		return
	}

	ip := c.clientIP(r)
	wait, err := c.takeLoginToken(ctx, req, ip)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	if wait > 0 {
		seconds := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", fmt.Sprint(seconds))
		c.log.WarnContext(ctx, "console login rate limited", "shop", req.Shop, "client_ip", ip)
		c.writeError(w, r, salesagent.Errorf(salesagent.ERATELIMITED,
			"too many login attempts from your address or for this account: wait %d seconds and try again", seconds))
		return
	}

	op, err := c.checkPassword(ctx, req)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	shop, err := c.db.ShopByID(ctx, op.ShopID)
	if err != nil {
		c.writeError(w, r, err)
		return
	}

	if n, err := c.db.DeleteExpiredOperatorSessions(ctx); err != nil {
		c.log.WarnContext(ctx, "delete expired console sessions failed", "error", err)
	} else if n > 0 {
		c.log.DebugContext(ctx, "deleted expired console sessions", "sessions", n)
	}
	idle := max(c.cfg.LoginLimit.Every*time.Duration(c.cfg.LoginLimit.Burst),
		c.cfg.LoginLimit.AddressEvery*time.Duration(c.cfg.LoginLimit.AddressBurst))
	if _, err := c.db.DeleteFullBuckets(ctx, idle); err != nil {
		c.log.WarnContext(ctx, "delete full login limit buckets failed", "error", err)
	}

	token, csrf := randomToken(), randomToken()
	expires := time.Now().Add(c.cfg.SessionTTL).UTC().Truncate(time.Second)
	if err := c.db.CreateOperatorSession(ctx, op, hashToken(token), csrf, expires); err != nil {
		c.writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/console",
		Expires: expires, MaxAge: int(c.cfg.SessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: c.secure(r),
	})
	c.log.InfoContext(ctx, "operator signed in", "shop_id", op.ShopID, "operator_id", op.ID)
	writeJSON(w, http.StatusOK, sessionResponse{
		Operator: op, Shop: shopSummary{Slug: shop.Slug, Name: shop.Name}, CSRFToken: csrf, ExpiresAt: expires,
	})
}

// takeLoginToken spends one attempt of the client address's bucket and one
// of the account's bucket at that address. It returns how long to wait
// when either is empty.
func (c *Console) takeLoginToken(ctx context.Context, req loginRequest, ip string) (time.Duration, error) {
	limit := c.cfg.LoginLimit
	address := sha256.Sum256([]byte("console-login-address\x00" + ip))
	wait, err := c.db.TakeToken(ctx, address[:], limit.AddressBurst, limit.AddressEvery)
	if err != nil || wait > 0 {
		return wait, err
	}
	account := sha256.Sum256([]byte("console-login\x00" + strings.ToLower(req.Shop) + "\x00" + strings.ToLower(req.Email) + "\x00" + ip))
	return c.db.TakeToken(ctx, account[:], limit.Burst, limit.Every)
}

// checkPassword returns the operator whose shop, email and password match
// req. Every mismatch gets the same error, so a caller cannot tell which
// part was wrong.
func (c *Console) checkPassword(ctx context.Context, req loginRequest) (*postgres.Operator, error) {
	wrong := salesagent.Errorf(salesagent.EUNAUTHORIZED, "wrong shop, email or password: check them and try again")
	hash := dummyHash
	var op *postgres.Operator
	shop, err := c.db.ShopBySlug(ctx, req.Shop)
	if err != nil && salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		return nil, err
	}
	if shop != nil && err == nil {
		op, err = c.db.OperatorByEmail(ctx, shop.ID, req.Email)
		if err != nil && salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
			return nil, err
		}
		if err == nil {
			hash = []byte(op.PasswordHash)
		}
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(req.Password)) != nil || op == nil {
		c.log.InfoContext(ctx, "console login failed", "shop", req.Shop)
		return nil, wrong
	}
	return op, nil
}

func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	cookie, err := r.Cookie(SessionCookie)
	if err == nil {
		if err := c.db.DeleteOperatorSession(r.Context(), hashToken(cookie.Value)); err != nil {
			c.writeError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/console", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: c.secure(r),
	})
	c.log.InfoContext(r.Context(), "operator signed out", "shop_id", s.Operator.ShopID, "operator_id", s.Operator.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) handleMe(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	shop, err := c.db.ShopByID(r.Context(), s.Operator.ShopID)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sessionResponse{
		Operator: s.Operator, Shop: shopSummary{Slug: shop.Slug, Name: shop.Name}, CSRFToken: s.CSRFToken, ExpiresAt: s.ExpiresAt,
	})
}

// authed wraps a handler that needs a signed-in operator. It rejects a
// request without a valid session with 401. Every method other than GET and
// HEAD changes something, so such a request without the session's CSRF
// token in CSRFHeader gets 403.
func (c *Console) authed(next func(http.ResponseWriter, *http.Request, *postgres.OperatorSession)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cookie, err := r.Cookie(SessionCookie)
		if err != nil || cookie.Value == "" {
			c.writeError(w, r, salesagent.Errorf(salesagent.EUNAUTHORIZED, "not signed in: log in at /console/api/login first"))
			return
		}
		session, err := c.db.OperatorSessionByToken(r.Context(), hashToken(cookie.Value))
		if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
			c.writeError(w, r, salesagent.Errorf(salesagent.EUNAUTHORIZED, "session expired or signed out: log in again"))
			return
		}
		if err != nil {
			c.writeError(w, r, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			got := r.Header.Get(CSRFHeader)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(session.CSRFToken)) != 1 {
				c.writeError(w, r, salesagent.Errorf(salesagent.EFORBIDDEN,
					"missing or wrong %s header: send the csrf_token from the login or /console/api/me response", CSRFHeader))
				return
			}
		}
		next(w, r, session)
	}
}

// secure reports whether cookies must be Secure: the request came over TLS
// or operators reach the server at an https address.
func (c *Console) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(c.cfg.PublicURL), "https://")
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// clientIP returns the address of the client that sent r: the remote
// address, or, when that is a trusted proxy, the last X-Forwarded-For entry
// that is not one. Entries left of it may be forged by the client, so they
// are never used.
func (c *Console) clientIP(r *http.Request) string {
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, splitErr := net.SplitHostPort(r.RemoteAddr)
		if splitErr != nil {
			return r.RemoteAddr
		}
		return host
	}
	addr := remote.Addr().Unmap()
	if !c.trusted(addr) {
		return addr.String()
	}
	var hops []string
	for _, header := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(header, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// A malformed entry ends what can be trusted.
			break
		}
		hop = hop.Unmap()
		if !c.trusted(hop) {
			return hop.String()
		}
		addr = hop
	}
	return addr.String()
}

func (c *Console) trusted(addr netip.Addr) bool {
	for _, p := range c.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
