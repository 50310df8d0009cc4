package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/salesagent/salesagent/postgres/pgtest"
)

// TestIngestPruneRemovesMissingProducts loads the demo shop, then loads it
// again with --prune from a copy without one product and one FAQ entry.
func TestIngestPruneRemovesMissingProducts(t *testing.T) {
	ingestPaths(t, "prune", demoShopDir(t))
	ctx := context.Background()
	db := openDB(t)
	shop, err := db.ShopBySlug(ctx, "prune")
	if err != nil {
		t.Fatal(err)
	}

	// A copy of the catalog without its first product, and an FAQ without
	// its last question.
	raw, err := os.ReadFile(filepath.Join(demoShopDir(t), "products.json"))
	if err != nil {
		t.Fatal(err)
	}
	var catalog map[string][]json.RawMessage
	if err := json.Unmarshal(raw, &catalog); err != nil {
		t.Fatal(err)
	}
	var dropped struct {
		Handle string `json:"handle"`
	}
	if err := json.Unmarshal(catalog["products"][0], &dropped); err != nil {
		t.Fatal(err)
	}
	remaining := len(catalog["products"]) - 1
	catalog["products"] = catalog["products"][1:]
	dir := t.TempDir()
	smaller, _ := json.Marshal(catalog)
	if err := os.WriteFile(filepath.Join(dir, "products.json"), smaller, 0o600); err != nil {
		t.Fatal(err)
	}
	faq, err := os.ReadFile(filepath.Join(demoShopDir(t), "faq.md"))
	if err != nil {
		t.Fatal(err)
	}
	lastQuestion := strings.LastIndex(string(faq), "\n## ")
	if err := os.WriteFile(filepath.Join(dir, "faq.md"), faq[:lastQuestion+1], 0o600); err != nil {
		t.Fatal(err)
	}
	before := countRows(t, "SELECT count(*) FROM documents WHERE shop_id = $1", shop.ID)

	// Without --prune nothing goes away.
	ingestPaths(t, "prune", dir)
	if n := countRows(t, "SELECT count(*) FROM products WHERE shop_id = $1", shop.ID); n != remaining+1 {
		t.Errorf("after a load without --prune the shop has %d products, want all %d", n, remaining+1)
	}

	stdout, stderr, err := runCommand(t, "ingest", "--database-url", pgtest.URL(t), "--log-level", "warn", "--shop", "prune", "--prune", dir)
	if err != nil {
		t.Fatalf("ingest --prune: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "pruned 1 products and 1 documents") {
		t.Errorf("stdout does not report the pruned product and FAQ entry:\n%s", stdout)
	}
	if n := countRows(t, "SELECT count(*) FROM products WHERE shop_id = $1", shop.ID); n != remaining {
		t.Errorf("after --prune the shop has %d products, want %d", n, remaining)
	}
	if _, err := db.ProductByHandle(ctx, shop.ID, dropped.Handle); err == nil {
		t.Errorf("product %s is still stored after --prune", dropped.Handle)
	}
	if n := countRows(t, "SELECT count(*) FROM chunks c WHERE c.shop_id = $1 AND c.product_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM products p WHERE p.id = c.product_id)", shop.ID); n != 0 {
		t.Errorf("%d search chunks of removed products remain", n)
	}
	// Policies and size guides were not in the files, so they stay.
	if n := countRows(t, "SELECT count(*) FROM documents WHERE shop_id = $1", shop.ID); n != before-1 {
		t.Errorf("after --prune the shop has %d documents, want %d (one FAQ entry fewer)", n, before-1)
	}
	if n := countRows(t, "SELECT count(*) FROM documents WHERE shop_id = $1 AND kind = 'size_guide'", shop.ID); n == 0 {
		t.Error("--prune removed the size guides, which were not in the files")
	}
}

func TestIngestPruneSkipsAfterRejectedRows(t *testing.T) {
	dir := t.TempDir()
	good := "Handle,Title,Type,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty\n" +
		"cap,Cap,Hats,Size,One,CAP-1,10.00,3\n" +
		"hat,Hat,Hats,Size,One,HAT-1,12.00,3\n"
	if err := os.WriteFile(filepath.Join(dir, "products.csv"), []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	ingestPaths(t, "prune-rejected", dir)

	// The hat's price is broken, so the hat is missing from the parsed rows
	// but must not be removed.
	broken := strings.Replace(good, "12.00", "twelve", 1)
	if err := os.WriteFile(filepath.Join(dir, "products.csv"), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCommand(t, "ingest", "--database-url", pgtest.URL(t), "--log-level", "warn", "--shop", "prune-rejected", "--prune", dir)
	if err != nil {
		t.Fatalf("ingest --prune: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "not pruning: 1 rows were rejected") {
		t.Errorf("stderr does not say why nothing was pruned:\n%s", stderr)
	}
	shop, err := openDB(t).ShopBySlug(context.Background(), "prune-rejected")
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, "SELECT count(*) FROM products WHERE shop_id = $1", shop.ID); n != 2 {
		t.Errorf("shop has %d products, want both kept", n)
	}
}

func countRows(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := openDB(t).Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestIngestPruneIgnoresUnknownReviews loads a Magento catalog whose
// reviews file names a product the files do not have: the review is
// skipped with one line, and --prune still removes a product dropped from
// the catalog.
func TestIngestPruneIgnoresUnknownReviews(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	header := "category,name,sku,price,qty,description\n"
	clock := "\"Gear\nWatches\",Clock,W-1,10,1,<p>Tick.</p>\n"
	timer := "\"Gear\nWatches\",Timer,W-2,12,1,<p>Tock.</p>\n"
	write("products_gear_watches.csv", header+clock+timer)
	write("products_reviews.csv", "sku,rating_code,rating_value,title,review,reviewer,email\nW-1,Rating,4,Good,Fine.,Ann,\nW-9,Rating,5,Gone,Where?,Cy,\n")
	ingestPaths(t, "prune-reviews", dir)

	write("products_gear_watches.csv", header+clock)
	stdout, stderr, err := runCommand(t, "ingest", "--database-url", pgtest.URL(t), "--log-level", "warn", "--shop", "prune-reviews", "--prune", dir)
	if err != nil {
		t.Fatalf("ingest --prune: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "skipped 1 review of 1 product not loaded from these files (SKU W-9)") {
		t.Errorf("stderr does not summarise the skipped review:\n%s", stderr)
	}
	if strings.Contains(stderr, "not pruning") || strings.Contains(stderr, "rejected:") {
		t.Errorf("the unknown review blocked pruning or was listed as rejected:\n%s", stderr)
	}
	if !strings.Contains(stdout, "pruned 1 product") {
		t.Errorf("stdout does not report the pruned timer:\n%s", stdout)
	}
	shop, err := openDB(t).ShopBySlug(context.Background(), "prune-reviews")
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, "SELECT count(*) FROM products WHERE shop_id = $1", shop.ID); n != 1 {
		t.Errorf("shop has %d products, want the clock only", n)
	}
}

// TestIngestLinksGuestOrderToStoredCustomer loads a WooCommerce customer,
// then in a later run a guest order placed with the customer's email: the
// order belongs to that customer, so order_status can show it to them.
func TestIngestLinksGuestOrderToStoredCustomer(t *testing.T) {
	dir := t.TempDir()
	customers := filepath.Join(dir, "customers.json")
	orders := filepath.Join(dir, "orders.json")
	if err := os.WriteFile(customers, []byte(`[{"id": 40, "email": "Ann@Example.com", "first_name": "Ann", "last_name": "Lee",
		"billing": {"phone": "555"}, "shipping": {}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orders, []byte(`[{"id": 1, "number": "1001", "order_key": "k", "status": "completed", "customer_id": 0,
		"billing": {"email": "ann@example.com"}, "line_items": []}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	ingestPaths(t, "guest-orders", customers)
	ingestPaths(t, "guest-orders", orders)

	shop, err := openDB(t).ShopBySlug(context.Background(), "guest-orders")
	if err != nil {
		t.Fatal(err)
	}
	n := countRows(t, `SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id
		WHERE o.shop_id = $1 AND o.number = '1001' AND c.external_id = '40'`, shop.ID)
	if n != 1 {
		t.Errorf("%d orders 1001 linked to customer 40, want 1", n)
	}
}

// TestIngestRejectsCustomerWithTakenEmail loads a WooCommerce customer,
// then in a later run another customer id with the same email together
// with products and orders: only that customer is rejected.
func TestIngestRejectsCustomerWithTakenEmail(t *testing.T) {
	first := t.TempDir()
	if err := os.WriteFile(filepath.Join(first, "customer.json"), []byte(`{"id": 602, "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
		"billing": {}, "shipping": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ingestPaths(t, "taken-email", first)

	second := t.TempDir()
	files := map[string]string{
		"customers.json": `[{"id": 603, "email": "Ann@Example.com", "first_name": "Ann", "last_name": "Again", "billing": {}, "shipping": {}}]`,
		"products.json": `[{"id": 1, "name": "Cap", "slug": "cap", "type": "simple", "status": "publish", "sku": "CAP-1",
			"price": "10.00", "regular_price": "10.00", "sale_price": "", "manage_stock": false, "stock_status": "instock"}]`,
		"orders.json": `[{"id": 1, "number": "1001", "order_key": "k", "status": "completed", "customer_id": 603, "line_items": []},
			{"id": 2, "number": "1002", "order_key": "k", "status": "completed", "customer_id": 602, "line_items": []}]`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(second, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stdout, stderr, err := runCommand(t, "ingest", "--database-url", pgtest.URL(t), "--log-level", "warn", "--shop", "taken-email", second)
	if err != nil {
		t.Fatalf("ingest: %v\nstderr:\n%s", err, stderr)
	}
	for _, want := range []string{`rejected: customers.json line 1: customer "603"`, `"Ann@Example.com"`, `customer "602"`, "fix:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "1 rows rejected") {
		t.Errorf("stdout does not count the rejected customer:\n%s", stdout)
	}

	shop, err := openDB(t).ShopBySlug(context.Background(), "taken-email")
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, "SELECT count(*) FROM products WHERE shop_id = $1", shop.ID); n != 1 {
		t.Errorf("shop has %d products, want the cap", n)
	}
	if n := countRows(t, "SELECT count(*) FROM orders WHERE shop_id = $1", shop.ID); n != 2 {
		t.Errorf("shop has %d orders, want both", n)
	}
	if n := countRows(t, "SELECT count(*) FROM customers WHERE shop_id = $1 AND external_id = '603'", shop.ID); n != 0 {
		t.Errorf("rejected customer 603 is stored %d times", n)
	}
	n := countRows(t, `SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id
		WHERE o.shop_id = $1 AND o.number = '1002' AND c.external_id = '602'`, shop.ID)
	if n != 1 {
		t.Errorf("%d orders 1002 linked to customer 602, want 1", n)
	}
}

// TestShopListReplacesControlCharacters lists a shop whose name contains a
// tab and a line break, which must not shift or split its row.
func TestShopListReplacesControlCharacters(t *testing.T) {
	db := openDB(t)
	if _, _, err := db.EnsureShop(context.Background(), "control-name", "Tab\there\nand newline"); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, err := runCommand(t, "shop", "--database-url", pgtest.URL(t), "--list")
	if err != nil {
		t.Fatalf("shop --list: %v\n%s", err, stderr)
	}
	var row string
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "and newline") {
			t.Errorf("the name's line break split the row:\n%s", stdout)
		}
		if strings.HasPrefix(line, "control-name ") {
			row = line
		}
	}
	if !strings.Contains(row, "Tab here and newline") {
		t.Errorf("row for control-name = %q, want the name with spaces for the tab and line break", row)
	}
	if fields := strings.Fields(row); len(fields) != 11 {
		t.Errorf("row for control-name has %d fields, want 11 (8 columns, a name of 4 words): %q", len(fields), row)
	}
}

// TestIngestGuestOrderGetsCustomer loads a guest order
// whose email no customer has: the guest becomes a customer known by that
// email, so the order belongs to them.
func TestIngestGuestOrderGetsCustomer(t *testing.T) {
	dir := t.TempDir()
	orders := filepath.Join(dir, "orders.json")
	if err := os.WriteFile(orders, []byte(`[{"id": 6, "number": "806", "order_key": "k", "status": "processing", "customer_id": 0,
		"billing": {"email": "Guest@Example.com"}, "line_items": []}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	ingestPaths(t, "guest-only", orders)
	ingestPaths(t, "guest-only", orders)

	shop, err := openDB(t).ShopBySlug(context.Background(), "guest-only")
	if err != nil {
		t.Fatal(err)
	}
	n := countRows(t, `SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id
		WHERE o.shop_id = $1 AND o.number = '806' AND lower(c.email) = 'guest@example.com'`, shop.ID)
	if n != 1 {
		t.Errorf("%d orders 806 linked to a customer with the guest's email, want 1", n)
	}
	if n := countRows(t, `SELECT count(*) FROM customers WHERE shop_id = $1`, shop.ID); n != 1 {
		t.Errorf("%d customers after two runs, want 1", n)
	}
}
