package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/salesagent/salesagent/channels/whatsapp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/salesagent/salesagent/migrations"
	"github.com/salesagent/salesagent/postgres"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg)
	fs.StringVar(&cfg.Addr, "addr", envOr("SALESAGENT_ADDR", "127.0.0.1:8080"), "address to listen on (env SALESAGENT_ADDR)")
	fs.StringVar(&cfg.PublicURL, "public-url", envOr("SALESAGENT_PUBLIC_URL", ""), "public base URL of this server, for links (env SALESAGENT_PUBLIC_URL); default http://ADDR")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long shutdown waits for open work")
	fs.BoolVar(&cfg.AutoMigrate, "migrate", true, "apply pending migrations at start")
	proxies := envOr("SALESAGENT_TRUSTED_PROXIES", "")
	fs.StringVar(&proxies, "trusted-proxies", proxies, "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed, as in 10.0.0.0/8 (env SALESAGENT_TRUSTED_PROXIES)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if cfg.TrustedProxies, err = parseProxies(proxies); err != nil {
		return usageError{err.Error()}
	}
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	if cfg.Models, err = readModelConfig(); err != nil {
		return usageError{err.Error()}
	}
	var env envReader
	cfg.WhatsApp = whatsapp.ClientConfig{
		BaseURL:    os.Getenv("SALESAGENT_WHATSAPP_GRAPH_URL"),
		APIVersion: os.Getenv("SALESAGENT_WHATSAPP_API_VERSION"),
		Timeout:    env.duration("SALESAGENT_WHATSAPP_TIMEOUT"),
	}
	if env.err != nil {
		return usageError{env.err.Error()}
	}

	listener, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (set --addr or SALESAGENT_ADDR to a free address): %w", cfg.Addr, err)
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + listener.Addr().String()
	}
	app, err := newApp(ctx, cfg, logger)
	if err != nil {
		listener.Close()
		return err
	}
	defer app.Close()

	if err := app.printShops(ctx, stdout, cfg.PublicURL); err != nil {
		logger.WarnContext(ctx, "list shops failed", "error", err)
	}
	return app.serve(ctx, listener)
}

// App is the running server: the database, the agent and the HTTP handlers,
// built once from Config.
type App struct {
	cfg      Config
	logger   *slog.Logger
	db       *postgres.DB
	registry *prometheus.Registry
	handler  http.Handler
	closers  []func(context.Context)
}

func newApp(ctx context.Context, cfg Config, logger *slog.Logger) (*App, error) {
	var db *postgres.DB
	var err error
	if cfg.AutoMigrate {
		var version int64
		if db, version, err = postgres.OpenMigrated(ctx, cfg.DatabaseURL); err != nil {
			return nil, err
		}
		logger.InfoContext(ctx, "database schema current", "version", version)
	} else if db, err = postgres.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	app := &App{cfg: cfg, logger: logger, db: db, registry: registry}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", app.handleHealth)
	mux.HandleFunc("GET /readyz", app.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry}))
	if err := app.mountChannels(ctx, mux); err != nil {
		db.Close()
		return nil, err
	}
	app.handler = logRequests(logger, mux)
	return app, nil
}

// Close releases what the app holds.
func (a *App) Close() {
	a.db.Close()
}

func (a *App) serve(ctx context.Context, listener net.Listener) error {
	server := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errs := make(chan error, 1)
	go func() { errs <- server.Serve(listener) }()
	a.logger.InfoContext(ctx, "server started", "addr", listener.Addr().String())

	select {
	case err := <-errs:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	// Ordered shutdown under one deadline: stop accepting, close sockets
	// with a going-away code, wait for requests, then close the pool.
	a.logger.Info("shutting down", "timeout", a.cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	var shutdownErr error
	// The closers run beside Shutdown, because Shutdown does not track
	// hijacked WebSocket connections and waits only for plain requests.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for i := len(a.closers) - 1; i >= 0; i-- {
			a.closers[i](shutdownCtx)
		}
	}()
	if err := server.Shutdown(shutdownCtx); err != nil {
		shutdownErr = fmt.Errorf("shutdown: %w", err)
	}
	<-closed
	if err := <-errs; err != nil && !errors.Is(err, http.ErrServerClosed) {
		shutdownErr = errors.Join(shutdownErr, err)
	}
	a.logger.Info("server stopped")
	return shutdownErr
}

func (a *App) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// handleReady reports ready when the database answers and its schema is at
// the version this binary expects.
func (a *App) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := a.db.Pool.Ping(ctx); err != nil {
		a.logger.WarnContext(ctx, "readiness: database unreachable", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "database unreachable\n")
		return
	}
	current, latest, err := migrations.Status(ctx, a.db.Pool)
	if err != nil {
		a.logger.WarnContext(ctx, "readiness: schema version unknown", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "schema version unknown\n")
		return
	}
	if current != latest {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "schema at version %d, binary expects %d: run salesagent migrate\n", current, latest)
		return
	}
	io.WriteString(w, "ready\n")
}

func (a *App) printShops(ctx context.Context, w io.Writer, publicURL string) error {
	shops, err := a.db.ListShops(ctx)
	if err != nil {
		return err
	}
	if len(shops) == 0 {
		fmt.Fprintln(w, "No shops yet: load one with salesagent ingest --shop SLUG PATH...")
		return nil
	}
	for _, shop := range shops {
		fmt.Fprintf(w, "Shop %q: open %s/shop/%s\n", shop.Name, publicURL, shop.Slug)
	}
	fmt.Fprintf(w, "Operator console: %s/console/ (add an operator with salesagent operator add)\n", publicURL)
	return nil
}

// statusRecorder captures a response's status for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection to the WebSocket upgrade, because
// gorilla/websocket asserts http.Hijacker on the writer it is given.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer does not support hijacking")
	}
	r.status = http.StatusSwitchingProtocols
	return h.Hijack()
}

func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.DebugContext(r.Context(), "http request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration_ms", time.Since(start).Milliseconds())
	})
}
