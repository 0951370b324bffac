-- Per-tenant handling of media the bot cannot read, and of group messages (Fonnte);
-- encrypted metadata of media messages (type, provider media id or URL, file name).
ALTER TABLE tenants ADD COLUMN media_policy text NOT NULL DEFAULT 'reply' CHECK (media_policy IN ('reply', 'escalate'));
ALTER TABLE tenants ADD COLUMN answer_groups boolean NOT NULL DEFAULT false;
ALTER TABLE messages ADD COLUMN meta_enc text;
