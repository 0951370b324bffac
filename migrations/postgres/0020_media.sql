-- [6/10] One row per stored attachment of a customer message. The bytes are sealed under the
-- contact's data key in the media store at `object_key`; `content_hash` is keyed by that same
-- key (dedup within one contact only); `sha256_enc` is the plain SHA-256 (hex), encrypted under
-- the contact's key, for the export. No file name, no caption: those stay in the message's
-- encrypted meta.
CREATE TABLE media_objects (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    contact_id   uuid NOT NULL REFERENCES contacts(id),
    message_id   uuid NOT NULL REFERENCES messages(id),
    part         integer NOT NULL,
    object_key   text NOT NULL,
    content_hash text NOT NULL,
    sha256_enc   text NOT NULL,
    mime_type    text NOT NULL,
    size_bytes   bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    UNIQUE (tenant_id, message_id, part)
);
CREATE INDEX media_objects_contact ON media_objects(tenant_id, contact_id, content_hash);
CREATE INDEX media_objects_key ON media_objects(object_key);
ALTER TABLE media_objects ENABLE ROW LEVEL SECURITY;
ALTER TABLE media_objects FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON media_objects
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());

-- A customer's attachment forwarded to an owner (purpose forward_media): which one, once per
-- owner. No foreign key: retention may delete the attachment first, and the delivery then
-- drops the forward.
ALTER TABLE owner_messages ADD COLUMN media_id uuid;
CREATE UNIQUE INDEX owner_messages_media ON owner_messages(tenant_id, owner_id, media_id) WHERE media_id IS NOT NULL;

-- Bytes of customers' files a tenant may store per UTC day, set by the operator; 0: no cap.
ALTER TABLE tenants ADD COLUMN daily_media_bytes_cap bigint NOT NULL DEFAULT 0;
