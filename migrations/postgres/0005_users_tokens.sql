-- Owner-API users, staff PINs (hashed, kept apart from passwords), revoked tokens, and the
-- slug → tenant route that login needs before a tenant is known.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants(id),
    -- HMAC blind index of the lowercased e-mail (login lookup) and the e-mail under the tenant key.
    email_index   bytea NOT NULL,
    email_enc     text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'staff', 'analytics')),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL,
    disabled_at   timestamptz,
    UNIQUE (tenant_id, email_index)
);

CREATE TABLE staff_pins (
    user_id      uuid PRIMARY KEY REFERENCES users(id),
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    pin_hash     text NOT NULL,
    failures     integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE revoked_tokens (
    jti        text PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants(id),
    revoked_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Login names a tenant by slug before any tenant scope exists: no personal data, hence no RLS.
CREATE TABLE tenant_routes (
    slug      text PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id)
);
INSERT INTO tenant_routes (slug, tenant_id) SELECT slug, id FROM tenants;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
ALTER TABLE staff_pins ENABLE ROW LEVEL SECURITY;
ALTER TABLE staff_pins FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON staff_pins
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
ALTER TABLE revoked_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE revoked_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON revoked_tokens
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
