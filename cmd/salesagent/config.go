package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/channels/whatsapp"
	"github.com/salesagent/salesagent/postgres"
)

// DefaultDatabaseURL is the database that scripts/setup.sh creates.
const DefaultDatabaseURL = "postgres://salesagent:salesagent@127.0.0.1:5432/salesagent"

// Config is everything the commands read from flags and the environment,
// read once in main and passed down.
type Config struct {
	DatabaseURL     string
	Addr            string
	PublicURL       string
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	AutoMigrate     bool
	Models          ModelConfig
	WhatsApp        whatsapp.ClientConfig
	// NoJobWorkers makes the server only insert jobs, never run them, as
	// a benchmark server sharing a database with real shops must.
	NoJobWorkers bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// the console believes.
	TrustedProxies []netip.Prefix
}

// parseProxies reads a comma-separated list of addresses and CIDR
// prefixes.
func parseProxies(list string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if addr, err := netip.ParseAddr(item); err == nil {
			prefixes = append(prefixes, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
			continue
		}
		prefix, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("invalid --trusted-proxies entry %q: use an IP address or a CIDR such as 10.0.0.0/8", item)
		}
		prefixes = append(prefixes, prefix.Masked())
	}
	return prefixes, nil
}

// envOr returns the environment variable name, or fallback when unset.
func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return fallback
}

// addCommonFlags registers the flags every command shares.
func addCommonFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.DatabaseURL, "database-url", envOr("SALESAGENT_DATABASE_URL", DefaultDatabaseURL),
		"PostgreSQL URL (env SALESAGENT_DATABASE_URL)")
	fs.StringVar(&cfg.LogLevel, "log-level", envOr("SALESAGENT_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env SALESAGENT_LOG_LEVEL)")
	fs.StringVar(&cfg.LogFormat, "log-format", envOr("SALESAGENT_LOG_FORMAT", "text"), "log format: text or json (env SALESAGENT_LOG_FORMAT)")
}

// newLogger builds the process's logger from the config.
func newLogger(cfg Config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, usageError{fmt.Sprintf("invalid --log-level %q: use debug, info, warn or error", cfg.LogLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.LogFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("invalid --log-format %q: use text or json", cfg.LogFormat)}
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// loadShop returns the shop with the given slug, or an error saying how to
// create it.
func loadShop(ctx context.Context, db *postgres.DB, slug string) (*salesagent.Shop, error) {
	shop, err := db.ShopBySlug(ctx, slug)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return nil, fmt.Errorf("shop %q not found: load it first with salesagent ingest --shop %s PATH", slug, slug)
	}
	return shop, err
}
