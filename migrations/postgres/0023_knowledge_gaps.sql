-- [9/10] The questions the bot could not answer. One row per hand-over for `unsure` or a low
-- FAQ score: the question masked and encrypted under the customer's key (erasure deletes the row,
-- retention goes with the ticket), its normalised words under the tenant's key to group similar
-- ones. `group_id` is the first gap of the group; closing a group closes all its rows.
CREATE TABLE knowledge_gaps (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    group_id        uuid NOT NULL,
    escalation_id   uuid NOT NULL REFERENCES escalations(id) ON DELETE CASCADE,
    contact_id      uuid NOT NULL,
    question_enc    text NOT NULL,
    terms_enc       text NOT NULL,
    state           text NOT NULL CHECK (state IN ('open', 'answered', 'dismissed')),
    kb_entry_id     uuid,
    closed_by       text,
    closed_at       timestamptz,
    created_at      timestamptz NOT NULL
);
CREATE INDEX knowledge_gaps_state ON knowledge_gaps(tenant_id, state, created_at);
CREATE INDEX knowledge_gaps_group ON knowledge_gaps(tenant_id, group_id);
CREATE INDEX knowledge_gaps_escalation ON knowledge_gaps(tenant_id, escalation_id);
CREATE INDEX knowledge_gaps_contact ON knowledge_gaps(tenant_id, contact_id);

-- Every version of every FAQ entry, appended on create, edit and delete: who, and from which ticket.
CREATE TABLE kb_entry_versions (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants(id),
    entry_id       uuid NOT NULL,
    version        integer NOT NULL,
    change         text NOT NULL CHECK (change IN ('created', 'updated', 'deleted')),
    question       text NOT NULL,
    answer         text NOT NULL,
    keywords       text NOT NULL,
    actor          text NOT NULL,
    escalation_id  uuid,
    created_at     timestamptz NOT NULL,
    UNIQUE (tenant_id, entry_id, version)
);
ALTER TABLE kb_entries ADD COLUMN version integer NOT NULL DEFAULT 1;

ALTER TABLE knowledge_gaps ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_gaps FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON knowledge_gaps
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
ALTER TABLE kb_entry_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE kb_entry_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kb_entry_versions
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
