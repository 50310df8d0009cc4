package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var shopCounter struct {
	sync.Mutex
	n int
}

func newShop(t *testing.T, db *postgres.DB) *salesagent.Shop {
	t.Helper()
	shopCounter.Lock()
	shopCounter.n++
	slug := fmt.Sprintf("shop-%d", shopCounter.n)
	shopCounter.Unlock()
	shop, created, err := db.EnsureShop(context.Background(), slug, "Test "+slug)
	if err != nil {
		t.Fatalf("EnsureShop: %v", err)
	}
	if !created {
		t.Fatalf("EnsureShop(%s) found an existing shop", slug)
	}
	return shop
}

func TestEnsureShopIsIdempotent(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)

	again, created, err := db.EnsureShop(ctx, shop.Slug, "other name")
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second EnsureShop reported created")
	}
	if again.ID != shop.ID || again.WidgetKey != shop.WidgetKey {
		t.Errorf("second EnsureShop returned shop %d key %s, want %d key %s", again.ID, again.WidgetKey, shop.ID, shop.WidgetKey)
	}
	byKey, err := db.ShopByWidgetKey(ctx, shop.WidgetKey)
	if err != nil || byKey.ID != shop.ID {
		t.Errorf("ShopByWidgetKey = %v, %v", byKey, err)
	}
}

func TestEnsureShopRejectsBadSlug(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	_, _, err := db.EnsureShop(context.Background(), "Bad Slug!", "x")
	if salesagent.ErrorCode(err) != salesagent.EINVALID {
		t.Fatalf("EnsureShop(bad slug) error = %v, want code invalid", err)
	}
}

func TestUpsertProductsSkipsUnchanged(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)
	stock := 3
	compare := salesagent.Money(9900)
	products := []salesagent.Product{{
		ExternalID: "p1", Handle: "rain-jacket", Title: "Rain Jacket", ProductType: "Jackets",
		Variants: []salesagent.Variant{
			{ExternalID: "v1", SKU: "RJ-M", Options: []salesagent.Option{{Name: "Size", Value: "M"}}, Price: 8900, CompareAtPrice: &compare, Stock: &stock, Available: true},
			{ExternalID: "v2", SKU: "RJ-L", Options: []salesagent.Option{{Name: "Size", Value: "L"}}, Price: 8900, Available: true},
		},
	}}

	first, err := db.UpsertProducts(ctx, shop.ID, products)
	if err != nil {
		t.Fatal(err)
	}
	if first.Inserted != 1 || len(first.ChangedIDs) != 1 {
		t.Errorf("first upsert = %+v, want 1 inserted", first)
	}
	second, err := db.UpsertProducts(ctx, shop.ID, products)
	if err != nil {
		t.Fatal(err)
	}
	if second.Unchanged != 1 || len(second.ChangedIDs) != 0 {
		t.Errorf("second upsert = %+v, want 1 unchanged", second)
	}

	products[0].Variants = products[0].Variants[:1]
	products[0].Variants[0].Price = 7900
	third, err := db.UpsertProducts(ctx, shop.ID, products)
	if err != nil {
		t.Fatal(err)
	}
	if third.Updated != 1 {
		t.Errorf("third upsert = %+v, want 1 updated", third)
	}

	got, err := db.ProductBySKU(ctx, shop.ID, "RJ-M")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Variants) != 1 {
		t.Fatalf("variants = %d, want 1 after the L variant was removed", len(got.Variants))
	}
	v := got.Variants[0]
	if v.Price != 7900 || v.Price.String() != "79.00" {
		t.Errorf("price = %s, want 79.00", v.Price)
	}
	if v.CompareAtPrice == nil || *v.CompareAtPrice != 9900 {
		t.Errorf("compare-at price = %v, want 99.00", v.CompareAtPrice)
	}
	if v.Stock == nil || *v.Stock != 3 {
		t.Errorf("stock = %v, want 3", v.Stock)
	}
	if v.Option("size") != "M" {
		t.Errorf("size option = %q, want M", v.Option("size"))
	}
}

func TestAppendMessageNumbersAndDeduplicates(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)
	conv, err := db.CreateConversation(ctx, shop.ID, salesagent.ChannelWeb, []byte("token-hash-1"), nil)
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, err := db.AppendMessage(ctx, shop.ID, salesagent.Message{
				ConversationID: conv.ID, Role: salesagent.RoleShopper,
				Body: fmt.Sprintf("message %d", i), ClientID: fmt.Sprintf("c%d", i%10),
			})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	messages, err := db.MessagesAfter(ctx, shop.ID, conv.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(messages) != 10 {
		t.Fatalf("stored %d messages, want 10 (one per client id)", len(messages))
	}
	for i, m := range messages {
		if m.Seq != i+1 {
			t.Errorf("message %d has seq %d, want %d", i, m.Seq, i+1)
		}
	}

	_, dup, err := db.AppendMessage(ctx, shop.ID, salesagent.Message{ConversationID: conv.ID, Role: salesagent.RoleShopper, Body: "again", ClientID: "c3"})
	if err != nil {
		t.Fatal(err)
	}
	if !dup {
		t.Error("resend of client id c3 was not reported as duplicate")
	}
	after, _ := db.MessagesAfter(ctx, shop.ID, conv.ID, 8, 100)
	if len(after) != 2 {
		t.Errorf("MessagesAfter(8) = %d messages, want 2", len(after))
	}

	// A duplicate must not use up a seq: the next new message follows on.
	next, dup, err := db.AppendMessage(ctx, shop.ID, salesagent.Message{ConversationID: conv.ID, Role: salesagent.RoleShopper, Body: "new", ClientID: "c10"})
	if err != nil || dup {
		t.Fatalf("append c10: dup %v, err %v", dup, err)
	}
	if next.Seq != 11 {
		t.Errorf("message after 10 duplicates got seq %d, want 11", next.Seq)
	}
}

func TestAppendMessageToMissingOrHeldConversation(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)

	_, _, err := db.AppendMessage(ctx, shop.ID, salesagent.Message{ConversationID: -1, Role: salesagent.RoleShopper, Body: "hello"})
	if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Fatalf("append to a missing conversation: err %v, want ENOTFOUND", err)
	}
	_, err = db.AppendAgentMessage(ctx, shop.ID, salesagent.Message{ConversationID: -1, Role: salesagent.RoleAgent, Body: "hello"})
	if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Fatalf("agent append to a missing conversation: err %v, want ENOTFOUND", err)
	}

	conv, err := db.CreateConversation(ctx, shop.ID, salesagent.ChannelWeb, []byte("token-hash-held"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetConversationStatus(ctx, shop.ID, conv.ID, salesagent.StatusOperator); err != nil {
		t.Fatal(err)
	}
	dropped, err := db.AppendAgentMessage(ctx, shop.ID, salesagent.Message{ConversationID: conv.ID, Role: salesagent.RoleAgent, Body: "too late"})
	if err != nil {
		t.Fatalf("agent append while held: %v", err)
	}
	if dropped.Seq != 0 {
		t.Errorf("agent append while held stored seq %d, want nothing stored", dropped.Seq)
	}
	shopper, _, err := db.AppendMessage(ctx, shop.ID, salesagent.Message{ConversationID: conv.ID, Role: salesagent.RoleShopper, Body: "still there?"})
	if err != nil || shopper.Seq != 1 {
		t.Fatalf("shopper append while held: seq %d, err %v; want seq 1", shopper.Seq, err)
	}

	if err := db.SetConversationStatus(ctx, shop.ID, conv.ID, salesagent.StatusResolved); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.AppendMessage(ctx, shop.ID, salesagent.Message{ConversationID: conv.ID, Role: salesagent.RoleShopper, Body: "one more thing"}); err != nil {
		t.Fatal(err)
	}
	reopened, err := db.ConversationByID(ctx, shop.ID, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if reopened.Status != salesagent.StatusOpen {
		t.Errorf("a shopper message to a resolved conversation left status %q, want %q", reopened.Status, salesagent.StatusOpen)
	}
	reply, err := db.AppendAgentMessage(ctx, shop.ID, salesagent.Message{ConversationID: conv.ID, Role: salesagent.RoleAgent, Body: "Sure."})
	if err != nil || reply.Seq != 3 {
		t.Fatalf("agent append after reopening: seq %d, err %v; want seq 3", reply.Seq, err)
	}
}

func TestConversationIsolatedByShop(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shopA, shopB := newShop(t, db), newShop(t, db)
	conv, err := db.CreateConversation(ctx, shopA.ID, salesagent.ChannelWeb, []byte("shared-hash"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ConversationByVisitor(ctx, shopB.ID, []byte("shared-hash")); salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Errorf("shop B found shop A's conversation: err = %v", err)
	}
	if _, _, err := db.AppendMessage(ctx, shopB.ID, salesagent.Message{ConversationID: conv.ID, Role: salesagent.RoleShopper, Body: "x"}); err == nil {
		t.Error("shop B appended to shop A's conversation")
	}
}

// newCustomerConversation returns a new shop with a customer and a web
// conversation of theirs.
func newCustomerConversation(t *testing.T) (*postgres.DB, *salesagent.Shop, *salesagent.Customer, *salesagent.Conversation) {
	t.Helper()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)
	customer, err := db.CreateCustomer(ctx, shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := db.CreateConversation(ctx, shop.ID, salesagent.ChannelWeb, nil, &customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	return db, shop, customer, conv
}

// TestRecordEventsConcurrentTurns records the events of many turns of one
// customer at once, as two tabs or two channels do: every turn's events
// and profile change must be kept, with no deadlock between them.
func TestRecordEventsConcurrentTurns(t *testing.T) {
	t.Parallel()
	db, shop, customer, conv := newCustomerConversation(t)
	ctx := context.Background()

	const turns = 24
	var wg sync.WaitGroup
	errs := make(chan error, turns)
	for range turns {
		wg.Go(func() {
			events := []salesagent.Event{
				{ConversationID: &conv.ID, Type: salesagent.EventAnswered},
				{ConversationID: &conv.ID, Type: salesagent.EventCartSaved},
			}
			errs <- db.RecordEvents(ctx, shop.ID, &customer.ID, events, func(p *salesagent.Profile) { p.CartsSaved++ })
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("record events: %v", err)
		}
	}

	got, err := db.CustomerByID(ctx, shop.ID, customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile.CartsSaved != turns {
		t.Errorf("profile counts %d saved carts, want %d", got.Profile.CartsSaved, turns)
	}
	stored, err := db.ConversationEvents(ctx, shop.ID, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2*turns {
		t.Errorf("stored %d events, want %d", len(stored), 2*turns)
	}
}

func TestRecordEventsUpdatesProfile(t *testing.T) {
	t.Parallel()
	db, shop, customer, conv := newCustomerConversation(t)
	ctx := context.Background()
	events := []salesagent.Event{{ConversationID: &conv.ID, Type: salesagent.EventCartSaved}}
	err := db.RecordEvents(ctx, shop.ID, &customer.ID, events, func(p *salesagent.Profile) { p.CartsSaved++ })
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.CustomerByID(ctx, shop.ID, customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile.CartsSaved != 1 || got.Profile.LastSeenAt == nil {
		t.Errorf("profile = %+v, want one saved cart and a last-seen time", got.Profile)
	}
	stored, err := db.ConversationEvents(ctx, shop.ID, conv.ID)
	if err != nil || len(stored) != 1 || stored[0].Type != salesagent.EventCartSaved {
		t.Errorf("events = %+v, %v", stored, err)
	}

	_, err = db.Pool.Exec(ctx, `UPDATE events SET type = 'x' WHERE conversation_id = $1`, conv.ID)
	if err == nil {
		t.Error("updating an event succeeded; events must be append-only")
	}
	var pgErr interface{ SQLState() string }
	if !errors.As(err, &pgErr) {
		t.Errorf("update error %v is not a PostgreSQL error", err)
	}
}

func TestImportCustomersRejectsTakenEmail(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	shop := newShop(t, db)

	_, err := db.UpsertCustomers(ctx, shop.ID, []salesagent.Customer{
		{ExternalID: "602", Email: "ann@example.com", Name: "Ann"},
		{ExternalID: "700", Email: "bob@example.com", Name: "Bob"},
		{ExternalID: "800", Email: "fay@example.com", Name: "Fay"},
		{ExternalID: "801", Email: "gus@example.com", Name: "Gus"},
	})
	if err != nil {
		t.Fatal(err)
	}

	result, err := db.ImportCustomers(ctx, shop.ID, []salesagent.Customer{
		{ExternalID: "603", Email: "ANN@example.com", Name: "Ann again"},
		// 605 takes the email that 700 gives up later in the same call.
		{ExternalID: "605", Email: "bob@example.com", Name: "New Bob"},
		{ExternalID: "700", Email: "bob@work.example.com", Name: "Bob"},
		{ExternalID: "604", Email: "cy@example.com", Name: "Cy"},
		// 800 and 801 swap emails, which no order of statements allows.
		{ExternalID: "800", Email: "gus@example.com", Name: "Fay"},
		{ExternalID: "801", Email: "fay@example.com", Name: "Gus"},
		{ExternalID: "606", Email: "cy@example.com", Name: "Cy twin"},
	})
	if err != nil {
		t.Fatalf("ImportCustomers: %v", err)
	}

	want := []emailTakenWant{
		{0, "603", "602"},
		{4, "800", "801"},
		{5, "801", "800"},
		{6, "606", "604"},
	}
	if len(result.Rejected) != len(want) {
		t.Fatalf("rejected %v, want %d customers", result.Rejected, len(want))
	}
	for i, w := range want {
		got := result.Rejected[i]
		if got.Index != w.index || got.ExternalID != w.externalID || got.OwnerExternalID != w.owner {
			t.Errorf("rejected[%d] = %+v, want index %d, customer %s, owner %s", i, got, w.index, w.externalID, w.owner)
		}
		for _, part := range []string{strconv.Quote(w.externalID), strconv.Quote(w.owner), "fix:"} {
			if !strings.Contains(got.Error(), part) {
				t.Errorf("message %q does not contain %s", got, part)
			}
		}
	}
	for _, id := range []string{"605", "700", "604"} {
		if _, ok := result.IDs[id]; !ok {
			t.Errorf("customer %s was not stored; ids = %v", id, result.IDs)
		}
	}
	if _, ok := result.IDs["603"]; ok {
		t.Error("rejected customer 603 has an id")
	}
	ann, err := db.CustomerByEmail(ctx, shop.ID, "ann@example.com")
	if err != nil || ann.ExternalID != "602" || ann.Name != "Ann" {
		t.Errorf("owner of ann@example.com = %+v, %v; want customer 602 unchanged", ann, err)
	}
	bob, err := db.CustomerByEmail(ctx, shop.ID, "bob@example.com")
	if err != nil || bob.ExternalID != "605" {
		t.Errorf("owner of bob@example.com = %+v, %v; want customer 605", bob, err)
	}

	// UpsertCustomers returns the rejection as its error.
	_, err = db.UpsertCustomers(ctx, shop.ID, []salesagent.Customer{
		{ExternalID: "607", Email: "ann@example.com"},
		{ExternalID: "608", Email: "dee@example.com"},
	})
	var taken *postgres.EmailTakenError
	if !errors.As(err, &taken) || taken.OwnerExternalID != "602" {
		t.Errorf("UpsertCustomers with a taken email: err = %v, want an EmailTakenError naming 602", err)
	}
	if dee, err := db.CustomerByEmail(ctx, shop.ID, "dee@example.com"); err != nil || dee.ExternalID != "608" {
		t.Errorf("customer 608 beside the rejected one = %+v, %v; want it stored", dee, err)
	}
}

// emailTakenWant is one expected rejection of TestImportCustomersRejectsTakenEmail.
type emailTakenWant struct {
	index             int
	externalID, owner string
}
