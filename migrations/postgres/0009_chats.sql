-- A group chat and a direct chat are separate conversations. The chat is fixed when the
-- conversation is created: `chat_index` is a keyed blind index of the group id (empty for the
-- customer's direct chat) and `chat_enc` the group id under the contact's key (NULL: direct).
ALTER TABLE conversations ADD COLUMN chat_index bytea NOT NULL DEFAULT '\x'::bytea;
ALTER TABLE conversations ADD COLUMN chat_enc text;
DROP INDEX conversations_open;
CREATE UNIQUE INDEX conversations_open ON conversations(tenant_id, channel_id, contact_id, chat_index) WHERE state <> 'closed';

-- Open conversations from before this migration that may mix chats (a customer message with
-- metadata, which is where a group id is kept). The group id is encrypted, so `serve` reviews
-- them at start: one chat keeps the conversation, several close it and its open ticket.
CREATE TABLE chat_reviews (
    tenant_id       uuid NOT NULL,
    conversation_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id)
);
INSERT INTO chat_reviews (tenant_id, conversation_id)
    SELECT DISTINCT c.tenant_id, c.id FROM conversations c JOIN messages m ON m.tenant_id = c.tenant_id AND m.conversation_id = c.id
    WHERE c.state <> 'closed' AND m.direction = 'in' AND m.meta_enc IS NOT NULL;

ALTER TABLE chat_reviews ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat_reviews FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON chat_reviews
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
