-- Owner-API users, staff PINs (hashed, kept apart from passwords), revoked tokens, and the
-- slug → tenant route that login needs before a tenant is known.
CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    tenant_id     BLOB NOT NULL REFERENCES tenants(id),
    -- HMAC blind index of the lowercased e-mail (login lookup) and the e-mail under the tenant key.
    email_index   BLOB NOT NULL,
    email_enc     TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'staff', 'analytics')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    disabled_at   TEXT,
    UNIQUE (tenant_id, email_index)
);

CREATE TABLE staff_pins (
    user_id      BLOB PRIMARY KEY REFERENCES users(id),
    tenant_id    BLOB NOT NULL REFERENCES tenants(id),
    pin_hash     TEXT NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    updated_at   TEXT NOT NULL
);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants(id),
    revoked_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Login names a tenant by slug before any tenant scope exists: no personal data here.
CREATE TABLE tenant_routes (
    slug      TEXT PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id)
);
INSERT INTO tenant_routes (slug, tenant_id) SELECT slug, id FROM tenants;
