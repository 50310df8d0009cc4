package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/retrieval"
	"github.com/salesagent/salesagent/retrieval/ingest"
)

const benchUsage = `Usage: salesagent bench load|sockets|webhooks [flags]

  load      simulated shoppers over WebSockets against a server whose LLM
            is a local fake with a fixed time to first token
  sockets   idle widget connections and the server's memory per connection
  webhooks  signed WhatsApp webhooks at a fixed rate and the time to their
            acknowledgement, with the jobs running against a fake Graph API

Every run starts its own server on 127.0.0.1, loads a throwaway shop into
the database of --database-url, and deletes that shop at the end.
Run "salesagent bench load -h" for a mode's flags.
`

// runBench dispatches salesagent bench to its modes.
func runBench(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return usageError{"missing bench mode: use load, sockets or webhooks"}
	}
	switch args[0] {
	case "load":
		return runBenchLoad(ctx, args[1:], stdin, stdout, stderr)
	case "sockets":
		return runBenchSockets(ctx, args[1:], stdin, stdout, stderr)
	case "webhooks":
		return runBenchWebhooks(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, benchUsage)
		return nil
	}
	fmt.Fprint(stderr, benchUsage)
	return usageError{fmt.Sprintf("unknown bench mode %q: use load, sockets or webhooks", args[0])}
}

// setBenchLogLevel makes a bench or evaluation command log warnings and
// errors only, unless --log-level or SALESAGENT_LOG_LEVEL sets another
// level, because the server logs a line per turn at info.
func setBenchLogLevel(fs *flag.FlagSet) {
	level := envOr("SALESAGENT_LOG_LEVEL", "warn")
	_ = fs.Set("log-level", level)
	fs.Lookup("log-level").DefValue = level
}

// printDefaultsExcept prints the help of fs's flags, as PrintDefaults
// does, leaving out the internal ones named in hidden.
func printDefaultsExcept(fs *flag.FlagSet, w io.Writer, hidden ...string) {
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	shown.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(hidden, f.Name) {
			return
		}
		shown.Var(f.Value, f.Name, f.Usage)
		shown.Lookup(f.Name).DefValue = f.DefValue
	})
	shown.PrintDefaults()
}

// benchShopPrefix starts the slug of every throwaway shop.
const benchShopPrefix = "bench-"

// warnLeftoverBenchShops names the throwaway shops over a day old, which a
// killed run left behind, with the command that deletes them. Younger
// ones may belong to runs still going.
func warnLeftoverBenchShops(ctx context.Context, db *postgres.DB, logger *slog.Logger) {
	shops, err := db.ListShops(ctx)
	if err != nil {
		logger.Warn("list shops to look for leftover benchmark shops", "error", err)
		return
	}
	var leftover []string
	for _, shop := range shops {
		if strings.HasPrefix(shop.Slug, benchShopPrefix) && time.Since(shop.CreatedAt) > 24*time.Hour {
			leftover = append(leftover, shop.Slug)
		}
	}
	if len(leftover) > 0 {
		logger.Warn("throwaway shops of earlier runs are left over; delete each with salesagent shop --shop SLUG --delete --confirm SLUG",
			"shops", strings.Join(leftover, " "))
	}
}

// newBenchShop creates a throwaway shop with a random slug and, when
// dataDir is set, loads the store files in it. The returned function
// deletes the shop with everything the run stored in it.
func newBenchShop(ctx context.Context, db *postgres.DB, dataDir string, logger *slog.Logger) (*salesagent.Shop, func(), error) {
	warnLeftoverBenchShops(ctx, db, logger)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	slug := benchShopPrefix + hex.EncodeToString(suffix)
	shop, _, err := db.EnsureShop(ctx, slug, "Benchmark shop")
	if err != nil {
		return nil, nil, err
	}
	remove := func() {
		// The run's context may be cancelled already; deletion still
		// has to happen.
		deleteCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		if err := db.DeleteShop(deleteCtx, shop.ID); err != nil {
			logger.Error("delete benchmark shop failed; delete it with salesagent shop --shop SLUG --delete --confirm SLUG", "shop_slug", slug, "error", err)
		}
	}
	if dataDir == "" {
		return shop, remove, nil
	}

	batch, _, err := ingest.ParsePaths([]string{dataDir}, "", nil)
	if err == nil {
		indexer := retrieval.NewIndexer(db, retrieval.NewLocalEmbedder(), logger)
		_, err = load(ctx, db, indexer, shop, batch, io.Discard)
	}
	if err != nil {
		remove()
		return nil, nil, fmt.Errorf("load %s into the benchmark shop: %w", dataDir, err)
	}
	return shop, remove, nil
}

// benchServer is the app as salesagent serve builds it, served on one or
// more loopback ports.
type benchServer struct {
	app     *App
	servers []*http.Server
	// URLs are the roots of the listeners, such as http://127.0.0.1:41234.
	URLs []string
}

// startBenchServer builds the app from cfg and serves it on listeners
// free ports of 127.0.0.1, with no job workers.
func startBenchServer(ctx context.Context, cfg Config, listeners int, logger *slog.Logger) (*benchServer, error) {
	// The benchmark may share the database of real shops, whose WhatsApp
	// sends and re-embedding jobs are not its work.
	cfg.NoJobWorkers = true
	return serveBench(ctx, cfg, listeners, logger)
}

// serveBench builds the app from cfg and serves it on listeners free
// ports of 127.0.0.1. Job workers run unless cfg.NoJobWorkers is set.
func serveBench(ctx context.Context, cfg Config, listeners int, logger *slog.Logger) (*benchServer, error) {
	s := &benchServer{}
	var sockets []net.Listener
	for range max(listeners, 1) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, open := range sockets {
				open.Close()
			}
			return nil, fmt.Errorf("listen on 127.0.0.1: %w", err)
		}
		sockets = append(sockets, l)
		s.URLs = append(s.URLs, "http://"+l.Addr().String())
	}
	cfg.PublicURL = s.URLs[0]
	cfg.AutoMigrate = true
	app, err := newApp(ctx, cfg, logger)
	if err != nil {
		for _, l := range sockets {
			l.Close()
		}
		return nil, err
	}
	s.app = app
	for _, l := range sockets {
		server := &http.Server{Handler: app.handler, ReadHeaderTimeout: 10 * time.Second}
		s.servers = append(s.servers, server)
		go func() { _ = server.Serve(l) }()
	}
	return s, nil
}

// Close shuts the server down in the order serve does, under one
// deadline.
func (s *benchServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := len(s.app.closers) - 1; i >= 0; i-- {
		s.app.closers[i](ctx)
	}
	for _, server := range s.servers {
		_ = server.Shutdown(ctx)
	}
	s.app.Close()
}

// startCPUProfile starts a CPU profile into path; the returned function
// stops it. An empty path profiles nothing.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// mebibytes converts bytes to MiB for reports.
func mebibytes(b uint64) float64 {
	return float64(b) / (1 << 20)
}

// childProcess is this program run again as the client side of a
// benchmark. It talks to its parent over its standard input and output.
type childProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
}

// startChild starts this program with args and benchChildEnv set, with its
// standard error going to stderr.
func startChild(args []string, stderr io.Writer) (*childProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to start the client process (or pass --client inprocess): %w", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), benchChildEnv+"=1")
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start client process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start client process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start client process %s: %w", exe, err)
	}
	return &childProcess{cmd: cmd, stdin: stdin, stdout: stdout}, nil
}

// stop closes the child's standard input, which makes it finish, and waits
// for it to exit. It kills the child after a minute.
func (c *childProcess) stop() {
	c.stdin.Close()
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(time.Minute):
		_ = c.cmd.Process.Kill()
		<-exited
	}
}
