-- [9/10] The sub-processors a tenant is under, and the changes announced to it. A new one is
-- recorded with its diff and an effective date at least the operator's notice period ahead; until
-- then (unless the owner accepts it earlier) it is not used for the tenant's data, and after an
-- objection it is not applied to the tenant at all. `key` is `kind:host` (or `kind:name`).
CREATE TABLE tenant_subprocessors (
    tenant_id  uuid NOT NULL REFERENCES tenants(id),
    key        text NOT NULL,
    kind       text NOT NULL,
    name       text NOT NULL,
    host       text,
    since      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE TABLE subprocessor_changes (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants(id),
    key           text NOT NULL,
    kind          text NOT NULL,
    name          text NOT NULL,
    host          text,
    change        text NOT NULL CHECK (change IN ('added', 'removed')),
    diff          text NOT NULL,
    state         text NOT NULL CHECK (state IN ('pending', 'accepted', 'objected', 'effective')),
    announced_at  timestamptz NOT NULL,
    effective_at  timestamptz NOT NULL,
    decided_by    text,
    decided_at    timestamptz
);
CREATE INDEX subprocessor_changes_tenant ON subprocessor_changes(tenant_id, state, effective_at);
-- One open change per sub-processor: two instances syncing at once cannot announce it twice.
CREATE UNIQUE INDEX subprocessor_changes_open ON subprocessor_changes(tenant_id, key) WHERE state IN ('pending', 'accepted', 'objected');
ALTER TABLE tenant_subprocessors ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_subprocessors FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_subprocessors
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
ALTER TABLE subprocessor_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE subprocessor_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON subprocessor_changes
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
