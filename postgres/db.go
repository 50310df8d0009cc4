// Package postgres stores salesagent's data in PostgreSQL. Every query on a
// shop-owned table filters on the shop id.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvector "github.com/pgvector/pgvector-go/pgx"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/migrations"
)

// Querier is what the store's functions need to run SQL: a pool, a
// connection or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB is the store, backed by a connection pool.
type DB struct {
	Pool *pgxpool.Pool

	// OnEscalate, when set, runs in the transaction that puts a
	// conversation in the operators' queue. The server queues the handoff
	// notification there, so that it goes out if and only if the
	// escalation commits. Set it before the DB is shared.
	OnEscalate func(ctx context.Context, tx pgx.Tx, e Escalation) error
}

// DefaultMaxConns is the pool size Open uses when the URL sets no
// pool_max_conns. pgx's own default, the larger of 4 and the number of
// CPUs, leaves a server with job workers few connections: River's listener
// holds one for as long as it runs, and each running job and each webhook
// takes another.
const DefaultMaxConns = 16

// Open connects to the database at url and registers the pgvector types on
// every connection. It does not run migrations. The pool holds up to
// DefaultMaxConns connections unless url sets pool_max_conns.
func Open(ctx context.Context, url string) (*DB, error) {
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL (expected postgres://user:password@host:port/db): %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		config.MaxConns = max(config.MaxConns, DefaultMaxConns)
	}
	config.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		// The vector type exists only once the extension is created, so a
		// connection opened before the first migration goes without it.
		var present bool
		if err := conn.QueryRow(ctx, "SELECT to_regtype('vector') IS NOT NULL").Scan(&present); err != nil {
			return fmt.Errorf("look up vector type: %w", err)
		}
		if !present {
			return nil
		}
		return pgxvector.RegisterTypes(ctx, conn)
	}
	// A pooled connection whose backend was terminated, by a restart, a
	// failover or pg_terminate_backend, is dropped before a query fails
	// on it. Without this, one restart failed a query on each connection
	// of the pool, such as the storing of a reply already streamed.
	config.PrepareConn = func(ctx context.Context, conn *pgx.Conn) (bool, error) {
		return !connBroken(conn.PgConn().Conn()), nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s as %s at %s:%d: %w (check SALESAGENT_DATABASE_URL or --database-url; scripts/setup.sh creates the default database)",
			config.ConnConfig.Database, config.ConnConfig.User, config.ConnConfig.Host, config.ConnConfig.Port, err)
	}
	return &DB{Pool: pool}, nil
}

// Close closes every connection of the pool.
func (db *DB) Close() { db.Pool.Close() }

// InTx runs fn in a transaction, committing when fn returns nil.
func (db *DB) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.Pool, fn)
}

// translate turns driver errors into application errors at the store edge.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &salesagent.Error{Code: salesagent.ENOTFOUND, Message: what + " not found", Err: err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return &salesagent.Error{Code: salesagent.ECONFLICT, Message: what + " already exists", Err: err}
		case "23503", "23514", "22P02":
			return &salesagent.Error{Code: salesagent.EINVALID, Message: "invalid " + what, Err: err}
		case "22021":
			// PostgreSQL text cannot hold NUL characters.
			return &salesagent.Error{Code: salesagent.EINVALID, Message: "invalid " + what + ": it contains a NUL character; remove it and send again", Err: err}
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// OpenMigrated connects to the database at url, applies every pending
// migration and returns the store with the schema version reached.
func OpenMigrated(ctx context.Context, url string) (*DB, int64, error) {
	db, err := Open(ctx, url)
	if err != nil {
		return nil, 0, err
	}
	version, err := migrations.Up(ctx, db.Pool)
	if err != nil {
		db.Close()
		return nil, 0, err
	}
	// Connections opened before the first migration created the vector
	// extension lack its type, so the pool starts over.
	db.Close()
	db, err = Open(ctx, url)
	if err != nil {
		return nil, 0, err
	}
	return db, version, nil
}
