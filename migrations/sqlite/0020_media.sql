-- [6/10] One row per stored attachment of a customer message. The bytes are sealed under the
-- contact's data key in the media store at `object_key`; `content_hash` is keyed by that same
-- key (dedup within one contact only); `sha256_enc` is the plain SHA-256 (hex), encrypted under
-- the contact's key, for the export. No file name, no caption: those stay in the message's
-- encrypted meta.
CREATE TABLE media_objects (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id),
    contact_id   BLOB NOT NULL REFERENCES contacts(id),
    message_id   BLOB NOT NULL REFERENCES messages(id),
    part         INTEGER NOT NULL,
    object_key   TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    sha256_enc   TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (tenant_id, message_id, part)
);
CREATE INDEX media_objects_contact ON media_objects(tenant_id, contact_id, content_hash);
CREATE INDEX media_objects_key ON media_objects(object_key);

-- A customer's attachment forwarded to an owner (purpose forward_media): which one, once per
-- owner. No foreign key: retention may delete the attachment first, and the delivery then
-- drops the forward.
ALTER TABLE owner_messages ADD COLUMN media_id BLOB;
CREATE UNIQUE INDEX owner_messages_media ON owner_messages(tenant_id, owner_id, media_id) WHERE media_id IS NOT NULL;

-- Bytes of customers' files a tenant may store per UTC day, set by the operator; 0: no cap.
ALTER TABLE tenants ADD COLUMN daily_media_bytes_cap INTEGER NOT NULL DEFAULT 0;
