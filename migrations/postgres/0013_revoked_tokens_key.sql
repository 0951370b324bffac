-- Revoked token ids are keyed per tenant, like every other tenant row: (tenant_id, jti) instead
-- of a global jti. Only the constraint changes: the table, its grants and its tenant_isolation
-- RLS policy (0005) stay as they are.
ALTER TABLE revoked_tokens DROP CONSTRAINT revoked_tokens_pkey;
ALTER TABLE revoked_tokens ADD PRIMARY KEY (tenant_id, jti);
