-- +goose Up
-- A WhatsApp shopper has one conversation that is not resolved at a time,
-- so concurrent webhooks for a new number open a single conversation.
CREATE UNIQUE INDEX conversations_whatsapp_open ON conversations (shop_id, customer_id)
    WHERE channel = 'whatsapp' AND status <> 'resolved' AND customer_id IS NOT NULL;

-- Every message a shopper sent to a shop's WhatsApp number, once. Meta
-- redelivers a webhook until it gets a 200, so the unique wamid makes a
-- redelivery a no-op. sent_at is Meta's timestamp of the message, from
-- which the 24-hour customer service window runs. turn_state tracks the
-- agent's turn for the message: none for messages that get no reply, such
-- as reactions, then pending until the turn's reply is queued for sending.
CREATE TABLE whatsapp_inbound (
    id              bigserial PRIMARY KEY,
    shop_id         bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    wamid           text NOT NULL,
    wa_id           text NOT NULL,
    customer_id     bigint REFERENCES customers (id) ON DELETE SET NULL,
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_seq     integer,
    type            text NOT NULL,
    -- intent is the id of the tapped reply button or list row, or what the
    -- channel made of the message: opt_out for STOP, opt_in for START, or
    -- attachment for something without text that the agent cannot read.
    intent          text NOT NULL DEFAULT '',
    -- product_handle is the product a tapped button or row was about.
    product_handle  text NOT NULL DEFAULT '',
    data            jsonb NOT NULL DEFAULT '{}',
    turn_state      text NOT NULL DEFAULT 'none' CHECK (turn_state IN ('none', 'pending', 'done', 'failed')),
    sent_at         timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, wamid)
);
CREATE INDEX whatsapp_inbound_window ON whatsapp_inbound (shop_id, wa_id, sent_at) WHERE type <> 'reaction';
CREATE INDEX whatsapp_inbound_pending ON whatsapp_inbound (conversation_id, message_seq) WHERE turn_state = 'pending';
CREATE INDEX whatsapp_inbound_product ON whatsapp_inbound (conversation_id, id) WHERE product_handle <> '';

-- Every message the shop sends to a WhatsApp number, stored before it is
-- sent under a key unique per shop, such as "reply:<message id>:<part>",
-- so a retried job finds the row and sends nothing twice. wamid is Meta's
-- id of the sent message, which status webhooks name. status only moves
-- forward: pending, sending, sent, delivered, read, or failed with Meta's
-- error code and title.
CREATE TABLE whatsapp_outbound (
    id              bigserial PRIMARY KEY,
    shop_id         bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    customer_id     bigint REFERENCES customers (id) ON DELETE SET NULL,
    message_id      bigint REFERENCES messages (id) ON DELETE SET NULL,
    key             text NOT NULL,
    wa_id           text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('text', 'interactive', 'template')),
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'read', 'failed')),
    wamid           text,
    attempts        integer NOT NULL DEFAULT 0,
    error_code      integer,
    error_title     text NOT NULL DEFAULT '',
    error_detail    text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    status_at       timestamptz,
    UNIQUE (shop_id, key)
);
CREATE UNIQUE INDEX whatsapp_outbound_wamid ON whatsapp_outbound (shop_id, wamid) WHERE wamid IS NOT NULL;
CREATE INDEX whatsapp_outbound_unsent ON whatsapp_outbound (conversation_id, id) WHERE status IN ('pending', 'sending');

-- +goose Down
DROP TABLE whatsapp_outbound, whatsapp_inbound;
DROP INDEX conversations_whatsapp_open;
