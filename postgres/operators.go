package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// Operator roles. Both roles reply to shoppers in the console. An admin
// also manages the shop's operators and may hand back or resolve a
// conversation that another operator holds.
const (
	OperatorRoleAdmin    = "admin"
	OperatorRoleOperator = "operator"
)

// Operator is a member of a shop's team who replies to shoppers in the
// console.
type Operator struct {
	ID     int64  `json:"id"`
	ShopID int64  `json:"shop_id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	// PasswordHash is the bcrypt hash of the operator's password.
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// OperatorSession is a signed-in console session.
type OperatorSession struct {
	Operator  *Operator
	CSRFToken string
	ExpiresAt time.Time
}

const operatorColumns = `o.id, o.shop_id, o.email, o.name, o.role, o.password_hash, o.created_at`

func scanOperator(row pgx.Row, extra ...any) (*Operator, error) {
	var o Operator
	dest := append([]any{&o.ID, &o.ShopID, &o.Email, &o.Name, &o.Role, &o.PasswordHash, &o.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return &o, nil
}

// CreateOperator adds an operator to the shop. An email already used in the
// shop, compared case-insensitively, is an ECONFLICT error.
func (db *DB) CreateOperator(ctx context.Context, shopID int64, email, name, role, passwordHash string) (*Operator, error) {
	o, err := scanOperator(db.Pool.QueryRow(ctx, `
		INSERT INTO operators AS o (shop_id, email, name, role, password_hash) VALUES ($1, $2, $3, $4, $5)
		RETURNING `+operatorColumns, shopID, strings.TrimSpace(email), name, role, passwordHash))
	if err != nil {
		return nil, translate(err, fmt.Sprintf("operator %s", email))
	}
	return o, nil
}

// OperatorByEmail returns the shop's operator with the email, compared
// case-insensitively.
func (db *DB) OperatorByEmail(ctx context.Context, shopID int64, email string) (*Operator, error) {
	o, err := scanOperator(db.Pool.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators o
		WHERE o.shop_id = $1 AND lower(o.email) = lower($2)`, shopID, strings.TrimSpace(email)))
	if err != nil {
		return nil, translate(err, fmt.Sprintf("operator %s", email))
	}
	return o, nil
}

// OperatorByID returns one of the shop's operators.
func (db *DB) OperatorByID(ctx context.Context, shopID, id int64) (*Operator, error) {
	o, err := scanOperator(db.Pool.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators o
		WHERE o.shop_id = $1 AND o.id = $2`, shopID, id))
	if err != nil {
		return nil, translate(err, fmt.Sprintf("operator %d", id))
	}
	return o, nil
}

// ListOperators returns the shop's operators, by name.
func (db *DB) ListOperators(ctx context.Context, shopID int64) ([]*Operator, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+operatorColumns+` FROM operators o WHERE o.shop_id = $1 ORDER BY lower(o.name), o.id`, shopID)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	ops, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Operator, error) { return scanOperator(row) })
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return ops, nil
}

// DeleteOperator removes one of the shop's operators with their sessions.
// Conversations they held go back to the queue (status escalated), so
// that another operator replies to them. Each gets notice, a public system
// message passed through after, and the escalation hook. Removing the
// shop's last admin is an ECONFLICT error.
func (db *DB) DeleteOperator(ctx context.Context, shopID, id int64, notice string, after AfterStore) error {
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		// Locking the shop's admins serialises concurrent removals.
		rows, err := tx.Query(ctx, `SELECT o.role FROM operators o WHERE o.shop_id = $1 AND o.role = 'admin' FOR UPDATE`, shopID)
		if err != nil {
			return fmt.Errorf("lock admins: %w", err)
		}
		admins, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("lock admins: %w", err)
		}
		var role string
		if err := tx.QueryRow(ctx, `SELECT o.role FROM operators o WHERE o.shop_id = $1 AND o.id = $2`, shopID, id).Scan(&role); err != nil {
			return translate(err, fmt.Sprintf("operator %d", id))
		}
		if role == OperatorRoleAdmin && len(admins) <= 1 {
			return salesagent.Errorf(salesagent.ECONFLICT, "operator %d is the shop's last admin: make another operator admin first (salesagent operator set --role admin)", id)
		}

		rows, err = tx.Query(ctx, `UPDATE conversations SET status = 'escalated', owner_operator_id = NULL, updated_at = now()
			WHERE shop_id = $1 AND owner_operator_id = $2 AND status = 'operator' RETURNING `+conversationColumns, shopID, id)
		if err != nil {
			return fmt.Errorf("requeue held conversations: %w", err)
		}
		held, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*salesagent.Conversation, error) { return scanConversation(row) })
		if err != nil {
			return fmt.Errorf("requeue held conversations: %w", err)
		}
		for _, conv := range held {
			if err := db.requeue(ctx, tx, conv, notice, after); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM operators WHERE shop_id = $1 AND id = $2`, shopID, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete operator %d: %w", id, err)
	}
	return nil
}

// requeue stores notice in a conversation put back in the queue and runs
// the escalation hook for it.
func (db *DB) requeue(ctx context.Context, tx pgx.Tx, conv *salesagent.Conversation, notice string, after AfterStore) error {
	stored, _, err := appendMessage(ctx, tx, conv.ShopID, salesagent.Message{
		ConversationID: conv.ID, Role: salesagent.RoleSystem, Body: notice,
	})
	if err != nil {
		return err
	}
	if err := after.run(ctx, tx, conv, stored); err != nil {
		return err
	}
	if db.OnEscalate == nil {
		return nil
	}
	return db.OnEscalate(ctx, tx, Escalation{ShopID: conv.ShopID, ConversationID: conv.ID, Reason: "the operator who held it was removed"})
}

// OperatorChange is the set of changes UpdateOperator applies. Nil fields
// stay as they are.
type OperatorChange struct {
	Role         *string
	PasswordHash *string
}

// UpdateOperator changes the role or password of the shop's operator with
// the email. A new password ends the operator's sessions. Making the shop's
// last admin an operator is an ECONFLICT error.
func (db *DB) UpdateOperator(ctx context.Context, shopID int64, email string, change OperatorChange) (*Operator, error) {
	var op *Operator
	err := db.InTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT o.id FROM operators o WHERE o.shop_id = $1 AND o.role = 'admin' FOR UPDATE`, shopID)
		if err != nil {
			return fmt.Errorf("lock admins: %w", err)
		}
		admins, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("lock admins: %w", err)
		}
		op, err = scanOperator(tx.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators o
			WHERE o.shop_id = $1 AND lower(o.email) = lower($2) FOR UPDATE`, shopID, strings.TrimSpace(email)))
		if err != nil {
			return translate(err, fmt.Sprintf("operator %s", email))
		}
		if change.Role != nil && *change.Role != OperatorRoleAdmin && op.Role == OperatorRoleAdmin && len(admins) <= 1 {
			return salesagent.Errorf(salesagent.ECONFLICT, "operator %s is the shop's last admin: make another operator admin first", email)
		}
		if change.Role != nil {
			op.Role = *change.Role
		}
		if change.PasswordHash != nil {
			op.PasswordHash = *change.PasswordHash
			if _, err := tx.Exec(ctx, `DELETE FROM operator_sessions WHERE operator_id = $1`, op.ID); err != nil {
				return fmt.Errorf("end sessions: %w", err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE operators SET role = $2, password_hash = $3, updated_at = now() WHERE id = $1`, op.ID, op.Role, op.PasswordHash)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update operator %s: %w", email, err)
	}
	return op, nil
}

// CreateOperatorSession stores a session under the SHA-256 of its token.
func (db *DB) CreateOperatorSession(ctx context.Context, op *Operator, tokenHash []byte, csrfToken string, expiresAt time.Time) error {
	_, err := db.Pool.Exec(ctx, `INSERT INTO operator_sessions (token_hash, shop_id, operator_id, csrf_token, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, tokenHash, op.ShopID, op.ID, csrfToken, expiresAt)
	return translate(err, "operator session")
}

// OperatorSessionByToken returns the unexpired session stored under the
// token's SHA-256, with its operator.
func (db *DB) OperatorSessionByToken(ctx context.Context, tokenHash []byte) (*OperatorSession, error) {
	var s OperatorSession
	o, err := scanOperator(db.Pool.QueryRow(ctx, `SELECT `+operatorColumns+`, s.csrf_token, s.expires_at
		FROM operator_sessions s JOIN operators o ON o.id = s.operator_id AND o.shop_id = s.shop_id
		WHERE s.token_hash = $1 AND s.expires_at > now()`, tokenHash), &s.CSRFToken, &s.ExpiresAt)
	if err != nil {
		return nil, translate(err, "operator session")
	}
	s.Operator = o
	return &s, nil
}

// DeleteOperatorSession removes the session stored under the token's
// SHA-256, if any.
func (db *DB) DeleteOperatorSession(ctx context.Context, tokenHash []byte) error {
	_, err := db.Pool.Exec(ctx, `DELETE FROM operator_sessions WHERE token_hash = $1`, tokenHash)
	return translate(err, "operator session")
}

// DeleteExpiredOperatorSessions removes every expired session and returns
// how many it removed.
func (db *DB) DeleteExpiredOperatorSessions(ctx context.Context) (int64, error) {
	tag, err := db.Pool.Exec(ctx, `DELETE FROM operator_sessions WHERE expires_at <= now()`)
	if err != nil {
		return 0, fmt.Errorf("delete expired operator sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
