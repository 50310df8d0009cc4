package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/salesagent/salesagent/channels/web"
	"github.com/salesagent/salesagent/postgres"
)

// TestHeldConversationEndsTurnWithoutReply checks that a shopper writing
// while an operator holds the conversation gets a held frame in place of an
// agent reply, so clients such as salesagent chat stop waiting.
func TestHeldConversationEndsTurnWithoutReply(t *testing.T) {
	ingestPaths(t, "shop-held", demoShopDir(t))
	server := startServer(t)
	db := openDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shop, err := db.ShopBySlug(ctx, "shop-held")
	if err != nil {
		t.Fatal(err)
	}

	client, err := web.Dial(ctx, server, "shop-held", web.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Send(ctx, "How much is express shipping?"); err != nil {
		t.Fatal(err)
	}
	waitFrame(t, ctx, client, func(f web.ServerFrame) bool {
		return f.Type == web.FrameMessage && f.Message != nil && f.Message.Role == "agent"
	})

	var convID int64
	if err := db.Pool.QueryRow(ctx, `SELECT id FROM conversations WHERE shop_id = $1 ORDER BY id DESC LIMIT 1`, shop.ID).Scan(&convID); err != nil {
		t.Fatal(err)
	}
	op, err := db.CreateOperator(ctx, shop.ID, "ana@example.com", "Ana", postgres.OperatorRoleOperator, "not-a-real-hash")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.ClaimConversation(ctx, op, convID, "Ana joined the conversation", nil); err != nil {
		t.Fatal(err)
	}
	waitFrame(t, ctx, client, func(f web.ServerFrame) bool {
		return f.Type == web.FrameMessage && f.Message != nil && strings.Contains(f.Message.Body, "Ana joined")
	})

	if _, err := client.Send(ctx, "And to Canada?"); err != nil {
		t.Fatal(err)
	}
	held := waitFrame(t, ctx, client, func(f web.ServerFrame) bool {
		if f.Type == web.FrameMessage && f.Message != nil && f.Message.Role == "agent" {
			t.Fatalf("the agent answered while Ana holds the conversation: %q", f.Message.Body)
		}
		return f.Type == web.FrameHeld
	})
	if held.Turn == 0 {
		t.Errorf("held frame without the turn it ends: %s", held.Raw)
	}
}

// waitFrame reads frames until keep returns true and returns that frame.
func waitFrame(t *testing.T, ctx context.Context, client *web.Client, keep func(web.ServerFrame) bool) web.ServerFrame {
	t.Helper()
	for {
		f, err := client.Next(ctx)
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		if keep(f) {
			return f
		}
	}
}
