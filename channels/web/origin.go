package web

import (
	"net/url"
	"strings"
)

// originAllowed reports whether a browser page at origin may open a shop's
// chat. Allowed are the shop's allowed origins, the server's own host and
// the origin of publicURL. A request without an Origin header comes from a
// client that is not a browser, which could send any header it likes, so it
// is allowed too.
func originAllowed(origin, requestHost, publicURL string, allowed []string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, requestHost) {
		return true
	}
	want := normalizeOrigin(origin)
	if publicURL != "" && normalizeOrigin(publicURL) == want {
		return true
	}
	for _, a := range allowed {
		if normalizeOrigin(a) == want {
			return true
		}
	}
	return false
}

// normalizeOrigin reduces a URL or origin to scheme://host[:port] in lower
// case, leaving out the scheme's default port as browsers do.
func normalizeOrigin(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}
