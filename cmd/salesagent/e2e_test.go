package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/internal/shareddata"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

// childEnv makes the test binary run as the salesagent command, with its
// arguments, so a test can start real server processes without building
// the binary.
const childEnv = "SALESAGENT_TEST_RUN_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	pgtest.Main(m)
}

// graphSends counts the messages the fake Graph API accepted.
var graphSends atomic.Int64

// fakeGraph stands in for Meta's Graph API, so no test sends to the real
// one: it accepts every message send with a new message id.
func fakeGraph(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/messages") {
			http.Error(w, `{"error":{"message":"unknown path","type":"OAuthException","code":100}}`, http.StatusBadRequest)
			return
		}
		n := graphSends.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.fake-%d"}]}`, n)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// startServer runs the whole app, as salesagent serve builds it, on a
// loopback port against the package's test database, with a fake Graph API.
func startServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	cfg := Config{
		DatabaseURL: pgtest.URL(t),
		PublicURL:   "http://" + srv.Listener.Addr().String(),
		AutoMigrate: true,
	}
	cfg.WhatsApp.BaseURL = fakeGraph(t)
	app, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	srv.Config.Handler = app.handler
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		for _, closeFn := range app.closers {
			closeFn(context.Background())
		}
		app.Close()
	})
	return srv.URL
}

// runCommand runs the binary's command line in-process.
func runCommand(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func ingestPaths(t *testing.T, shop string, paths ...string) string {
	t.Helper()
	args := append([]string{"ingest", "--database-url", pgtest.URL(t), "--log-level", "warn", "--shop", shop}, paths...)
	stdout, stderr, err := runCommand(t, args...)
	if err != nil {
		t.Fatalf("ingest %v: %v\nstderr:\n%s", paths, err, stderr)
	}
	return stdout
}

// chatEvent is one protocol frame printed by salesagent chat --json.
type chatEvent struct {
	Type         string              `json:"type"`
	VisitorToken string              `json:"visitor_token"`
	Text         string              `json:"text"`
	Card         *salesagent.Card    `json:"card"`
	Message      *salesagent.Message `json:"message"`
	Name         string              `json:"name"`
	OK           bool                `json:"ok"`
	Reason       string              `json:"reason"`
	Code         string              `json:"code"`
}

type chatResult struct {
	events  []chatEvent
	visitor string
	reply   salesagent.Message
}

func (r chatResult) has(eventType string) bool {
	for _, e := range r.events {
		if e.Type == eventType {
			return true
		}
	}
	return false
}

func (r chatResult) card(cardType string) *salesagent.Card {
	for _, e := range r.events {
		if e.Type == "card" && e.Card != nil && e.Card.Type == cardType {
			return e.Card
		}
	}
	return nil
}

func (r chatResult) toolCalled(name string) bool {
	for _, e := range r.events {
		if e.Type == "tool" && e.Name == name && e.OK {
			return true
		}
	}
	return false
}

// chat sends one message with salesagent chat --message --json and
// collects the printed events.
func chat(t *testing.T, server, shop, message string, flags ...string) chatResult {
	t.Helper()
	args := append([]string{"chat", "--server", server, "--shop", shop, "--json", "--message", message}, flags...)
	stdout, stderr, err := runCommand(t, args...)
	if err != nil {
		t.Fatalf("chat %q: %v\nstderr:\n%s\nstdout:\n%s", message, err, stderr, stdout)
	}
	var result chatResult
	scanner := bufio.NewScanner(strings.NewReader(stdout))
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var e chatEvent
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			t.Fatalf("chat printed a line that is not JSON: %q: %v", scanner.Text(), err)
		}
		result.events = append(result.events, e)
		switch e.Type {
		case "welcome":
			result.visitor = e.VisitorToken
		case "message":
			if e.Message != nil && e.Message.Role == salesagent.RoleAgent {
				result.reply = *e.Message
			}
		case "error":
			t.Fatalf("chat %q got an error frame: %s", message, scanner.Text())
		}
	}
	if result.reply.Seq == 0 {
		t.Fatalf("chat %q printed no agent message:\n%s", message, stdout)
	}
	return result
}

func openDB(t *testing.T) *postgres.DB {
	t.Helper()
	return pgtest.DB(t)
}

func demoShopDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "demo", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestIngestDemoTwiceChangesNothing(t *testing.T) {
	first := ingestPaths(t, "demo-twice", demoShopDir(t))
	if !strings.Contains(first, "30 new") {
		t.Errorf("first ingest did not report 30 new products:\n%s", first)
	}
	second := ingestPaths(t, "demo-twice", demoShopDir(t))
	if !strings.Contains(second, "0 new, 0 changed, 30 unchanged") {
		t.Errorf("second ingest changed products:\n%s", second)
	}
	if !strings.Contains(second, "nothing was embedded again") {
		t.Errorf("second ingest computed embeddings again:\n%s", second)
	}
}

func TestIngestRejectsMissingShop(t *testing.T) {
	_, _, err := runCommand(t, "ingest", "--database-url", pgtest.URL(t), demoShopDir(t))
	if err == nil || !strings.Contains(err.Error(), "--shop") {
		t.Fatalf("ingest without --shop: err = %v, want one naming --shop", err)
	}
	if exitCode(err) != 2 {
		t.Errorf("exit code = %d, want 2 for a usage error", exitCode(err))
	}
}

// inStockValues returns the sorted distinct values of an option over the
// product's variants that are in stock.
func inStockValues(p *salesagent.Product, option string) []string {
	seen := map[string]bool{}
	for _, v := range p.Variants {
		if value := v.Option(option); value != "" && v.InStock() {
			seen[value] = true
		}
	}
	values := make([]string, 0, len(seen))
	for v := range seen {
		values = append(values, v)
	}
	sort.Strings(values)
	return values
}

func TestDemoShopSizingQuestion(t *testing.T) {
	ingestPaths(t, "demo", demoShopDir(t))
	server := startServer(t)
	db := openDB(t)
	shop, err := db.ShopBySlug(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	product, err := db.ProductByHandle(context.Background(), shop.ID, "scree-trail-runner")
	if err != nil {
		t.Fatal(err)
	}

	result := chat(t, server, "demo", "Does this shoe run small? What sizes do you have?", "--product", product.Handle)

	card := result.card(salesagent.CardSizeGuide)
	if card == nil || card.Table == nil || len(card.Table.Rows) == 0 {
		t.Fatalf("no size guide card with rows; events: %+v", result.events)
	}
	if !result.toolCalled("send_size_guide") {
		t.Error("send_size_guide was not reported as called")
	}
	for _, size := range inStockValues(product, "Size") {
		if !strings.Contains(result.reply.Body, size) {
			t.Errorf("reply does not list in-stock size %s:\n%s", size, result.reply.Body)
		}
	}
	if !result.has("delta") {
		t.Error("reply was not streamed in delta frames")
	}
	if len(result.reply.Citations) == 0 {
		t.Error("reply has no citations")
	}
}

var dollarAmount = regexp.MustCompile(`\$\d[\d,]*(\.\d\d)?`)

// assertAmountsFrom checks that every dollar amount in reply appears in
// source, so the agent invented no price.
func assertAmountsFrom(t *testing.T, reply, source string) {
	t.Helper()
	amounts := dollarAmount.FindAllString(reply, -1)
	if len(amounts) == 0 {
		t.Errorf("reply quotes no amount:\n%s", reply)
	}
	for _, amount := range amounts {
		if !strings.Contains(source, amount) && !strings.Contains(source, strings.TrimSuffix(amount, ".00")) {
			t.Errorf("reply quotes %s, which the source does not contain:\n%s", amount, reply)
		}
	}
}

func TestLumaStoreConversation(t *testing.T) {
	raw := shareddata.Path(t, "magento-luma-catalog", "raw")
	ingestPaths(t, "luma", raw)
	server := startServer(t)
	db := openDB(t)
	ctx := context.Background()
	shop, err := db.ShopBySlug(ctx, "luma")
	if err != nil {
		t.Fatal(err)
	}

	// A jacket with both in-stock and sold-out size/colour pairs, if any.
	var jacket *salesagent.Product
	products, err := db.ListProducts(ctx, shop.ID, 500, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range products {
		if strings.Contains(strings.ToLower(p.Title), "jacket") && len(p.Variants) > 1 {
			jacket = p
			break
		}
	}
	if jacket == nil {
		t.Fatal("no jacket with variants in the Luma catalog")
	}

	t.Run("sizes and colours", func(t *testing.T) {
		// The Magento parent SKU names the product, as a store page would.
		result := chat(t, server, "luma", "What sizes and colors do you have for this jacket? Will it fit me?", "--product", jacket.ExternalID)
		for _, option := range []string{"Size", "Color"} {
			for _, value := range inStockValues(jacket, option) {
				if !strings.Contains(result.reply.Body, value) {
					t.Errorf("reply does not list in-stock %s %s:\n%s", option, value, result.reply.Body)
				}
			}
		}
		price := jacket.Variants[0].Price.String()
		if strings.Contains(result.reply.Body, "$") && !strings.Contains(result.reply.Body, price) {
			t.Errorf("reply quotes a price but not the stored %s:\n%s", price, result.reply.Body)
		}
	})

	t.Run("shipping cost", func(t *testing.T) {
		pages, err := os.ReadFile(filepath.Join(raw, "CmsSampleData", "pages.csv"))
		if err != nil {
			t.Fatal(err)
		}
		result := chat(t, server, "luma", "How much does shipping cost?")
		assertAmountsFrom(t, result.reply.Body, string(pages))
		cited := false
		for _, c := range result.reply.Citations {
			if c.Kind == salesagent.KindPolicy || c.Kind == salesagent.KindPage || c.Kind == salesagent.KindFAQ {
				cited = true
			}
		}
		if !cited {
			t.Errorf("shipping answer cites no policy or page: %+v", result.reply.Citations)
		}
	})

	t.Run("save cart", func(t *testing.T) {
		sku := jacket.Variants[0].SKU
		result := chat(t, server, "luma", "Please save my cart for later", "--cart", sku+":2")
		card := result.card(salesagent.CardCart)
		if card == nil || card.URL == "" {
			t.Fatalf("no cart card with a restore link; events: %+v", result.events)
		}
		resp, err := http.Get(server + card.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), sku) {
			t.Errorf("restore link %s: status %d, page contains SKU %s: %v", card.URL, resp.StatusCode, sku, strings.Contains(string(body), sku))
		}
	})

	t.Run("asks for a person", func(t *testing.T) {
		result := chat(t, server, "luma", "I want to talk to a real person please")
		if !result.has("handoff") {
			t.Fatalf("no handoff event; events: %+v", result.events)
		}
		if !result.toolCalled("escalate_to_human") {
			t.Error("escalate_to_human was not reported as called")
		}
	})
}

// tauOrder is the part of a τ-bench order the test reads.
type tauOrder struct {
	OrderID      string `json:"order_id"`
	UserID       string `json:"user_id"`
	Status       string `json:"status"`
	Fulfillments []struct {
		TrackingID []string `json:"tracking_id"`
	} `json:"fulfillments"`
}

func TestTauBenchOrderStatus(t *testing.T) {
	dataDir := shareddata.Path(t, "tau-bench-retail", "v1", "data")
	ingestPaths(t, "tau", dataDir)
	server := startServer(t)

	var orders map[string]tauOrder
	var users map[string]struct {
		Email string `json:"email"`
	}
	readJSON(t, filepath.Join(dataDir, "orders.json"), &orders)
	readJSON(t, filepath.Join(dataDir, "users.json"), &users)

	// An order with a tracking number, and an order of another customer.
	var own, other tauOrder
	ids := make([]string, 0, len(orders))
	for id := range orders {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		o := orders[id]
		if own.OrderID == "" && len(o.Fulfillments) > 0 && len(o.Fulfillments[0].TrackingID) > 0 {
			own = o
		}
	}
	for _, id := range ids {
		o := orders[id]
		if o.UserID != own.UserID && len(o.Fulfillments) > 0 && len(o.Fulfillments[0].TrackingID) > 0 {
			other = o
			break
		}
	}
	email := users[own.UserID].Email
	if own.OrderID == "" || other.OrderID == "" || email == "" {
		t.Fatal("τ-bench data has no two shipped orders of different customers")
	}

	result := chat(t, server, "tau", "Hi, my email is "+email+". What is the status of order "+own.OrderID+"?")
	tracking := own.Fulfillments[0].TrackingID[0]
	if !strings.Contains(strings.ToLower(result.reply.Body), own.Status) {
		t.Errorf("reply does not give status %q:\n%s", own.Status, result.reply.Body)
	}
	if !strings.Contains(result.reply.Body, tracking) {
		t.Errorf("reply does not give tracking number %s:\n%s", tracking, result.reply.Body)
	}

	// The same shopper asks about another customer's order in the same
	// conversation: nothing about it may come back.
	result = chat(t, server, "tau", "And what about order "+other.OrderID+"?", "--visitor", result.visitor)
	for _, secret := range append(other.Fulfillments[0].TrackingID, other.UserID) {
		if strings.Contains(result.reply.Body, secret) {
			t.Errorf("reply reveals %s of another customer's order:\n%s", secret, result.reply.Body)
		}
	}
	if card := result.card(salesagent.CardOrder); card != nil {
		t.Errorf("another customer's order produced an order card: %+v", card)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}

func TestIngestKeepsGoodRows(t *testing.T) {
	dir := t.TempDir()
	csv := "Handle,Title,Type,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty\n" +
		"cap,Cap,Hats,Size,One,CAP-1,abc,3\n" +
		"hat,Hat,Hats,Size,One,HAT-1,-5.00,3\n" +
		"beanie,Beanie,Hats,Size,S,BEA-S,20.00,3\n" +
		"beanie,,,,L,BEA-L,22.00,0\n"
	if err := os.WriteFile(filepath.Join(dir, "products.csv"), []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, err := runCommand(t, "ingest", "--database-url", pgtest.URL(t), "--log-level", "warn", "--shop", "bad-rows", dir)
	if err != nil {
		t.Fatalf("ingest with bad rows failed: %v\n%s", err, stderr)
	}
	for _, want := range []string{`line 2, field "Variant Price": invalid price "abc"`, "line 3", "negative price"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "1 new") || !strings.Contains(stdout, "2 rows rejected") {
		t.Errorf("stdout does not report 1 product loaded and 2 rows rejected:\n%s", stdout)
	}

	db := openDB(t)
	shop, err := db.ShopBySlug(context.Background(), "bad-rows")
	if err != nil {
		t.Fatal(err)
	}
	products, err := db.ListProducts(context.Background(), shop.ID, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(products) != 1 || products[0].Handle != "beanie" || len(products[0].Variants) != 2 {
		t.Errorf("stored products = %d (%v), want the beanie alone with its 2 variants", len(products), products)
	}

	_, _, err = runCommand(t, "ingest", "--database-url", pgtest.URL(t), "--shop", "bad-rows", "--strict", dir)
	if err == nil || !strings.Contains(err.Error(), "--strict") {
		t.Errorf("ingest --strict with bad rows: err = %v, want a failure naming --strict", err)
	}
}

func TestIngestEmptyFolderCreatesNoShop(t *testing.T) {
	_, _, err := runCommand(t, "ingest", "--database-url", pgtest.URL(t), "--shop", "empty-shop", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "nothing to load") {
		t.Fatalf("ingest of an empty folder: err = %v, want nothing to load", err)
	}
	if _, err := openDB(t).ShopBySlug(context.Background(), "empty-shop"); salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Errorf("the failed ingest created shop empty-shop (lookup error %v)", err)
	}

	_, _, err = runCommand(t, "ingest", "--database-url", pgtest.URL(t), "--shop", "empty-shop", filepath.Join(t.TempDir(), "missing.csv"))
	if err == nil || !strings.Contains(err.Error(), "missing.csv") || !strings.Contains(err.Error(), "existing file") {
		t.Errorf("ingest of a missing file: err = %v, want one naming the file and the fix", err)
	}
	_, _, err = runCommand(t, "ingest", "--shop", "Bad Slug", t.TempDir())
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `"Bad Slug"`) {
		t.Errorf("ingest --shop 'Bad Slug': err = %v, want a usage error naming the slug", err)
	}
}

func TestChatRejectsEmptyMessage(t *testing.T) {
	_, _, err := runCommand(t, "chat", "--server", "http://127.0.0.1:1", "--message", "  ")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--message") {
		t.Fatalf("chat --message blank: err = %v, want a usage error naming --message", err)
	}
	_, _, err = runCommand(t, "chat", "--cart", "SKU:lots", "--message", "hi")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `"lots"`) {
		t.Errorf("chat --cart SKU:lots: err = %v, want a usage error naming the quantity", err)
	}
}
