package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/salesagent/salesagent/channels/web"
	"github.com/salesagent/salesagent/console"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

// TestHandoffWebhookThroughServe sets a shop's handoff webhook with the
// shop command, requests a person from the running server's agent over the
// widget's WebSocket, and waits for the signed notification.
func TestHandoffWebhookThroughServe(t *testing.T) {
	type delivery struct {
		header http.Header
		body   []byte
	}
	got := make(chan delivery, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{header: r.Header.Clone(), body: body}
	}))
	t.Cleanup(receiver.Close)

	ingestPaths(t, "shop-hook", demoShopDir(t))
	t.Setenv("HOOK_SECRET", "hook-secret-value")
	stdout, stderr, err := runCommand(t, "shop", "--database-url", pgtest.URL(t), "--shop", "shop-hook",
		"--handoff-webhook-url", receiver.URL+"/salesagent", "--handoff-webhook-secret-env", "HOOK_SECRET")
	if err != nil {
		t.Fatalf("shop: %v\n%s", err, stderr)
	}
	if strings.Contains(stdout, "hook-secret-value") || !strings.Contains(stdout, `"signed":true`) {
		t.Errorf("shop output shows the secret or does not say it is set:\n%s", stdout)
	}
	// A receiver such as Slack puts its secret in the path.
	if strings.Contains(stdout, "/salesagent") || !strings.Contains(stdout, receiver.URL+"/…") {
		t.Errorf("shop output shows the webhook's path, or not its host:\n%s", stdout)
	}

	server := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := web.Dial(ctx, server, "shop-hook", web.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Send(ctx, "Can I talk to a person please?"); err != nil {
		t.Fatal(err)
	}

	select {
	case d := <-got:
		want := console.Sign("hook-secret-value", d.header.Get(console.TimestampHeader), d.body)
		if d.header.Get(console.SignatureHeader) != want {
			t.Errorf("signature %q, want %q", d.header.Get(console.SignatureHeader), want)
		}
		var body struct {
			Type string `json:"type"`
			Shop struct {
				Slug string `json:"slug"`
			} `json:"shop"`
			Conversation struct {
				Channel string `json:"channel"`
				URL     string `json:"url"`
			} `json:"conversation"`
		}
		if err := json.Unmarshal(d.body, &body); err != nil {
			t.Fatalf("decode notification %s: %v", d.body, err)
		}
		if body.Type != console.EventEscalated || body.Shop.Slug != "shop-hook" || body.Conversation.Channel != "web" ||
			!strings.HasPrefix(body.Conversation.URL, server+"/console/?shop=shop-hook#conversation/") {
			t.Errorf("notification %s, want an escalation of shop-hook's web conversation linking to %s/console/", d.body, server)
		}
	case <-ctx.Done():
		t.Fatal("no handoff notification within 30 s of asking for a person")
	}

	_, _, err = runCommand(t, "shop", "--database-url", pgtest.URL(t), "--shop", "shop-hook", "--handoff-webhook-url", "hooks.example.com/x")
	if err == nil || !strings.Contains(err.Error(), `"hooks.example.com/x"`) {
		t.Errorf("relative webhook URL: err = %v, want one naming the value", err)
	}
}
