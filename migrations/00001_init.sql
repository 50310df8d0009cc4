-- +goose Up
CREATE EXTENSION IF NOT EXISTS vector;

-- A shop is one tenant: one store with its own catalog, documents, shoppers
-- and settings. Every shop-owned table below carries shop_id.
CREATE TABLE shops (
    id              bigserial PRIMARY KEY,
    slug            text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name            text NOT NULL,
    widget_key      text NOT NULL UNIQUE,
    allowed_origins text[] NOT NULL DEFAULT '{}',
    currency        text NOT NULL DEFAULT 'USD',
    embedder        text NOT NULL DEFAULT 'local-hash-384',
    settings        jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id           bigserial PRIMARY KEY,
    shop_id      bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    external_id  text NOT NULL,
    handle       text NOT NULL,
    title        text NOT NULL,
    description  text NOT NULL DEFAULT '',
    product_type text NOT NULL DEFAULT '',
    vendor       text NOT NULL DEFAULT '',
    tags         text[] NOT NULL DEFAULT '{}',
    image_url    text NOT NULL DEFAULT '',
    attributes   jsonb NOT NULL DEFAULT '{}',
    content_hash text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, external_id)
);
CREATE UNIQUE INDEX products_shop_handle ON products (shop_id, handle);

-- A variant is one buyable item: options such as size and colour, a price and
-- stock. stock is NULL when the store does not track inventory for it.
CREATE TABLE variants (
    id               bigserial PRIMARY KEY,
    shop_id          bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    product_id       bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    external_id      text NOT NULL,
    sku              text NOT NULL,
    title            text NOT NULL DEFAULT '',
    options          jsonb NOT NULL DEFAULT '{}',
    price            numeric(12, 2) NOT NULL CHECK (price >= 0),
    compare_at_price numeric(12, 2),
    stock            integer,
    available        boolean NOT NULL DEFAULT true,
    position         integer NOT NULL DEFAULT 0,
    UNIQUE (shop_id, sku)
);
CREATE INDEX variants_product ON variants (product_id);

-- Documents are FAQ entries, policies, size guides and store pages. Each is
-- cut into chunks for retrieval.
CREATE TABLE documents (
    id           bigserial PRIMARY KEY,
    shop_id      bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('faq', 'policy', 'size_guide', 'page')),
    source       text NOT NULL,
    key          text NOT NULL,
    title        text NOT NULL,
    product_type text NOT NULL DEFAULT '',
    body         text NOT NULL,
    data         jsonb NOT NULL DEFAULT '{}',
    content_hash text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, kind, key)
);

-- A chunk is the unit of retrieval: a product summary or a document passage.
CREATE TABLE chunks (
    id           bigserial PRIMARY KEY,
    shop_id      bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    product_id   bigint REFERENCES products (id) ON DELETE CASCADE,
    document_id  bigint REFERENCES documents (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('product', 'faq', 'policy', 'size_guide', 'page')),
    heading      text NOT NULL DEFAULT '',
    content      text NOT NULL,
    product_type text NOT NULL DEFAULT '',
    position     integer NOT NULL DEFAULT 0,
    content_hash text NOT NULL,
    tsv          tsvector GENERATED ALWAYS AS (
                     setweight(to_tsvector('english', heading), 'A') ||
                     setweight(to_tsvector('english', content), 'B')) STORED,
    CHECK ((product_id IS NULL) <> (document_id IS NULL))
);
CREATE INDEX chunks_shop_kind ON chunks (shop_id, kind);
CREATE INDEX chunks_product ON chunks (product_id);
CREATE INDEX chunks_document ON chunks (document_id);
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);

-- Embeddings of one chunk by several embedders can coexist, so a shop can
-- switch embedder while search keeps serving from the old vectors. The vector
-- column has no fixed dimension; each embedder gets a partial HNSW index on an
-- expression cast to its own dimension (see retrieval).
CREATE TABLE embeddings (
    chunk_id     bigint NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    shop_id      bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    embedder     text NOT NULL,
    content_hash text NOT NULL,
    embedding    vector NOT NULL,
    PRIMARY KEY (chunk_id, embedder)
);
CREATE INDEX embeddings_local_hash_384 ON embeddings
    USING hnsw ((embedding::vector(384)) vector_cosine_ops)
    WITH (m = 16, ef_construction = 64)
    WHERE embedder = 'local-hash-384';

CREATE TABLE customers (
    id          bigserial PRIMARY KEY,
    shop_id     bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    external_id text,
    email       text,
    name        text NOT NULL DEFAULT '',
    phone       text,
    wa_id       text,
    profile     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_shop_external ON customers (shop_id, external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX customers_shop_email ON customers (shop_id, lower(email)) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX customers_shop_wa ON customers (shop_id, wa_id) WHERE wa_id IS NOT NULL;

CREATE TABLE orders (
    id           bigserial PRIMARY KEY,
    shop_id      bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id  bigint REFERENCES customers (id) ON DELETE SET NULL,
    number       text NOT NULL,
    status       text NOT NULL,
    items        jsonb NOT NULL DEFAULT '[]',
    fulfillments jsonb NOT NULL DEFAULT '[]',
    total        numeric(12, 2),
    placed_at    timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop_id, number)
);
CREATE INDEX orders_customer ON orders (customer_id);

-- A visitor is one browser (or WhatsApp number) talking to a shop. Only the
-- SHA-256 of the widget's visitor token is stored.
CREATE TABLE conversations (
    id                 bigserial PRIMARY KEY,
    shop_id            bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id        bigint REFERENCES customers (id) ON DELETE SET NULL,
    channel            text NOT NULL CHECK (channel IN ('web', 'whatsapp', 'cli')),
    visitor_token_hash bytea,
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'escalated', 'operator', 'resolved')),
    last_seq           integer NOT NULL DEFAULT 0,
    context            jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX conversations_visitor ON conversations (shop_id, visitor_token_hash) WHERE visitor_token_hash IS NOT NULL;

-- Messages are numbered per conversation by seq, so a reconnecting widget asks
-- for everything after the last seq it has. client_id makes a shopper's resend
-- of the same message a no-op.
CREATE TABLE messages (
    id              bigserial PRIMARY KEY,
    shop_id         bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             integer NOT NULL,
    role            text NOT NULL CHECK (role IN ('shopper', 'agent', 'operator', 'system')),
    body            text NOT NULL,
    cards           jsonb NOT NULL DEFAULT '[]',
    citations       jsonb NOT NULL DEFAULT '[]',
    client_id       text,
    reply_to        integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE carts (
    id              bigserial PRIMARY KEY,
    shop_id         bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    token           text NOT NULL UNIQUE,
    conversation_id bigint REFERENCES conversations (id) ON DELETE SET NULL,
    customer_id     bigint REFERENCES customers (id) ON DELETE SET NULL,
    items           jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Outcomes, append-only: what the agent recognised and did in each turn.
CREATE TABLE events (
    id              bigserial PRIMARY KEY,
    shop_id         bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    conversation_id bigint REFERENCES conversations (id) ON DELETE CASCADE,
    customer_id     bigint REFERENCES customers (id) ON DELETE CASCADE,
    type            text NOT NULL,
    data            jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_conversation ON events (conversation_id, id);
CREATE INDEX events_shop_type ON events (shop_id, type, created_at);

-- +goose StatementBegin
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER events_append_only BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

-- +goose Down
DROP TABLE events, carts, messages, conversations, orders, customers,
    embeddings, chunks, documents, variants, products, shops;
DROP FUNCTION events_append_only();
