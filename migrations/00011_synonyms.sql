-- +goose Up
-- A shop's search synonyms: the rules of the synonyms file its team loaded,
-- one row per rule, keyed by the rule's line in that file. With outputs
-- empty, inputs are equivalent terms; otherwise a query with one of the
-- inputs also finds the outputs. Loading a file replaces all of a shop's
-- rows in one transaction.
CREATE TABLE synonym_rules (
    shop_id bigint NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    line    integer NOT NULL CHECK (line > 0),
    inputs  text[] NOT NULL CHECK (cardinality(inputs) > 0),
    outputs text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (shop_id, line),
    CHECK (cardinality(outputs) > 0 OR cardinality(inputs) > 1)
);

-- +goose Down
DROP TABLE synonym_rules;
