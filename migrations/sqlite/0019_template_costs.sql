-- [5/10] One row per WhatsApp template that went out: what analytics counts by category and
-- purpose, and what the tenant's monthly cap bounds. No recipient, no text, no parameters.
CREATE TABLE template_sends (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants(id),
    channel_id BLOB NOT NULL REFERENCES channels(id),
    purpose    TEXT NOT NULL,
    category   TEXT NOT NULL,
    sent_at    TEXT NOT NULL
);
CREATE INDEX template_sends_sent ON template_sends(tenant_id, sent_at);

-- Templates a tenant may send per calendar month (UTC), set by the operator; 0: no cap.
ALTER TABLE tenants ADD COLUMN monthly_template_cap INTEGER NOT NULL DEFAULT 0;
