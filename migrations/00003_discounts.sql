-- +goose Up
-- A discount code granted by the agent's apply_discount tool. A
-- conversation gets at most one, so a shopper cannot collect codes by
-- asking again.
CREATE TABLE discounts (
    id              bigserial PRIMARY KEY,
    shop_id         bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    customer_id     bigint REFERENCES customers (id) ON DELETE SET NULL,
    code            text NOT NULL,
    percent         numeric(5, 2) NOT NULL CHECK (percent > 0 AND percent <= 100),
    reason          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id),
    UNIQUE (shop_id, code)
);

-- +goose Down
DROP TABLE discounts;
