package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/channels/web"
	"github.com/salesagent/salesagent/internal/openaitest"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// servedProcess is a `salesagent serve` running in the test's process.
type servedProcess struct {
	base           string
	stdout, stderr syncBuffer
	// done receives serve's return value once it stops.
	done chan error
}

// startServe runs serve on a free loopback port with the test database
// and extra flags until ctx ends, and waits until /healthz responds.
func startServe(ctx context.Context, t *testing.T, flags ...string) *servedProcess {
	t.Helper()
	addr := freeAddr(t)
	p := &servedProcess{base: "http://" + addr, done: make(chan error, 1)}
	args := append([]string{"serve", "--database-url", pgtest.URL(t), "--addr", addr}, flags...)
	go func() {
		p.done <- run(ctx, args, strings.NewReader(""), &p.stdout, &p.stderr)
	}()

	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v\nstderr:\n%s", err, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeLifecycle(t *testing.T) {
	ingestPaths(t, "demo-serve", demoShopDir(t))
	// Jobs left by other tests in this database must not reach Meta.
	t.Setenv("SALESAGENT_WHATSAPP_GRAPH_URL", fakeGraph(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := startServe(ctx, t)
	base, stdout, done := srv.base, &srv.stdout, srv.done

	if !strings.Contains(stdout.String(), base+"/shop/demo-serve") {
		t.Errorf("serve did not print the shop page URL:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), base+"/console/") {
		t.Errorf("serve did not print the console URL:\n%s", stdout.String())
	}
	if status, body := get(t, base+"/readyz"); status != http.StatusOK || !strings.Contains(body, "ready") {
		t.Errorf("/readyz = %d %q, want 200 ready", status, body)
	}
	if status, _ := get(t, base+"/shop/demo-serve"); status != http.StatusOK {
		t.Errorf("shop page status = %d, want 200", status)
	}
	if status, _ := get(t, base+"/static/demo/ridgeline-rain-jacket.svg"); status != http.StatusOK {
		t.Errorf("demo image status = %d, want 200", status)
	}

	// One conversation turn, so the metrics have something to count.
	client, err := web.Dial(ctx, base, "demo-serve", web.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Send(ctx, "How much is express shipping?"); err != nil {
		t.Fatal(err)
	}
	for {
		frame, err := client.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if frame.Type == web.FrameMessage && frame.Message != nil && frame.Message.Role == "agent" {
			break
		}
	}

	// The turn's metrics are recorded just after its reply is sent, so
	// they may take a moment to show.
	wanted := []string{
		"salesagent_web_sockets_open 1",
		`salesagent_agent_turns_total{brain="offline"`,
		"salesagent_agent_turn_duration_seconds_bucket",
		"go_goroutines",
	}
	var metrics string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, metrics = get(t, base+"/metrics")
		if strings.Contains(metrics, wanted[1]) {
			break
		}
	}
	for _, name := range wanted {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// Shutdown closes the open socket with going-away and returns nil.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s of shutdown")
	}
	waitCtx, waitCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer waitCancel()
	for {
		_, err := client.Next(waitCtx)
		if err == nil {
			continue
		}
		if !strings.Contains(err.Error(), "1001") && !errors.Is(err, io.EOF) {
			t.Errorf("socket ended with %v, want a going-away close (1001)", err)
		}
		break
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestServeRejectsBadFlags(t *testing.T) {
	_, _, err := runCommand(t, "serve", "--log-level", "loud")
	if err == nil || !strings.Contains(err.Error(), `"loud"`) {
		t.Fatalf("serve --log-level loud: err = %v, want one naming the value", err)
	}
	if _, _, err := runCommand(t, "frobnicate"); err == nil || exitCode(err) != 2 {
		t.Errorf("unknown command: err = %v, exit %d; want a usage error", err, exitCode(err))
	}
}

func TestModelOnlyLLMSettingsRejected(t *testing.T) {
	t.Setenv("SALESAGENT_LLM_MODEL", "gpt-4o")
	_, _, err := runCommand(t, "serve", "--database-url", pgtest.URL(t), "--addr", freeAddr(t))
	if err == nil || !strings.Contains(err.Error(), "SALESAGENT_LLM_API_KEY") {
		t.Fatalf("serve with only SALESAGENT_LLM_MODEL: err = %v, want one naming the missing key or URL", err)
	}
}

func TestMigrateReportsVersion(t *testing.T) {
	stdout, stderr, err := runCommand(t, "migrate", "--database-url", pgtest.URL(t))
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	if !strings.HasPrefix(stdout, "database schema at version ") {
		t.Errorf("migrate printed %q, want the schema version", stdout)
	}
	_, _, err = runCommand(t, "migrate", "--database-url", "mysql://nope")
	if err == nil || !strings.Contains(err.Error(), "postgres://") {
		t.Errorf("migrate with a bad URL: err = %v, want one showing the expected form", err)
	}
}

func TestShopCommandSetsAllowedOrigin(t *testing.T) {
	ingestPaths(t, "shop-cmd", demoShopDir(t))
	url := pgtest.URL(t)

	stdout, stderr, err := runCommand(t, "shop", "--database-url", url, "--shop", "shop-cmd",
		"--allow-origin", "HTTPS://Store.Example.com/", "--max-discount", "10", "--currency", "eur")
	if err != nil {
		t.Fatalf("shop: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "allowed origins: https://store.example.com") {
		t.Errorf("shop did not print the normalised origin:\n%s", stdout)
	}
	shop, err := openDB(t).ShopBySlug(context.Background(), "shop-cmd")
	if err != nil {
		t.Fatal(err)
	}
	if len(shop.AllowedOrigins) != 1 || shop.AllowedOrigins[0] != "https://store.example.com" {
		t.Errorf("stored origins = %v", shop.AllowedOrigins)
	}
	if shop.Settings.MaxDiscountPercent != 10 || shop.Currency != "EUR" {
		t.Errorf("stored max discount %g currency %s, want 10 and EUR", shop.Settings.MaxDiscountPercent, shop.Currency)
	}

	for _, bad := range [][]string{
		{"--allow-origin", "store.example.com"},
		{"--max-discount", "150"},
		{"--currency", "euro"},
		{"--currency", "XYZ"},
		{"--llm-base-url", "notaurl"},
		{"--name", " "},
	} {
		args := append([]string{"shop", "--database-url", url, "--shop", "shop-cmd"}, bad...)
		_, _, err := runCommand(t, args...)
		if err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("shop %v: err = %v, want one naming %s", bad, err, bad[0])
		}
	}
	if _, _, err := runCommand(t, "shop", "--database-url", url, "--shop", "no-such-shop"); err == nil || !strings.Contains(err.Error(), "ingest") {
		t.Errorf("shop for an unknown slug: err = %v, want a hint to ingest it", err)
	}
}

func TestShopCommandKeepsLLMKeySecret(t *testing.T) {
	ingestPaths(t, "shop-llm", demoShopDir(t))
	t.Setenv("SHOP_LLM_KEY", "sk-test-secret-value")
	stdout, stderr, err := runCommand(t, "shop", "--database-url", pgtest.URL(t), "--shop", "shop-llm",
		"--llm-base-url", "http://127.0.0.1:11434/v1", "--llm-model", "llama3.1", "--llm-api-key-env", "SHOP_LLM_KEY")
	if err != nil {
		t.Fatalf("shop: %v\n%s", err, stderr)
	}
	if strings.Contains(stdout+stderr, "sk-test-secret-value") {
		t.Errorf("shop printed the API key:\n%s", stdout)
	}
	if !strings.Contains(stdout, `"api_key_set":true`) {
		t.Errorf("shop does not say the key is set:\n%s", stdout)
	}
	shop, err := openDB(t).ShopBySlug(context.Background(), "shop-llm")
	if err != nil {
		t.Fatal(err)
	}
	if l := shop.Settings.LLM; l == nil || l.APIKey != "sk-test-secret-value" || l.Model != "llama3.1" {
		t.Errorf("stored LLM settings = %+v", shop.Settings.LLM)
	}
	_, _, err = runCommand(t, "shop", "--database-url", pgtest.URL(t), "--shop", "shop-llm", "--llm-api-key-env", "NO_SUCH_VARIABLE_SET")
	if err == nil || !strings.Contains(err.Error(), "NO_SUCH_VARIABLE_SET") {
		t.Errorf("unset key variable: err = %v, want one naming it", err)
	}
}

func TestWhatsAppWebhookThroughServe(t *testing.T) {
	ingestPaths(t, "shop-wa", demoShopDir(t))
	t.Setenv("WA_TOKEN", "token-value")
	t.Setenv("WA_SECRET", "app-secret-value")
	t.Setenv("WA_VERIFY", "verify-value")
	_, stderr, err := runCommand(t, "shop", "--database-url", pgtest.URL(t), "--shop", "shop-wa",
		"--whatsapp-phone-number-id", "1234567890", "--whatsapp-access-token-env", "WA_TOKEN",
		"--whatsapp-app-secret-env", "WA_SECRET", "--whatsapp-verify-token-env", "WA_VERIFY")
	if err != nil {
		t.Fatalf("shop: %v\n%s", err, stderr)
	}
	server := startServer(t)

	status, body := get(t, server+"/webhooks/whatsapp/shop-wa?hub.mode=subscribe&hub.verify_token=verify-value&hub.challenge=42")
	if status != http.StatusOK || body != "42" {
		t.Errorf("verification = %d %q, want 200 with the challenge", status, body)
	}
	if status, _ := get(t, server+"/webhooks/whatsapp/shop-wa?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=42"); status != http.StatusForbidden {
		t.Errorf("verification with a wrong token = %d, want 403", status)
	}

	payload := `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550000000","phone_number_id":"1234567890"},
		"contacts":[{"profile":{"name":"Ada"},"wa_id":"15551234567"}],
		"messages":[{"from":"15551234567","id":"wamid.serve-test-1","timestamp":"` + strconv.FormatInt(time.Now().Unix(), 10) + `","type":"text","text":{"body":"How much is express shipping?"}}]}}]}]}`
	post := func(signature string) int {
		req, err := http.NewRequest(http.MethodPost, server+"/webhooks/whatsapp/shop-wa", strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", signature)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := post("sha256=" + strings.Repeat("0", 64)); status != http.StatusUnauthorized {
		t.Errorf("forged signature = %d, want 401", status)
	}
	before := graphSends.Load()
	mac := hmac.New(sha256.New, []byte("app-secret-value"))
	mac.Write([]byte(payload))
	if status := post("sha256=" + hex.EncodeToString(mac.Sum(nil))); status != http.StatusOK {
		t.Fatalf("signed webhook = %d, want 200", status)
	}

	// The turn and the send run as jobs; the reply reaches the fake Graph API.
	for deadline := time.Now().Add(15 * time.Second); graphSends.Load() == before && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if graphSends.Load() == before {
		rows, err := openDB(t).Pool.Query(context.Background(), `SELECT kind, state::text, coalesce(errors::text, '') FROM river_job
			UNION ALL SELECT 'outbound ' || kind, status, coalesce(error_code::text, '') || ' ' || coalesce(wamid, '') FROM whatsapp_outbound`)
		if err != nil {
			t.Fatal(err)
		}
		var jobs []string
		for rows.Next() {
			var kind, state, errs string
			_ = rows.Scan(&kind, &state, &errs)
			jobs = append(jobs, kind+" "+state+" "+errs)
		}
		rows.Close()
		t.Errorf("no reply was sent to the Graph API within 15s; jobs:\n%s", strings.Join(jobs, "\n"))
	}

	// An inbound job stores the message after the 200, and the reply
	// above comes after it.
	var stored int
	err = openDB(t).Pool.QueryRow(context.Background(), `SELECT count(*) FROM messages m JOIN shops s ON s.id = m.shop_id
		WHERE s.slug = 'shop-wa' AND m.role = 'shopper' AND m.body = 'How much is express shipping?'`).Scan(&stored)
	if err != nil {
		t.Fatal(err)
	}
	if stored != 1 {
		t.Errorf("stored %d shopper messages from the signed webhook, want 1", stored)
	}
}

func TestShopCommandDeletesOnlyWhenConfirmed(t *testing.T) {
	ingestPaths(t, "shop-delete", demoShopDir(t))
	url := pgtest.URL(t)
	db := openDB(t)
	ctx := context.Background()

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--delete"}, "--confirm shop-delete"},
		{[]string{"--delete", "--confirm", "shop-other"}, `"shop-other" does not match`},
		{[]string{"--delete", "--confirm", "shop-delete", "--name", "X"}, "--delete cannot be combined with --name"},
		{[]string{"--confirm", "shop-delete"}, "--confirm is only for --delete"},
	} {
		args := append([]string{"shop", "--database-url", url, "--shop", "shop-delete"}, c.args...)
		_, _, err := runCommand(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("shop %v: err = %v, want one containing %q", c.args, err, c.want)
		}
		if _, err := db.ShopBySlug(ctx, "shop-delete"); err != nil {
			t.Fatalf("after shop %v the shop is gone: %v", c.args, err)
		}
	}
	_, _, err := runCommand(t, "shop", "--database-url", url, "--shop", "shop-delete", "--delete")
	if err == nil || !strings.Contains(err.Error(), "products") || strings.Contains(err.Error(), " 0 products") {
		t.Errorf("unconfirmed --delete: err = %v, want it to count the shop's products", err)
	}

	stdout, stderr, err := runCommand(t, "shop", "--database-url", url, "--shop", "shop-delete", "--delete", "--confirm", "shop-delete")
	if err != nil {
		t.Fatalf("confirmed --delete: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "deleted shop shop-delete") {
		t.Errorf("confirmed --delete printed %q, want it to say the shop was deleted", stdout)
	}
	if _, err := db.ShopBySlug(ctx, "shop-delete"); salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Errorf("after the confirmed --delete, looking the shop up gave %v, want not found", err)
	}
}

func TestShopCommandListsShops(t *testing.T) {
	ingestPaths(t, "shop-list", demoShopDir(t))
	url := pgtest.URL(t)

	stdout, stderr, err := runCommand(t, "shop", "--database-url", url, "--list")
	if err != nil {
		t.Fatalf("shop --list: %v\n%s", err, stderr)
	}
	var row string
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "shop-list ") {
			row = line
		}
	}
	if !strings.HasPrefix(stdout, "SLUG") || len(strings.Fields(row)) != 8 || strings.Fields(row)[2] != "30" {
		t.Errorf("shop --list printed:\n%s\nwant a header and a row for shop-list with its 30 products", stdout)
	}
	if _, _, err := runCommand(t, "shop", "--database-url", url, "--list", "--shop", "shop-list"); err == nil || !strings.Contains(err.Error(), "--shop") {
		t.Errorf("--list with --shop: err = %v, want one naming --shop", err)
	}
}

// TestServeShutdownCutsOffStalledModel stops a server while its model has
// not replied to a shopper, and checks that the offline agent's reply is
// stored before the server stops.
func TestServeShutdownCutsOffStalledModel(t *testing.T) {
	ingestPaths(t, "demo-cutoff", demoShopDir(t))
	t.Setenv("SALESAGENT_WHATSAPP_GRAPH_URL", fakeGraph(t))
	fake := openaitest.New(t)
	fake.Chat(func(*openaitest.ChatRequest) []openaitest.Action { return []openaitest.Action{openaitest.Hang()} })
	t.Setenv("SALESAGENT_LLM_BASE_URL", fake.BaseURL())
	t.Setenv("SALESAGENT_LLM_API_KEY", fake.APIKey)
	t.Setenv("SALESAGENT_LLM_MODEL", "stalled-model")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// With 6s to shut down, the model is cut off after 1s.
	srv := startServe(ctx, t, "--shutdown-timeout", "6s")
	base, stderr, done := srv.base, &srv.stderr, srv.done

	client, err := web.Dial(ctx, base, "demo-cutoff", web.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Send(ctx, "How much is express shipping?"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(fake.ChatRequests()) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the model got no request\nstderr:\n%s", stderr.String())
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown, want nil\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s of shutdown")
	}

	db := pgtest.DB(t)
	shop, err := db.ShopBySlug(context.Background(), "demo-cutoff")
	if err != nil {
		t.Fatal(err)
	}
	var body string
	err = db.Pool.QueryRow(context.Background(), `SELECT m.body FROM messages m JOIN conversations c ON c.id = m.conversation_id
		WHERE c.shop_id = $1 AND m.role = 'agent' ORDER BY m.id DESC LIMIT 1`, shop.ID).Scan(&body)
	if err != nil {
		t.Fatalf("no agent reply stored after the shutdown: %v\nstderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(body, "$") {
		t.Errorf("stored reply %q, want the offline agent's answer on shipping prices", body)
	}
}
