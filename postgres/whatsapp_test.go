package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

func TestWhatsAppCustomerAndConversation(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)

	first, created, err := postgres.EnsureWhatsAppCustomer(ctx, db.Pool, shop.ID, "15550001111", "")
	if err != nil || !created {
		t.Fatalf("first contact: created %v, %v", created, err)
	}
	again, created, err := postgres.EnsureWhatsAppCustomer(ctx, db.Pool, shop.ID, "15550001111", "Ann")
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("second contact: customer %d created %v, %v; want customer %d", again.ID, created, err, first.ID)
	}
	if again.Name != "Ann" || again.Phone != "+15550001111" {
		t.Errorf("customer = %q %q, want the profile name filled in and the number", again.Name, again.Phone)
	}

	conv, created, err := postgres.OpenWhatsAppConversation(ctx, db.Pool, shop.ID, first.ID)
	if err != nil || !created || conv.Channel != salesagent.ChannelWhatsApp {
		t.Fatalf("open conversation: %+v created %v, %v", conv, created, err)
	}
	same, created, err := postgres.OpenWhatsAppConversation(ctx, db.Pool, shop.ID, first.ID)
	if err != nil || created || same.ID != conv.ID {
		t.Errorf("second open: %d created %v, %v; want conversation %d", same.ID, created, err, conv.ID)
	}
	if err := db.SetConversationStatus(ctx, shop.ID, conv.ID, salesagent.StatusResolved); err != nil {
		t.Fatal(err)
	}
	next, created, err := postgres.OpenWhatsAppConversation(ctx, db.Pool, shop.ID, first.ID)
	if err != nil || !created || next.ID == conv.ID {
		t.Errorf("after resolving: %d created %v, %v; want a new conversation", next.ID, created, err)
	}
}

func TestAppendMessageTxNumbersAndDeduplicates(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)
	customer, _, err := postgres.EnsureWhatsAppCustomer(ctx, db.Pool, shop.ID, "15550002222", "Bob")
	if err != nil {
		t.Fatal(err)
	}
	conv, _, err := postgres.OpenWhatsAppConversation(ctx, db.Pool, shop.ID, customer.ID)
	if err != nil {
		t.Fatal(err)
	}

	var stored [3]salesagent.Message
	var duplicate bool
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		for i, clientID := range []string{"wamid.a", "wamid.b", "wamid.a"} {
			stored[i], duplicate, err = postgres.AppendMessageTx(ctx, tx, shop.ID, salesagent.Message{
				ConversationID: conv.ID, Role: salesagent.RoleShopper, Body: "hi", ClientID: clientID,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored[0].Seq != 1 || stored[1].Seq != 2 {
		t.Errorf("seqs = %d, %d, want 1, 2", stored[0].Seq, stored[1].Seq)
	}
	if !duplicate || stored[2].Seq != 1 {
		t.Errorf("repeated client id: duplicate %v seq %d, want the first message", duplicate, stored[2].Seq)
	}
	reply, err := postgres.MessageReplyingTo(ctx, db.Pool, shop.ID, conv.ID, 1, salesagent.RoleAgent)
	if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Errorf("reply before any: %+v, %v; want not found", reply, err)
	}
}

func TestSetConsentKeepsProfile(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)
	customer, _, err := postgres.EnsureWhatsAppCustomer(ctx, db.Pool, shop.ID, "15550003333", "Cy")
	if err != nil {
		t.Fatal(err)
	}
	err = db.RecordEvents(ctx, shop.ID, &customer.ID, nil, func(p *salesagent.Profile) { p.CartsSaved = 2 })
	if err != nil {
		t.Fatal(err)
	}

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	consent := salesagent.Consent{OptedOut: true, Channel: salesagent.ChannelWhatsApp, Keyword: "STOP", At: at}
	if err := postgres.SetConsent(ctx, db.Pool, shop.ID, customer.ID, consent); err != nil {
		t.Fatal(err)
	}
	got, err := db.CustomerByID(ctx, shop.ID, customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile.Consent == nil || *got.Profile.Consent != consent {
		t.Errorf("consent = %+v, want %+v", got.Profile.Consent, consent)
	}
	if got.Profile.CartsSaved != 2 {
		t.Errorf("carts saved = %d, want the profile's 2 kept", got.Profile.CartsSaved)
	}
	if err := postgres.SetConsent(ctx, db.Pool, shop.ID, 1<<40, consent); salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Errorf("unknown customer: %v, want not found", err)
	}
}
