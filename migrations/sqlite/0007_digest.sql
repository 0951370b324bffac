-- The owner's daily digest: local time of day (HH:MM in the tenant's zone); empty switches it off.
ALTER TABLE tenants ADD COLUMN digest_time TEXT NOT NULL DEFAULT '07:00';
CREATE INDEX messages_tenant_created ON messages(tenant_id, created_at);
CREATE INDEX escalations_tenant_opened ON escalations(tenant_id, opened_at);
