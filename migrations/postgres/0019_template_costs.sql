-- [5/10] One row per WhatsApp template that went out: what analytics counts by category and
-- purpose, and what the tenant's monthly cap bounds. No recipient, no text, no parameters.
CREATE TABLE template_sends (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants(id),
    channel_id uuid NOT NULL REFERENCES channels(id),
    purpose    text NOT NULL,
    category   text NOT NULL,
    sent_at    timestamptz NOT NULL
);
CREATE INDEX template_sends_sent ON template_sends(tenant_id, sent_at);
ALTER TABLE template_sends ENABLE ROW LEVEL SECURITY;
ALTER TABLE template_sends FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON template_sends
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());

-- Templates a tenant may send per calendar month (UTC), set by the operator; 0: no cap.
ALTER TABLE tenants ADD COLUMN monthly_template_cap bigint NOT NULL DEFAULT 0;
