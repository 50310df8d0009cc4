-- +goose Up
-- pending_embedder is the embedder a shop is switching to. Background jobs
-- embed the shop's chunks with it while search keeps using embedder; when
-- every chunk has a current vector by pending_embedder, the last job moves
-- it into embedder and clears it in one UPDATE. NULL means no switch.
ALTER TABLE shops ADD COLUMN pending_embedder text
    CHECK (pending_embedder <> embedder);

-- +goose Down
ALTER TABLE shops DROP COLUMN pending_embedder;
