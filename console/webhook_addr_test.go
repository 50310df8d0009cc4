package console

import (
	"strings"
	"testing"
)

func TestCheckWebhookURL(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"https://hooks.example.com/salesagent",
		"http://127.0.0.1:5678/webhook",
		"http://10.0.0.5/n8n",
		"http://[::1]:8080/hook",
		"http://localhost:5678/webhook",
		"http://[2001:db8::1]/hook",
		"https://1password.example.com/hook",
	} {
		if _, err := CheckWebhookURL(raw); err != nil {
			t.Errorf("CheckWebhookURL(%q): %v, want it allowed", raw, err)
		}
	}
	for raw, want := range map[string]string{
		"http://169.254.169.254/latest/meta-data": "link-local",
		"http://[fe80::1]/hook":                   "link-local",
		"http://[fd00:ec2::254]/":                 "metadata",
		"http://[::ffff:169.254.169.254]/":        "link-local",
		"http://0.0.0.0/":                         "unspecified",
		"http://239.1.1.1/":                       "multicast",
		"hooks.example.com/x":                     "absolute http or https",
		"http://2852039166/":                      "form other than a.b.c.d",
		"http://0xa9fea9fe/":                      "form other than a.b.c.d",
		"http://0251.0376.0251.0376/":             "form other than a.b.c.d",
		"http://0xa9.0xfe.0xa9.0xfe/":             "form other than a.b.c.d",
		"http://169.254.43518/":                   "form other than a.b.c.d",
		"http://169.254.169.254./":                "link-local",
		"http://169。254。169。254/":                 "link-local",
		"http://[::169.254.169.254]/":             "link-local",
		"http://[64:ff9b::a9fe:a9fe]/":            "link-local",
		"http://[2002:a9fe:a9fe::]/":              "link-local",
		"http://100.100.100.200/":                 "metadata",
		"http://192.0.0.192/":                     "metadata",
		"http://metadata.google.internal/":        "metadata",
		"http://METADATA.GOOGLE.INTERNAL./":       "metadata",
		"http://hooks.example.com:99999/":         "port 99999",
		"ftp://hooks.example.com/":                "absolute http or https",
	} {
		_, err := CheckWebhookURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), raw) {
			t.Errorf("CheckWebhookURL(%q) = %v, want an error naming the URL and %q", raw, err, want)
		}
	}
}

// TestBlockDialControl calls the dialer's check directly, so no connection to
// a blocked address is ever attempted.
func TestBlockDialControl(t *testing.T) {
	t.Parallel()
	for _, address := range []string{"169.254.169.254:80", "[fe80::1%eth0]:443", "[fd00:ec2::254]:80", "[::169.254.169.254]:80", "[64:ff9b::a9fe:a9fe]:80", "100.100.100.200:80"} {
		if err := blockDialControl("tcp", address, nil); err == nil || !strings.Contains(err.Error(), "blocked the connection") {
			t.Errorf("blockDialControl(%q) = %v, want it blocked", address, err)
		}
	}
	for _, address := range []string{"127.0.0.1:8080", "[::1]:80", "192.168.1.20:5678", "93.184.216.34:443"} {
		if err := blockDialControl("tcp", address, nil); err != nil {
			t.Errorf("blockDialControl(%q) = %v, want it allowed", address, err)
		}
	}
}
