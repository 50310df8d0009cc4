// Package pgtest gives tests a migrated PostgreSQL database of their own.
//
// Each test package gets one throwaway database, created from the database
// named by SALESAGENT_TEST_DATABASE_URL (default
// postgres://salesagent:salesagent@127.0.0.1:5432/salesagent_test) and
// dropped when the package's tests finish. Tests isolate their rows by
// creating their own shop. Without a reachable database a test is skipped,
// except under CI=true, where it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent/postgres"
)

// DefaultURL is the test database that scripts/setup.sh creates.
const DefaultURL = "postgres://salesagent:salesagent@127.0.0.1:5432/salesagent_test"

var (
	once    sync.Once
	shared  *postgres.DB
	dbURL   string
	openErr error
)

// BaseURL returns the URL of the database tests derive their own from.
func BaseURL() string {
	if url := os.Getenv("SALESAGENT_TEST_DATABASE_URL"); url != "" {
		return url
	}
	return DefaultURL
}

// DB returns the package's migrated throwaway database, creating it on the
// first call.
func DB(t testing.TB) *postgres.DB {
	t.Helper()
	once.Do(func() { shared, dbURL, openErr = create() })
	if openErr != nil {
		Unavailable(t, openErr)
	}
	return shared
}

// URL returns the connection URL of the package's throwaway database, for
// tests that start a server process of their own.
func URL(t testing.TB) string {
	t.Helper()
	DB(t)
	return dbURL
}

// Unavailable skips the test, or fails it under CI=true, because the
// database is not reachable.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("PostgreSQL with pgvector is not available (%v); run scripts/setup.sh or set SALESAGENT_TEST_DATABASE_URL", err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func create() (*postgres.DB, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	base, err := pgx.ParseConfig(BaseURL())
	if err != nil {
		return nil, "", fmt.Errorf("parse SALESAGENT_TEST_DATABASE_URL: %w", err)
	}
	admin, err := pgx.ConnectConfig(ctx, base)
	if err != nil {
		return nil, "", err
	}
	defer admin.Close(ctx)

	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := fmt.Sprintf("sa_test_%s_%s", sanitize(filepath.Base(mustWd())), hex.EncodeToString(suffix))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, "", fmt.Errorf("create test database %s: %w", name, err)
	}
	registerDrop(name)

	url, err := replaceDatabase(BaseURL(), name)
	if err != nil {
		return nil, "", err
	}

	db, _, err := postgres.OpenMigrated(ctx, url)
	if err != nil {
		return nil, "", err
	}
	return db, url, nil
}

var (
	dropMu    sync.Mutex
	dropNames []string
)

func registerDrop(name string) {
	dropMu.Lock()
	defer dropMu.Unlock()
	dropNames = append(dropNames, name)
}

// Main runs a package's tests and drops the databases they created. Call it
// from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	dropAll()
	os.Exit(code)
}

func dropAll() {
	dropMu.Lock()
	defer dropMu.Unlock()
	if len(dropNames) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, BaseURL())
	if err != nil {
		return
	}
	defer admin.Close(ctx)
	for _, name := range dropNames {
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
}

// replaceDatabase returns the URL raw with its database name set to name.
func replaceDatabase(raw, name string) (string, error) {
	u, err := neturl.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("SALESAGENT_TEST_DATABASE_URL %q must be a postgres:// URL", raw)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func mustWd() string {
	wd, err := os.Getwd()
	if err != nil {
		return "pkg"
	}
	return wd
}

func sanitize(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(out) < 20; i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			out = append(out, c)
		case c >= 'A' && c <= 'Z':
			out = append(out, c+'a'-'A')
		default:
			out = append(out, '_')
		}
	}
	return string(out)
}
