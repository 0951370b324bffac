-- Revoked token ids are keyed per tenant, like every other tenant row: (tenant_id, jti) instead
-- of a global jti. SQLite cannot change a primary key in place, so the table is rebuilt (no
-- index, trigger or view refers to it).
CREATE TABLE revoked_tokens_new (
    jti        TEXT NOT NULL,
    tenant_id  BLOB NOT NULL REFERENCES tenants(id),
    revoked_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
INSERT INTO revoked_tokens_new (jti, tenant_id, revoked_at, expires_at)
    SELECT jti, tenant_id, revoked_at, expires_at FROM revoked_tokens;
DROP TABLE revoked_tokens;
ALTER TABLE revoked_tokens_new RENAME TO revoked_tokens;
