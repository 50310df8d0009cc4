-- +goose Up
-- Language model usage of each agent turn, stored beside the agent's
-- reply, so cost can be summed per turn, conversation and shop.
CREATE TABLE turn_usage (
    id                bigserial PRIMARY KEY,
    shop_id           bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    conversation_id   bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id        bigint NOT NULL UNIQUE REFERENCES messages (id) ON DELETE CASCADE,
    model             text NOT NULL,
    requests          integer NOT NULL CHECK (requests >= 0),
    prompt_tokens     integer NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens integer NOT NULL CHECK (completion_tokens >= 0),
    -- estimated is set when the model's server reported no usage.
    estimated         boolean NOT NULL DEFAULT false,
    cost_usd          numeric(14, 6) NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX turn_usage_conversation ON turn_usage (conversation_id);
CREATE INDEX turn_usage_shop_created ON turn_usage (shop_id, created_at);

-- +goose Down
DROP TABLE turn_usage;
