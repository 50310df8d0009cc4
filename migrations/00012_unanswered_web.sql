-- +goose Up
-- Finds the web conversations that took a message lately, for the sweep
-- that answers shopper messages whose turn died with its server process.
CREATE INDEX conversations_web_recent ON conversations (updated_at)
    WHERE channel = 'web' AND status IN ('open', 'escalated');

-- +goose Down
DROP INDEX conversations_web_recent;
