package console

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Handoff webhooks go to a URL that a shop's settings name. Loopback and
// private addresses stay allowed, because self-hosted receivers such as n8n
// often run beside salesagent. Link-local addresses are blocked: cloud
// providers serve instance metadata and credentials on 169.254.169.254 and
// fd00:ec2::254, and no webhook receiver lives there.

// blockedReason returns why a webhook may not connect to addr, or "" when
// it may.
func blockedReason(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return "a link-local address, where cloud machines serve their metadata and credentials"
	case addr == netip.MustParseAddr("fd00:ec2::254"):
		return "a cloud metadata address"
	case addr.IsUnspecified():
		return "the unspecified address"
	case addr.IsMulticast():
		return "a multicast address"
	}
	return ""
}

// CheckWebhookURL rejects a handoff webhook URL that is not absolute http
// or https, or whose host is an IP address a webhook may not reach. A host
// name is checked again each time a notification connects.
func CheckWebhookURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid handoff webhook URL %q: use an absolute http or https URL, such as https://hooks.example.com/salesagent", raw)
	}
	if addr, err := netip.ParseAddr(u.Hostname()); err == nil {
		if why := blockedReason(addr); why != "" {
			return nil, fmt.Errorf("invalid handoff webhook URL %q: %s is %s; use the receiver's own address", raw, u.Hostname(), why)
		}
	}
	return u, nil
}

// blockDialControl is a net.Dialer Control function that stops a connection
// to a blocked address after DNS resolution, before any packet is sent, so
// that neither a host name nor a redirect reaches one.
func blockDialControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("handoff webhook: invalid address %q: %w", address, err)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("handoff webhook: invalid address %q: %w", address, err)
	}
	if why := blockedReason(addr); why != "" {
		return fmt.Errorf("handoff webhook: blocked the connection to %s, %s", host, why)
	}
	return nil
}

// newWebhookClient returns the default client of handoff notifications:
// a 10-second timeout, the environment's proxy settings, and no
// connections to blocked addresses. NOTE: through a proxy (HTTPS_PROXY),
// only the proxy's address is checked here, and the proxy reaches the
// host, so CheckWebhookURL's check of an IP host is all that applies.
func newWebhookClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: blockDialControl}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = dialer.DialContext
	return &http.Client{Timeout: 10 * time.Second, Transport: transport}
}
