package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/channels/whatsapp"
	"github.com/salesagent/salesagent/internal/bench"
	"github.com/salesagent/salesagent/postgres"
)

// maxWebhookDuration caps --duration, so a run stays short and bounded.
const maxWebhookDuration = time.Minute

// maxWebhooksInFlight bounds the requests waiting for their
// acknowledgement. A tick that finds this many skips its request.
const maxWebhooksInFlight = 4096

// benchWebhooksConfig holds the flags of salesagent bench webhooks.
type benchWebhooksConfig struct {
	Config
	Rate     int
	Duration time.Duration
	Shoppers int
	Grace    time.Duration
	Timeout  time.Duration
	ShopData string
	JSON     bool
	// CPUProfile is the file for a CPU profile of the sending phase.
	CPUProfile string
}

func parseBenchWebhooksFlags(args []string, stderr io.Writer) (benchWebhooksConfig, error) {
	var cfg benchWebhooksConfig
	fs := flag.NewFlagSet("bench webhooks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg.Config)
	setBenchLogLevel(fs)
	fs.IntVar(&cfg.Rate, "rate", 500, "webhook requests per second, sent on a fixed schedule whether or not earlier ones were acknowledged")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send, at most 1m")
	fs.IntVar(&cfg.Shoppers, "shoppers", 200, "distinct WhatsApp ids the messages come from, in turn")
	fs.DurationVar(&cfg.Grace, "grace", 20*time.Second, "how long to wait after the last acknowledgement for the turn and send jobs to finish")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "longest wait for one acknowledgement")
	fs.StringVar(&cfg.ShopData, "shop-data", "demo/shop", "folder of store files loaded into the throwaway shop")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the sending phase to this file, for go tool pprof")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: salesagent bench webhooks [flags]\n\nSends signed WhatsApp message webhooks at a fixed rate to an in-process server whose Graph API is a local fake, and prints the acknowledgement latency and how many turn and send jobs finished afterwards.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}

	if fs.NArg() > 0 {
		return cfg, usageError{fmt.Sprintf("unexpected argument %q: bench webhooks takes flags only", fs.Arg(0))}
	}
	switch {
	case cfg.Rate < 1 || cfg.Rate > 5000:
		return cfg, usageError{fmt.Sprintf("invalid --rate %d: use 1 to 5000 requests per second", cfg.Rate)}
	case cfg.Duration <= 0 || cfg.Duration > maxWebhookDuration:
		return cfg, usageError{fmt.Sprintf("invalid --duration %s: use more than 0 and at most %s", cfg.Duration, maxWebhookDuration)}
	case cfg.Shoppers < 1:
		return cfg, usageError{fmt.Sprintf("invalid --shoppers %d: use 1 or more", cfg.Shoppers)}
	case cfg.Grace < 0 || cfg.Grace > 5*time.Minute:
		return cfg, usageError{fmt.Sprintf("invalid --grace %s: use 0 to 5m", cfg.Grace)}
	case cfg.Timeout <= 0:
		return cfg, usageError{fmt.Sprintf("invalid --timeout %s: use a positive duration such as 10s", cfg.Timeout)}
	}
	if !isDir(cfg.ShopData) {
		return cfg, usageError{fmt.Sprintf("shop data folder %q not found: run from the repository root or pass --shop-data DIR", cfg.ShopData)}
	}
	return cfg, nil
}

// runBenchWebhooks starts the fake Graph API and the server with its job
// workers, sends the webhooks, waits for the jobs and prints the report.
// Everything listens on 127.0.0.1 only.
func runBenchWebhooks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseBenchWebhooksFlags(args, stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.Config, stderr)
	if err != nil {
		return err
	}
	if _, err := bench.RaiseFileLimit(2*maxWebhooksInFlight + 1024); err != nil {
		return err
	}

	graph, err := startBenchGraph()
	if err != nil {
		return err
	}
	defer graph.Close()

	db, err := openMigrated(ctx, cfg.Config, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	// The server runs job workers, which would work any queued job of
	// the database, and send real shops' replies to the fake.
	if err := checkNoQueuedJobs(ctx, db); err != nil {
		return err
	}
	shop, removeShop, err := newBenchShop(ctx, db, cfg.ShopData, logger)
	if err != nil {
		return err
	}
	defer removeShop()
	target, err := connectBenchWhatsApp(ctx, db, shop, cfg.Rate)
	if err != nil {
		return err
	}
	defer removeShopJobs(ctx, db, shop.ID, logger)

	serverCfg := cfg.Config
	serverCfg.WhatsApp.BaseURL = graph.URL
	serverCfg.NoJobWorkers = false
	server, err := serveBench(ctx, serverCfg, 1, logger)
	if err != nil {
		return err
	}
	// The normal path closes the server before the report, so the
	// deferred call closes it only after an early return.
	closed := false
	defer func() {
		if !closed {
			server.Close()
		}
	}()

	target.url = server.URLs[0] + "/webhooks/whatsapp/" + shop.Slug
	run := newWebhookRun(cfg, target)
	stopProfile, err := startCPUProfile(cfg.CPUProfile)
	if err != nil {
		return err
	}
	poolBefore := bench.ReadPool(server.app.db.Pool)
	run.send(ctx)
	pool := bench.ReadPool(server.app.db.Pool).Since(poolBefore)
	if err := stopProfile(); err != nil {
		return err
	}
	jobs, err := waitForJobs(ctx, db, shop.ID, run.accepted(), cfg.Grace)
	if err != nil {
		return err
	}
	server.Close()
	closed = true

	report := run.report(jobs, graph.sends.Load())
	report.Pool = pool
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	report.write(stdout)
	return nil
}

// checkNoQueuedJobs rejects a run on a database with queued jobs, because
// the run's workers would take them.
func checkNoQueuedJobs(ctx context.Context, db *postgres.DB) error {
	var queued int
	err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job
		WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`).Scan(&queued)
	if err != nil {
		return fmt.Errorf("count queued jobs: %w", err)
	}
	if queued > 0 {
		return fmt.Errorf("the database of --database-url has %d queued jobs, which this run's job workers would take: wait until they finish or run against another database", queued)
	}
	return nil
}

// webhookTarget is the shop the webhooks go to and the secret that signs
// them.
type webhookTarget struct {
	url           string
	phoneNumberID string
	appSecret     []byte
	run           string
}

// connectBenchWhatsApp gives the throwaway shop made-up WhatsApp
// settings. Its send limit is the webhook rate, at least 80 messages per
// second, so the per-number limit does not hold back the send jobs.
func connectBenchWhatsApp(ctx context.Context, db *postgres.DB, shop *salesagent.Shop, rate int) (webhookTarget, error) {
	random := make([]byte, 16)
	_, _ = rand.Read(random)
	digits := ""
	for _, b := range random[:6] {
		digits += strconv.Itoa(int(b) % 10)
	}
	target := webhookTarget{
		phoneNumberID: "9" + digits,
		appSecret:     []byte("bench-secret-" + hex.EncodeToString(random[6:])),
		run:           hex.EncodeToString(random[:4]),
	}
	wa := &salesagent.WhatsAppSettings{
		PhoneNumberID:     target.phoneNumberID,
		AccessToken:       "bench-token",
		AppSecret:         string(target.appSecret),
		VerifyToken:       "bench-verify",
		MessagesPerSecond: float64(max(rate, 80)),
	}
	if err := wa.Validate(); err != nil {
		return target, err
	}
	shop.Settings.WhatsApp = wa
	if err := db.UpdateShop(ctx, shop); err != nil {
		return target, fmt.Errorf("connect the benchmark shop to WhatsApp: %w", err)
	}
	return target, nil
}

// benchJobKinds are the kinds of the River jobs a benchmark webhook leads to.
var benchJobKinds = []string{whatsapp.InboundArgs{}.Kind(), whatsapp.TurnArgs{}.Kind(), whatsapp.SendArgs{}.Kind()}

// removeShopJobs deletes the River jobs of the benchmark shop, finished
// or not, so no worker later takes a job whose shop is gone.
func removeShopJobs(ctx context.Context, db *postgres.DB, shopID int64, logger *slog.Logger) {
	deleteCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, err := db.Pool.Exec(deleteCtx, `DELETE FROM river_job WHERE kind = ANY($1) AND args->>'shop_id' = $2`,
		benchJobKinds, strconv.FormatInt(shopID, 10))
	if err != nil {
		logger.Error("delete benchmark jobs failed; delete them by hand", "shop_id", shopID, "error", err)
	}
}

// benchGraph is a local stand-in for the Graph API's messages endpoint
// that accepts every message.
type benchGraph struct {
	URL    string
	server *http.Server
	sends  atomic.Int64
}

func startBenchGraph() (*benchGraph, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1 for the fake Graph API: %w", err)
	}
	g := &benchGraph{URL: "http://" + l.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{version}/{phone}/messages", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n := g.sends.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.%d"}]}`, n)
	})
	g.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.server.Serve(l) }()
	return g, nil
}

// Close stops the fake.
func (g *benchGraph) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = g.server.Shutdown(ctx)
}

// webhookRun sends the webhooks and records their outcomes.
type webhookRun struct {
	cfg    benchWebhooksConfig
	target webhookTarget
	client *http.Client

	mu        sync.Mutex
	latencies []time.Duration
	statuses  map[string]int
	sent      int
	skipped   int
	started   time.Time
	sendEnded time.Time
}

func newWebhookRun(cfg benchWebhooksConfig, target webhookTarget) *webhookRun {
	transport := &http.Transport{MaxIdleConns: maxWebhooksInFlight, MaxIdleConnsPerHost: maxWebhooksInFlight, IdleConnTimeout: 30 * time.Second}
	return &webhookRun{
		cfg: cfg, target: target,
		client:   &http.Client{Transport: transport, Timeout: cfg.Timeout},
		statuses: map[string]int{},
	}
}

// send fires one request every 1/rate seconds until the duration ends,
// each on its own goroutine, then waits for the outstanding ones.
func (r *webhookRun) send(ctx context.Context) {
	interval := time.Second / time.Duration(r.cfg.Rate)
	total := int(r.cfg.Duration / interval)
	slots := make(chan struct{}, maxWebhooksInFlight)
	var wg sync.WaitGroup
	r.started = time.Now()
	for i := range total {
		due := r.started.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		default:
			r.mu.Lock()
			r.skipped++
			r.mu.Unlock()
			continue
		}
		r.sent++
		wg.Go(func() {
			defer func() { <-slots }()
			r.post(ctx, i)
		})
	}
	r.sendEnded = time.Now()
	wg.Wait()
	r.client.CloseIdleConnections()
}

// post sends the i-th webhook and records its status and latency.
func (r *webhookRun) post(ctx context.Context, i int) {
	body := r.payload(i)
	mac := hmac.New(sha256.New, r.target.appSecret)
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.target.url, strings.NewReader(string(body)))
	if err != nil {
		r.record("request error", 0)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))

	start := time.Now()
	resp, err := r.client.Do(req)
	elapsed := time.Since(start)
	if err != nil {
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			r.record("timeout", 0)
		} else {
			r.record("transport error", 0)
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.record(strconv.Itoa(resp.StatusCode), elapsed)
}

// payload is a message webhook as Meta sends it, from one of the
// shoppers in turn, with a unique message id and the current time.
func (r *webhookRun) payload(i int) []byte {
	waID := fmt.Sprintf("1555%07d", i%r.cfg.Shoppers)
	text, _ := json.Marshal(benchMessages[i%len(benchMessages)])
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{`+
		`"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550000000","phone_number_id":%q},`+
		`"contacts":[{"profile":{"name":"Shopper %d"},"wa_id":%q}],`+
		`"messages":[{"from":%q,"id":"wamid.bench-%s-%d","timestamp":"%d","type":"text","text":{"body":%s}}]}}]}]}`,
		r.target.phoneNumberID, i%r.cfg.Shoppers, waID, waID, r.target.run, i, time.Now().Unix(), text)
}

// record counts one outcome, and keeps the latency of a response.
func (r *webhookRun) record(status string, latency time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses[status]++
	if latency > 0 {
		r.latencies = append(r.latencies, latency)
	}
}

// accepted returns the number of webhooks with status 200.
func (r *webhookRun) accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.statuses["200"]
}

// jobCounts are the benchmark shop's River jobs by kind and state.
type jobCounts struct {
	InboundCompleted int `json:"inbound_completed"`
	InboundPending   int `json:"inbound_pending"`
	InboundFailed    int `json:"inbound_failed"`
	TurnsCompleted   int `json:"turns_completed"`
	TurnsPending     int `json:"turns_pending"`
	TurnsFailed      int `json:"turns_failed"`
	SendsCompleted   int `json:"sends_completed"`
	SendsPending     int `json:"sends_pending"`
	SendsFailed      int `json:"sends_failed"`
	// WaitedSeconds is the time from the end of sending until every job
	// had finished, or the grace period if some had not.
	WaitedSeconds float64 `json:"waited_seconds"`
}

// waitForJobs polls the shop's jobs until every accepted webhook's turn
// job and every send job has finished, or grace has passed.
func waitForJobs(ctx context.Context, db *postgres.DB, shopID int64, accepted int, grace time.Duration) (jobCounts, error) {
	start := time.Now()
	deadline := start.Add(grace)
	for {
		counts, err := countJobs(ctx, db, shopID)
		if err != nil {
			return counts, err
		}
		counts.WaitedSeconds = time.Since(start).Seconds()
		finished := counts.InboundPending == 0 && counts.TurnsPending == 0 && counts.SendsPending == 0 && counts.TurnsCompleted+counts.TurnsFailed >= accepted
		if finished || !time.Now().Before(deadline) || ctx.Err() != nil {
			return counts, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func countJobs(ctx context.Context, db *postgres.DB, shopID int64) (jobCounts, error) {
	var c jobCounts
	rows, err := db.Pool.Query(ctx, `SELECT kind, state::text, count(*) FROM river_job
		WHERE kind = ANY($1) AND args->>'shop_id' = $2 GROUP BY kind, state`,
		benchJobKinds, strconv.FormatInt(shopID, 10))
	if err != nil {
		return c, fmt.Errorf("count benchmark jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, state string
		var n int
		if err := rows.Scan(&kind, &state, &n); err != nil {
			return c, fmt.Errorf("count benchmark jobs: %w", err)
		}
		completed, pending, failed := &c.SendsCompleted, &c.SendsPending, &c.SendsFailed
		switch kind {
		case whatsapp.InboundArgs{}.Kind():
			completed, pending, failed = &c.InboundCompleted, &c.InboundPending, &c.InboundFailed
		case whatsapp.TurnArgs{}.Kind():
			completed, pending, failed = &c.TurnsCompleted, &c.TurnsPending, &c.TurnsFailed
		}
		switch state {
		case "completed":
			*completed += n
		case "discarded", "cancelled":
			*failed += n
		default:
			*pending += n
		}
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("count benchmark jobs: %w", err)
	}
	return c, nil
}

// webhookReport is the report of salesagent bench webhooks.
type webhookReport struct {
	Rate            int            `json:"rate"`
	DurationSeconds float64        `json:"duration_seconds"`
	Shoppers        int            `json:"shoppers"`
	GraceSeconds    float64        `json:"grace_seconds"`
	Sent            int            `json:"sent"`
	Skipped         int            `json:"skipped_too_many_in_flight"`
	Statuses        map[string]int `json:"statuses"`
	AchievedRate    float64        `json:"achieved_rate"`
	Ack             bench.Summary  `json:"ack"`
	Jobs            jobCounts      `json:"jobs"`
	GraphSends      int64          `json:"graph_sends"`
	// Pool is the server's use of its database pool while sending.
	Pool bench.PoolUsage `json:"db_pool"`
}

func (r *webhookRun) report(jobs jobCounts, graphSends int64) webhookReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := webhookReport{
		Rate: r.cfg.Rate, DurationSeconds: r.cfg.Duration.Seconds(), Shoppers: r.cfg.Shoppers, GraceSeconds: r.cfg.Grace.Seconds(),
		Sent: r.sent, Skipped: r.skipped, Statuses: r.statuses, Ack: bench.Summarize(r.latencies),
		Jobs: jobs, GraphSends: graphSends,
	}
	if elapsed := r.sendEnded.Sub(r.started).Seconds(); elapsed > 0 {
		rep.AchievedRate = float64(r.sent) / elapsed
	}
	return rep
}

func (r webhookReport) write(w io.Writer) {
	fmt.Fprintf(w, "salesagent bench webhooks: %d requests/s for %gs from %d shoppers; job grace %gs\n\n", r.Rate, r.DurationSeconds, r.Shoppers, r.GraceSeconds)
	fmt.Fprintf(w, "requests             %d sent at %.1f/s, %d skipped with %d in flight\n", r.Sent, r.AchievedRate, r.Skipped, maxWebhooksInFlight)
	fmt.Fprintf(w, "statuses             %s\n", errorCounts(r.Statuses))
	summaryLine(w, "ack", r.Ack)
	j := r.Jobs
	fmt.Fprintf(w, "inbound jobs         %d completed, %d not finished, %d failed\n", j.InboundCompleted, j.InboundPending, j.InboundFailed)
	fmt.Fprintf(w, "turn jobs            %d completed, %d not finished, %d failed\n", j.TurnsCompleted, j.TurnsPending, j.TurnsFailed)
	fmt.Fprintf(w, "send jobs            %d completed, %d not finished, %d failed\n", j.SendsCompleted, j.SendsPending, j.SendsFailed)
	fmt.Fprintf(w, "fake Graph API       %d messages received\n", r.GraphSends)
	fmt.Fprintf(w, "jobs waited          %.1f s after the last acknowledgement\n", j.WaitedSeconds)
	poolLine(w, r.Pool)
}
