package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/salesagent/salesagent/internal/bench"
)

// benchChildEnv is set on the client process that bench sockets starts. A
// test binary cannot take salesagent's command line, so with this variable
// set it runs the command given in its arguments instead of the tests.
const benchChildEnv = "SALESAGENT_BENCH_CHILD"

// portsPerListener is how many connections bench sockets sends to one
// listener. Linux's default ephemeral port range, 32768 to 60999, gives
// 28,232 ports per destination address and port.
const portsPerListener = 25000

// benchSocketsConfig holds the flags of salesagent bench sockets.
type benchSocketsConfig struct {
	Config
	Sockets   int
	Parallel  int
	Listeners int
	Client    string
	Timeout   time.Duration
	Keepalive bool
	JSON      bool

	// ConnectOnly runs the client side alone against Servers.
	ConnectOnly bool
	Servers     string
	ShopKey     string
	Hold        time.Duration
}

func parseBenchSocketsFlags(args []string, stderr io.Writer) (benchSocketsConfig, error) {
	var cfg benchSocketsConfig
	fs := flag.NewFlagSet("bench sockets", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg.Config)
	setBenchLogLevel(fs)
	fs.IntVar(&cfg.Sockets, "sockets", 1000, "idle widget connections to open")
	fs.IntVar(&cfg.Parallel, "parallel", 32, "connection handshakes in flight at once")
	fs.IntVar(&cfg.Listeners, "listeners", 0, fmt.Sprintf("loopback ports the server listens on; 0 means one per %d sockets", portsPerListener))
	fs.StringVar(&cfg.Client, "client", "process", "where the client side runs: process (a child process, so the server's memory is measured alone) or inprocess")
	fs.DurationVar(&cfg.Timeout, "timeout", 15*time.Minute, "cap on opening all connections")
	fs.BoolVar(&cfg.Keepalive, "keepalive", true, "send an unsolicited pong after each welcome; the server then keeps the socket (without it, the server drops idle sockets when the 10 s hello deadline passes)")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&cfg.ConnectOnly, "connect-only", false, "run only the client side against --server, print one JSON line once the sockets are open, and hold them until standard input closes or --hold passes")
	fs.StringVar(&cfg.Servers, "server", "", "with --connect-only: server roots to connect to, comma-separated, such as http://127.0.0.1:8080")
	fs.StringVar(&cfg.ShopKey, "shop-key", "", "with --connect-only: the shop's widget key (pk_...)")
	fs.DurationVar(&cfg.Hold, "hold", 10*time.Minute, "with --connect-only: longest time to hold the sockets open")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: salesagent bench sockets [flags]\n\nOpens idle widget connections (hello and welcome done) to an in-process server and prints the server's resident memory and Go heap per connection.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}

	switch {
	case fs.NArg() > 0:
		return cfg, usageError{fmt.Sprintf("unexpected argument %q: bench sockets takes flags only", fs.Arg(0))}
	case cfg.Sockets < 1:
		return cfg, usageError{fmt.Sprintf("invalid --sockets %d: use 1 or more", cfg.Sockets)}
	case cfg.Parallel < 1:
		return cfg, usageError{fmt.Sprintf("invalid --parallel %d: use 1 or more", cfg.Parallel)}
	case cfg.Listeners < 0:
		return cfg, usageError{fmt.Sprintf("invalid --listeners %d: use 0 for automatic, or more", cfg.Listeners)}
	case cfg.Client != "process" && cfg.Client != "inprocess":
		return cfg, usageError{fmt.Sprintf("invalid --client %q: use process or inprocess", cfg.Client)}
	case cfg.Timeout <= 0 || cfg.Hold <= 0:
		return cfg, usageError{"invalid --timeout or --hold: use a positive duration such as 10m"}
	case cfg.ConnectOnly && (cfg.Servers == "" || !strings.HasPrefix(cfg.ShopKey, "pk_")):
		return cfg, usageError{"--connect-only needs --server URL and --shop-key pk_...: start the server side with salesagent serve and copy the shop's widget key"}
	}
	if cfg.Listeners == 0 {
		cfg.Listeners = (cfg.Sockets + portsPerListener - 1) / portsPerListener
	}
	return cfg, nil
}

// runBenchSockets runs the server side and measures its memory, or with
// --connect-only the client side alone.
func runBenchSockets(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseBenchSocketsFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.ConnectOnly {
		return runSocketClient(ctx, cfg, stdin, stdout)
	}
	logger, err := newLogger(cfg.Config, stderr)
	if err != nil {
		return err
	}

	// The server holds one descriptor per socket, and an in-process
	// client one more; 1,024 are left for the database pool and files.
	perSocket := 1
	if cfg.Client == "inprocess" {
		perSocket = 2
	}
	limit, err := bench.RaiseFileLimit(uint64(perSocket*cfg.Sockets + 1024))
	if err != nil {
		return err
	}
	db, err := openMigrated(ctx, cfg.Config, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	shop, removeShop, err := newBenchShop(ctx, db, "", logger)
	if err != nil {
		return err
	}
	defer removeShop()
	server, err := startBenchServer(ctx, cfg.Config, cfg.Listeners, logger)
	if err != nil {
		return err
	}
	defer server.Close()

	report := socketsReport{Sockets: cfg.Sockets, Client: cfg.Client, Listeners: cfg.Listeners,
		FileLimitBefore: limit.Before.Cur, FileLimitAfter: limit.After.Cur}
	before := settledProcess()
	client, err := openSocketClient(ctx, cfg, server.URLs, shop.WidgetKey, stderr)
	if err != nil {
		return err
	}
	defer client.close()
	report.Opened, report.Failed, report.FirstError = client.opened.Opened, client.opened.Failed, client.opened.FirstError
	report.OpenSeconds = client.opened.ElapsedSeconds
	report.ClientRSSMiB = client.opened.RSSMiB

	if err := waitForServerSockets(ctx, server, report.Opened); err != nil {
		return err
	}
	report.measure(before, settledProcess())
	if open, err := gaugeValue(server, "salesagent_web_sockets_open"); err == nil {
		report.ServerOpen = int(open)
	}

	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	report.write(stdout)
	return nil
}

// settledProcess collects garbage and returns freed memory to the
// operating system before reading the process's figures, so that they
// show what is live.
func settledProcess() bench.ProcessStats {
	runtime.GC()
	debug.FreeOSMemory()
	stats, _ := bench.ReadProcess()
	return stats
}

// clientOpened is the line a connect-only client prints once its sockets
// are open.
type clientOpened struct {
	Opened         int            `json:"opened"`
	Failed         map[string]int `json:"failed"`
	FirstError     string         `json:"first_error,omitempty"`
	ElapsedSeconds float64        `json:"elapsed_seconds"`
	RSSMiB         float64        `json:"rss_mib"`
	FileLimit      uint64         `json:"file_limit"`
}

// runSocketClient opens the sockets, prints one clientOpened line and
// holds them until stdin closes, --hold passes or ctx ends.
func runSocketClient(ctx context.Context, cfg benchSocketsConfig, stdin io.Reader, stdout io.Writer) error {
	limit, err := bench.RaiseFileLimit(uint64(cfg.Sockets + 1024))
	if err != nil {
		return err
	}
	sockets, err := bench.OpenIdle(ctx, bench.IdleConfig{
		URLs: strings.Split(cfg.Servers, ","), ShopKey: cfg.ShopKey,
		Sockets: cfg.Sockets, Parallel: cfg.Parallel, Timeout: cfg.Timeout, Keepalive: cfg.Keepalive,
	})
	if err != nil {
		return err
	}
	defer sockets.Close()

	line := clientOpened{Opened: sockets.Opened, Failed: sockets.Failed, FirstError: sockets.FirstError,
		ElapsedSeconds: sockets.Elapsed.Seconds(), FileLimit: limit.After.Cur}
	if stats, err := bench.ReadProcess(); err == nil {
		line.RSSMiB = mebibytes(stats.RSS)
	}
	if err := json.NewEncoder(stdout).Encode(line); err != nil {
		return fmt.Errorf("write client report: %w", err)
	}

	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(stdinClosed)
	}()
	hold := time.NewTimer(cfg.Hold)
	defer hold.Stop()
	select {
	case <-stdinClosed:
	case <-hold.C:
	case <-ctx.Done():
	}
	return nil
}

// socketClient is the client side of bench sockets, in a child process or
// in this one.
type socketClient struct {
	opened clientOpened
	close  func()
}

// openSocketClient opens the sockets with the client that cfg.Client
// names and returns once they are open.
func openSocketClient(ctx context.Context, cfg benchSocketsConfig, urls []string, key string, stderr io.Writer) (*socketClient, error) {
	if cfg.Client == "inprocess" {
		sockets, err := bench.OpenIdle(ctx, bench.IdleConfig{URLs: urls, ShopKey: key, Sockets: cfg.Sockets, Parallel: cfg.Parallel, Timeout: cfg.Timeout, Keepalive: cfg.Keepalive})
		if err != nil {
			return nil, err
		}
		opened := clientOpened{Opened: sockets.Opened, Failed: sockets.Failed, FirstError: sockets.FirstError, ElapsedSeconds: sockets.Elapsed.Seconds()}
		return &socketClient{opened: opened, close: sockets.Close}, nil
	}
	return startChildClient(ctx, cfg, urls, key, stderr)
}

// startChildClient runs this program's bench sockets --connect-only in a
// child process and reads the line it prints once its sockets are open.
// Closing the child's standard input makes it close them and exit.
func startChildClient(ctx context.Context, cfg benchSocketsConfig, urls []string, key string, stderr io.Writer) (*socketClient, error) {
	child, err := startChild([]string{"bench", "sockets", "--connect-only",
		"--server", strings.Join(urls, ","), "--shop-key", key,
		"--sockets", fmt.Sprint(cfg.Sockets), "--parallel", fmt.Sprint(cfg.Parallel),
		"--timeout", cfg.Timeout.String(), "--hold", (cfg.Timeout + 10*time.Minute).String(),
		fmt.Sprintf("--keepalive=%t", cfg.Keepalive)}, stderr)
	if err != nil {
		return nil, err
	}
	stop, stdout := child.stop, child.stdout
	lines := make(chan []byte, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		if scanner.Scan() {
			lines <- scanner.Bytes()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()

	var line []byte
	select {
	case line = <-lines:
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
	var opened clientOpened
	if err := json.Unmarshal(line, &opened); err != nil || line == nil {
		stop()
		return nil, errors.New("the client process printed no report line; its errors are above")
	}
	return &socketClient{opened: opened, close: stop}, nil
}

// waitForServerSockets waits up to a minute for the server to count n
// open sockets, since the client counts a socket as open on its welcome,
// just before the server's own bookkeeping may finish.
func waitForServerSockets(ctx context.Context, server *benchServer, n int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		open, err := gaugeValue(server, "salesagent_web_sockets_open")
		if err != nil {
			return err
		}
		if int(open) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server counts %d open sockets a minute after the client opened %d: it closed the others (with --keepalive=false, idle sockets close when the hello deadline passes)", int(open), n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// gaugeValue reads a gauge from the server's metrics registry.
func gaugeValue(server *benchServer, name string) (float64, error) {
	families, err := server.app.registry.Gather()
	if err != nil {
		return 0, fmt.Errorf("read server metrics: %w", err)
	}
	for _, family := range families {
		if family.GetName() != name || family.GetType() != dto.MetricType_GAUGE {
			continue
		}
		total := 0.0
		for _, m := range family.GetMetric() {
			total += m.GetGauge().GetValue()
		}
		return total, nil
	}
	return 0, fmt.Errorf("server metrics have no gauge %s", name)
}

// socketsReport is the report of salesagent bench sockets.
type socketsReport struct {
	Sockets    int            `json:"sockets"`
	Opened     int            `json:"opened"`
	Failed     map[string]int `json:"failed"`
	FirstError string         `json:"first_error,omitempty"`
	// Client is process when the client side ran in a child process, so
	// the memory figures are the server's alone.
	Client    string `json:"client"`
	Listeners int    `json:"listeners"`
	// ServerOpen is the server's count of open sockets when the memory
	// was measured.
	ServerOpen      int     `json:"server_open"`
	OpenSeconds     float64 `json:"open_seconds"`
	FileLimitBefore uint64  `json:"file_limit_before"`
	FileLimitAfter  uint64  `json:"file_limit_after"`

	// RSS figures are VmRSS before and after, and the Go figures come from
	// runtime/metrics, each after a garbage collection.
	RSSBeforeMiB   float64 `json:"rss_before_mib"`
	RSSAfterMiB    float64 `json:"rss_after_mib"`
	RSSPerSocket   float64 `json:"rss_bytes_per_socket"`
	HeapPerSocket  float64 `json:"heap_bytes_per_socket"`
	StackPerSocket float64 `json:"stack_bytes_per_socket"`
	GoroutinesPer  float64 `json:"goroutines_per_socket"`
	// ProjectedMiB50k is RSSAfter plus RSSPerSocket for the sockets
	// missing to 50,000: a linear estimate.
	ProjectedMiB50k float64 `json:"projected_rss_mib_at_50000"`
	ClientRSSMiB    float64 `json:"client_rss_mib,omitempty"`
}

func (r *socketsReport) measure(before, after bench.ProcessStats) {
	r.RSSBeforeMiB, r.RSSAfterMiB = mebibytes(before.RSS), mebibytes(after.RSS)
	if r.Opened == 0 {
		return
	}
	n := float64(r.Opened)
	r.RSSPerSocket = (float64(after.RSS) - float64(before.RSS)) / n
	r.HeapPerSocket = (float64(after.HeapLive) - float64(before.HeapLive)) / n
	r.StackPerSocket = (float64(after.Stacks) - float64(before.Stacks)) / n
	r.GoroutinesPer = float64(after.Goroutines-before.Goroutines) / n
	r.ProjectedMiB50k = r.RSSAfterMiB + r.RSSPerSocket*float64(max(50000-r.Opened, 0))/(1<<20)
}

func (r socketsReport) write(w io.Writer) {
	fmt.Fprintf(w, "salesagent bench sockets: %d idle widget connections, client %s, %d listener(s), open file limit %d (was %d)\n\n",
		r.Sockets, r.Client, r.Listeners, r.FileLimitAfter, r.FileLimitBefore)
	fmt.Fprintf(w, "opened               %d in %.1f s, %d open on the server when measured; failed: %s\n", r.Opened, r.OpenSeconds, r.ServerOpen, errorCounts(r.Failed))
	if r.FirstError != "" {
		fmt.Fprintf(w, "first failure        %s\n", r.FirstError)
	}
	fmt.Fprintf(w, "server RSS           %.1f MiB before, %.1f MiB after\n", r.RSSBeforeMiB, r.RSSAfterMiB)
	fmt.Fprintf(w, "per connection       %.1f KiB RSS, %.1f KiB Go heap, %.1f KiB goroutine stacks, %.2f goroutines\n",
		r.RSSPerSocket/1024, r.HeapPerSocket/1024, r.StackPerSocket/1024, r.GoroutinesPer)
	fmt.Fprintf(w, "at 50,000            %.0f MiB RSS, projected linearly\n", r.ProjectedMiB50k)
	if r.Client == "inprocess" {
		fmt.Fprintln(w, "(the client ran in the same process, so the figures include both sides)")
	} else if r.ClientRSSMiB > 0 {
		fmt.Fprintf(w, "client process       %.1f MiB RSS, not counted above\n", r.ClientRSSMiB)
	}
}
