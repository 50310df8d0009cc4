-- +goose Up
-- One chunk per (product, position) and per (document, position), so the
-- indexer can replace a changed chunk in place and two indexing runs cannot
-- insert the same passage twice. These unique indexes also serve the lookups
-- by product or document that chunks_product and chunks_document served.
CREATE UNIQUE INDEX chunks_product_position ON chunks (product_id, position) WHERE product_id IS NOT NULL;
CREATE UNIQUE INDEX chunks_document_position ON chunks (document_id, position) WHERE document_id IS NOT NULL;
DROP INDEX chunks_product;
DROP INDEX chunks_document;

-- sku is set when a chunk describes one variant, so a search hit can cite it.
ALTER TABLE chunks ADD COLUMN sku text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE chunks DROP COLUMN sku;
CREATE INDEX chunks_product ON chunks (product_id);
CREATE INDEX chunks_document ON chunks (document_id);
DROP INDEX chunks_document_position;
DROP INDEX chunks_product_position;
