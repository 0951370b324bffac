-- [5/10] Which approved WhatsApp template serves each purpose on a channel, per language: balas's
-- own (`balas template list`) or the tenant's, with the approval status the provider reported.
CREATE TABLE channel_templates (
    tenant_id  BLOB NOT NULL REFERENCES tenants(id),
    channel_id BLOB NOT NULL REFERENCES channels(id),
    purpose    TEXT NOT NULL,
    language   TEXT NOT NULL,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, purpose, language)
);
