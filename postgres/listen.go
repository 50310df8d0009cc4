package postgres

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// Back-off between attempts to reopen a listener connection.
const (
	listenMinBackoff = 500 * time.Millisecond
	listenMaxBackoff = 30 * time.Second
)

// Notification is the payload announced on NotifyChannel. A new message
// sets Seq; a change of a conversation's status or owner sets Status.
type Notification struct {
	ShopID          int64  `json:"shop_id"`
	ConversationID  int64  `json:"conversation_id"`
	Seq             int64  `json:"seq,omitempty"`
	Status          string `json:"status,omitempty"`
	OwnerOperatorID *int64 `json:"owner_operator_id,omitempty"`
}

// Listen keeps a connection of its own listening on NotifyChannel until ctx
// ends, and reopens it with jittered back-off when it fails. After every
// (re)connection it calls connected, before any notification: the caller
// catches up there on what it may have missed while no listener ran. Then
// it calls notify with each payload, one at a time, on the listening
// goroutine, so notify must not block.
func (db *DB) Listen(ctx context.Context, logger *slog.Logger, connected func(), notify func(payload string)) {
	backoff := listenMinBackoff
	for {
		err := db.listenOnce(ctx, func() {
			backoff = listenMinBackoff
			connected()
		}, notify)
		if ctx.Err() != nil {
			return
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		logger.WarnContext(ctx, "notification listener disconnected; reconnecting", "error", err, "retry_in_ms", wait.Milliseconds())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, listenMaxBackoff)
	}
}

func (db *DB) listenOnce(ctx context.Context, connected func(), notify func(payload string)) error {
	conn, err := pgx.ConnectConfig(ctx, db.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return err
	}
	connected()

	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		notify(n.Payload)
	}
}
