-- [5/10] Which approved WhatsApp template serves each purpose on a channel, per language: balas's
-- own (`balas template list`) or the tenant's, with the approval status the provider reported.
CREATE TABLE channel_templates (
    tenant_id  uuid NOT NULL REFERENCES tenants(id),
    channel_id uuid NOT NULL REFERENCES channels(id),
    purpose    text NOT NULL,
    language   text NOT NULL,
    name       text NOT NULL,
    status     text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, purpose, language)
);
ALTER TABLE channel_templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE channel_templates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON channel_templates
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
