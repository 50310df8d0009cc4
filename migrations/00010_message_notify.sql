-- +goose Up
-- Every stored message is announced by a trigger, so that storing one
-- takes a single statement whatever the code path: the web channel's
-- append no longer needs a transaction of its own for the announcement.
-- The payload is the one the application sent before.
-- +goose StatementBegin
CREATE FUNCTION notify_new_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('salesagent_messages', json_build_object(
        'shop_id', NEW.shop_id,
        'conversation_id', NEW.conversation_id,
        'seq', NEW.seq)::text);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER messages_notify_insert
    AFTER INSERT ON messages
    FOR EACH ROW
    EXECUTE FUNCTION notify_new_message();

-- +goose Down
DROP TRIGGER messages_notify_insert ON messages;
DROP FUNCTION notify_new_message();
