-- [9/10] The questions the bot could not answer. One row per hand-over for `unsure` or a low
-- FAQ score: the question masked and encrypted under the customer's key (erasure deletes the row,
-- retention goes with the ticket), its normalised words under the tenant's key to group similar
-- ones. `group_id` is the first gap of the group; closing a group closes all its rows.
CREATE TABLE knowledge_gaps (
    id              BLOB PRIMARY KEY,
    tenant_id       BLOB NOT NULL REFERENCES tenants(id),
    group_id        BLOB NOT NULL,
    escalation_id   BLOB NOT NULL REFERENCES escalations(id) ON DELETE CASCADE,
    contact_id      BLOB NOT NULL,
    question_enc    TEXT NOT NULL,
    terms_enc       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('open', 'answered', 'dismissed')),
    kb_entry_id     BLOB,
    closed_by       TEXT,
    closed_at       TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX knowledge_gaps_state ON knowledge_gaps(tenant_id, state, created_at);
CREATE INDEX knowledge_gaps_group ON knowledge_gaps(tenant_id, group_id);
CREATE INDEX knowledge_gaps_escalation ON knowledge_gaps(tenant_id, escalation_id);
CREATE INDEX knowledge_gaps_contact ON knowledge_gaps(tenant_id, contact_id);

-- Every version of every FAQ entry, appended on create, edit and delete: who, and from which ticket.
CREATE TABLE kb_entry_versions (
    id             BLOB PRIMARY KEY,
    tenant_id      BLOB NOT NULL REFERENCES tenants(id),
    entry_id       BLOB NOT NULL,
    version        INTEGER NOT NULL,
    change         TEXT NOT NULL CHECK (change IN ('created', 'updated', 'deleted')),
    question       TEXT NOT NULL,
    answer         TEXT NOT NULL,
    keywords       TEXT NOT NULL,
    actor          TEXT NOT NULL,
    escalation_id  BLOB,
    created_at     TEXT NOT NULL,
    UNIQUE (tenant_id, entry_id, version)
);
ALTER TABLE kb_entries ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

