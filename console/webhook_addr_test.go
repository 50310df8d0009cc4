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
	for _, address := range []string{"169.254.169.254:80", "[fe80::1%eth0]:443", "[fd00:ec2::254]:80"} {
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
