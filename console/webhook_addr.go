package console

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Handoff webhooks go to a URL that a shop's settings name. Loopback and
// private addresses stay allowed, because self-hosted receivers such as n8n
// often run beside salesagent. Link-local addresses are blocked: cloud
// providers serve instance metadata and credentials on 169.254.169.254 and
// fd00:ec2::254, and no webhook receiver lives there.

// Other cloud metadata addresses outside the link-local ranges.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("192.0.0.192"),     // Oracle Cloud
}

// metadataHosts are host names of cloud metadata services.
var metadataHosts = []string{"metadata", "metadata.google.internal", "metadata.goog", "metadata.azure.internal"}

// blockedReason returns why a webhook may not connect to addr, or "" when
// it may. An IPv4 address carried inside an IPv6 one, as in the mapped
// ::ffff:a.b.c.d, the compatible ::a.b.c.d, NAT64's 64:ff9b::/96 and
// 6to4's 2002::/16, is checked as itself.
func blockedReason(addr netip.Addr) string {
	addr = addr.Unmap()
	if embedded, ok := embeddedIPv4(addr); ok {
		if reason := blockedReason(embedded); reason != "" {
			return reason
		}
	}
	switch {
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return "a link-local address, where cloud machines serve their metadata and credentials"
	case slices.Contains(metadataAddrs, addr):
		return "a cloud metadata address"
	case addr.IsUnspecified():
		return "the unspecified address"
	case addr.IsMulticast():
		return "a multicast address"
	}
	return ""
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 returns the IPv4 address inside an IPv6 address of a form
// that carries one.
func embeddedIPv4(addr netip.Addr) (netip.Addr, bool) {
	if !addr.Is6() {
		return netip.Addr{}, false
	}
	b := addr.As16()
	switch {
	case nat64Prefix.Contains(addr), b == [16]byte{12: b[12], 13: b[13], 14: b[14], 15: b[15]} && !addr.IsLoopback() && !addr.IsUnspecified():
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixToFour.Contains(addr):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// numericHost matches a host made of numbers only, as the IPv4 forms that
// C libraries accept: "2852039166", "0xa9fea9fe", "0251.0376.0251.0376"
// or "169.254.43518".
var numericHost = regexp.MustCompile(`(?i)^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$`)

// CheckWebhookURL rejects a handoff webhook URL that is not absolute http
// or https, whose port is out of range, or whose host is an address a
// webhook may not reach, written in any form, or a metadata service's
// name. A host name is checked again each time a notification connects.
func CheckWebhookURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid handoff webhook URL %q: use an absolute http or https URL, such as https://hooks.example.com/salesagent", raw)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("invalid handoff webhook URL %q: port %s is not 1 to 65535", raw, port)
		}
	}
	// Ideographic and full-width full stops separate labels as "." does.
	host := strings.NewReplacer("\u3002", ".", "\uff0e", ".", "\uff61", ".").Replace(u.Hostname())
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	invalid := func(reason string) error {
		return fmt.Errorf("invalid handoff webhook URL %q: %s is %s; use the receiver's own address", raw, u.Hostname(), reason)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if reason := blockedReason(addr); reason != "" {
			return nil, invalid(reason)
		}
		return u, nil
	}
	if numericHost.MatchString(host) {
		return nil, invalid("an IP address in a form other than a.b.c.d, which may hide a blocked address")
	}
	if slices.Contains(metadataHosts, host) {
		return nil, invalid("a cloud metadata service")
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
	if reason := blockedReason(addr); reason != "" {
		return fmt.Errorf("handoff webhook: blocked the connection to %s, %s", host, reason)
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
