-- [9/10] The sub-processors a tenant is under, and the changes announced to it. A new one is
-- recorded with its diff and an effective date at least the operator's notice period ahead; until
-- then (unless the owner accepts it earlier) it is not used for the tenant's data, and after an
-- objection it is not applied to the tenant at all. `key` is `kind:host` (or `kind:name`).
CREATE TABLE tenant_subprocessors (
    tenant_id  BLOB NOT NULL REFERENCES tenants(id),
    key        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    host       TEXT,
    since      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE TABLE subprocessor_changes (
    id            BLOB PRIMARY KEY,
    tenant_id     BLOB NOT NULL REFERENCES tenants(id),
    key           TEXT NOT NULL,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    host          TEXT,
    change        TEXT NOT NULL CHECK (change IN ('added', 'removed')),
    diff          TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'objected', 'effective')),
    announced_at  TEXT NOT NULL,
    effective_at  TEXT NOT NULL,
    decided_by    TEXT,
    decided_at    TEXT
);
CREATE INDEX subprocessor_changes_tenant ON subprocessor_changes(tenant_id, state, effective_at);
-- One open change per sub-processor: two instances syncing at once cannot announce it twice.
CREATE UNIQUE INDEX subprocessor_changes_open ON subprocessor_changes(tenant_id, key) WHERE state IN ('pending', 'accepted', 'objected');
