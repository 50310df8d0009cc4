-- +goose Up
-- Operators are the shop's people who answer escalated conversations in the
-- console. Passwords are stored as bcrypt hashes; sessions store only the
-- SHA-256 of their random token.
CREATE TABLE operators (
    id            bigserial PRIMARY KEY,
    shop_id       bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    email         text NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'operator')),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX operators_shop_email ON operators (shop_id, lower(email));

CREATE TABLE operator_sessions (
    token_hash  bytea PRIMARY KEY,
    shop_id     bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    operator_id bigint NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);

-- At most one operator holds a conversation: the one in owner_operator_id,
-- set while the status is 'operator'.
ALTER TABLE conversations ADD COLUMN owner_operator_id bigint REFERENCES operators (id) ON DELETE SET NULL;
CREATE INDEX conversations_shop_status ON conversations (shop_id, status, updated_at);

-- Internal messages are operators' notes, never sent to the shopper.
ALTER TABLE messages ADD COLUMN visibility text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'internal'));
ALTER TABLE messages ADD COLUMN operator_id bigint REFERENCES operators (id) ON DELETE SET NULL;

-- +goose Down
ALTER TABLE messages DROP COLUMN operator_id, DROP COLUMN visibility;
DROP INDEX conversations_shop_status;
ALTER TABLE conversations DROP COLUMN owner_operator_id;
DROP TABLE operator_sessions, operators;
