// Package migrations holds the SQL schema as numbered goose migrations,
// embedded in the binary, and applies them.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

func newProvider(pool *pgxpool.Pool) (*goose.Provider, *sql.DB, error) {
	db := stdlib.OpenDBFromPool(pool)
	// Migrations each create or extend their own tables, so one added on a
	// branch after a later one was applied elsewhere is still safe to run.
	provider, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithAllowOutofOrder(true))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("load migrations: %w", err)
	}
	return provider, db, nil
}

// Up applies every pending migration, this project's and those of the River
// job queue, and returns the resulting version of this project's schema.
func Up(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	provider, db, err := newProvider(pool)
	if err != nil {
		return 0, err
	}
	defer db.Close()

	if _, err := provider.Up(ctx); err != nil {
		return 0, fmt.Errorf("apply migrations: %w", err)
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return 0, fmt.Errorf("load job queue migrations: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return 0, fmt.Errorf("apply job queue migrations: %w", err)
	}
	return provider.GetDBVersion(ctx)
}

// Status reports the database's schema version and the newest version this
// binary knows, so readiness checks can tell whether migrations are current.
func Status(ctx context.Context, pool *pgxpool.Pool) (current, latest int64, err error) {
	provider, db, err := newProvider(pool)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()

	current, err = provider.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	sources := provider.ListSources()
	if len(sources) > 0 {
		latest = sources[len(sources)-1].Version
	}
	return current, latest, nil
}
