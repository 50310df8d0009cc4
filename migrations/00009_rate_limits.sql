-- +goose Up
-- Token buckets shared by every server process, such as the console's
-- login limit, so that running more processes does not allow more
-- attempts. key is a hash, so the table holds no emails or addresses.
CREATE TABLE rate_limits (
    key        bytea PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX rate_limits_updated ON rate_limits (updated_at);

-- +goose Down
DROP TABLE rate_limits;
