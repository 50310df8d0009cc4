-- +goose Up
-- A change of a conversation's status or owner is announced on the same
-- channel as new messages, so that every server process can refresh the
-- operator consoles it serves. A trigger covers every code path that
-- moves a conversation, including ones added later.
-- +goose StatementBegin
CREATE FUNCTION notify_conversation_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('salesagent_messages', json_build_object(
        'shop_id', NEW.shop_id,
        'conversation_id', NEW.id,
        'status', NEW.status,
        'owner_operator_id', NEW.owner_operator_id)::text);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER conversations_notify_change
    AFTER UPDATE OF status, owner_operator_id ON conversations
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.owner_operator_id IS DISTINCT FROM NEW.owner_operator_id)
    EXECUTE FUNCTION notify_conversation_change();

-- +goose Down
DROP TRIGGER conversations_notify_change ON conversations;
DROP FUNCTION notify_conversation_change();
