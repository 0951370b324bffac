-- balas schema for SQLite. Times are TEXT in fixed-width RFC 3339 (microseconds, Z), so
-- they compare correctly as strings; ids are 16-byte UUID blobs.

CREATE TABLE tenants (
    id          BLOB PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    language    TEXT NOT NULL DEFAULT 'id',
    status      TEXT NOT NULL DEFAULT 'active',
    wrapped_key TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE channels (
    id          BLOB PRIMARY KEY,
    tenant_id   BLOB NOT NULL REFERENCES tenants(id),
    provider    TEXT NOT NULL,
    address     TEXT NOT NULL,
    secrets_enc TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX channels_tenant ON channels(tenant_id);

-- Routing before the tenant is known: no personal data here.
CREATE TABLE channel_routes (
    channel_id BLOB PRIMARY KEY REFERENCES channels(id),
    tenant_id  BLOB NOT NULL REFERENCES tenants(id),
    provider   TEXT NOT NULL
);

CREATE TABLE kb_entries (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants(id),
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    keywords   TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX kb_entries_tenant ON kb_entries(tenant_id);

CREATE TABLE contacts (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id),
    wrapped_key  TEXT NOT NULL,
    bsuid_index  BLOB,
    phone_index  BLOB,
    bsuid_enc    TEXT,
    phone_enc    TEXT,
    username_enc TEXT,
    name_enc     TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX contacts_bsuid ON contacts(tenant_id, bsuid_index) WHERE bsuid_index IS NOT NULL;
CREATE UNIQUE INDEX contacts_phone ON contacts(tenant_id, phone_index) WHERE phone_index IS NOT NULL;

CREATE TABLE conversations (
    id                BLOB PRIMARY KEY,
    tenant_id         BLOB NOT NULL REFERENCES tenants(id),
    channel_id        BLOB NOT NULL REFERENCES channels(id),
    contact_id        BLOB NOT NULL REFERENCES contacts(id),
    state             TEXT NOT NULL,
    escalation_reason TEXT,
    last_inbound_at   TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE UNIQUE INDEX conversations_open ON conversations(tenant_id, channel_id, contact_id) WHERE state <> 'closed';

CREATE TABLE messages (
    id                  BLOB PRIMARY KEY,
    tenant_id           BLOB NOT NULL REFERENCES tenants(id),
    channel_id          BLOB NOT NULL REFERENCES channels(id),
    conversation_id     BLOB NOT NULL REFERENCES conversations(id),
    contact_id          BLOB NOT NULL REFERENCES contacts(id),
    direction           TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    author              TEXT NOT NULL,
    kind                TEXT NOT NULL,
    body_enc            TEXT,
    provider_message_id TEXT,
    reply_to            BLOB REFERENCES messages(id),
    part                INTEGER NOT NULL DEFAULT 0,
    status              TEXT NOT NULL,
    status_rank         INTEGER NOT NULL DEFAULT 0,
    error_code          TEXT,
    sent_at             TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE UNIQUE INDEX messages_provider_id ON messages(channel_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_reply_part ON messages(reply_to, part) WHERE reply_to IS NOT NULL;
CREATE INDEX messages_conversation ON messages(conversation_id, created_at);

-- The job queue. No personal data: subjects are ids, errors are our own class names.
CREATE TABLE jobs (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id),
    kind         TEXT NOT NULL,
    subject_id   BLOB NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at       TEXT NOT NULL,
    locked_by    TEXT,
    locked_until TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (kind, subject_id)
);
CREATE INDEX jobs_runnable ON jobs(run_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs(locked_until) WHERE state = 'running';

CREATE TABLE audit_log (
    tenant_id    BLOB NOT NULL,
    seq          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT,
    detail       TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE TABLE audit_heads (
    tenant_id BLOB PRIMARY KEY,
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL
);

-- Append-only, as far as SQLite can say so.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
