-- balas schema for PostgreSQL. Run as the schema owner (`balas migrate`); the app connects
-- as a different role that gets DML grants only (see PgStore::migrate) and is subject to RLS.

CREATE FUNCTION balas_current_tenant() RETURNS uuid
LANGUAGE sql STABLE AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    language    text NOT NULL DEFAULT 'id',
    status      text NOT NULL DEFAULT 'active',
    wrapped_key text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE channels (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    provider    text NOT NULL,
    address     text NOT NULL,
    secrets_enc text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX channels_tenant ON channels(tenant_id);

-- Routing before the tenant is known: no personal data, hence no RLS.
CREATE TABLE channel_routes (
    channel_id uuid PRIMARY KEY REFERENCES channels(id),
    tenant_id  uuid NOT NULL REFERENCES tenants(id),
    provider   text NOT NULL
);

CREATE TABLE kb_entries (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants(id),
    question   text NOT NULL,
    answer     text NOT NULL,
    keywords   text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);
CREATE INDEX kb_entries_tenant ON kb_entries(tenant_id);

CREATE TABLE contacts (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    wrapped_key  text NOT NULL,
    bsuid_index  bytea,
    phone_index  bytea,
    bsuid_enc    text,
    phone_enc    text,
    username_enc text,
    name_enc     text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX contacts_bsuid ON contacts(tenant_id, bsuid_index) WHERE bsuid_index IS NOT NULL;
CREATE UNIQUE INDEX contacts_phone ON contacts(tenant_id, phone_index) WHERE phone_index IS NOT NULL;

CREATE TABLE conversations (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants(id),
    channel_id        uuid NOT NULL REFERENCES channels(id),
    contact_id        uuid NOT NULL REFERENCES contacts(id),
    state             text NOT NULL,
    escalation_reason text,
    last_inbound_at   timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX conversations_open ON conversations(tenant_id, channel_id, contact_id) WHERE state <> 'closed';

CREATE TABLE messages (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants(id),
    channel_id          uuid NOT NULL REFERENCES channels(id),
    conversation_id     uuid NOT NULL REFERENCES conversations(id),
    contact_id          uuid NOT NULL REFERENCES contacts(id),
    direction           text NOT NULL CHECK (direction IN ('in', 'out')),
    author              text NOT NULL,
    kind                text NOT NULL,
    body_enc            text,
    provider_message_id text,
    reply_to            uuid REFERENCES messages(id),
    part                integer NOT NULL DEFAULT 0,
    status              text NOT NULL,
    status_rank         integer NOT NULL DEFAULT 0,
    error_code          text,
    sent_at             timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX messages_provider_id ON messages(channel_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_reply_part ON messages(reply_to, part) WHERE reply_to IS NOT NULL;
CREATE INDEX messages_conversation ON messages(conversation_id, created_at);

-- The job queue is claimed before the tenant is known, so it has no RLS and no personal
-- data: subjects are ids and errors are our own class names.
CREATE TABLE jobs (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    kind         text NOT NULL,
    subject_id   uuid NOT NULL,
    state        text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    run_at       timestamptz NOT NULL,
    locked_by    text,
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (kind, subject_id)
);
CREATE INDEX jobs_runnable ON jobs(run_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs(locked_until) WHERE state = 'running';

CREATE TABLE audit_log (
    tenant_id    uuid NOT NULL,
    seq          bigint NOT NULL,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL,
    subject_type text NOT NULL,
    subject_id   text,
    detail       text NOT NULL,
    prev_hash    text NOT NULL,
    hash         text NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE TABLE audit_heads (
    tenant_id uuid PRIMARY KEY,
    seq       bigint NOT NULL,
    hash      text NOT NULL
);

CREATE FUNCTION balas_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION balas_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION balas_audit_append_only();

-- Tenant isolation: every table holding tenant data, forced even for the owner.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = balas_current_tenant()) WITH CHECK (id = balas_current_tenant());

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['channels', 'kb_entries', 'contacts', 'conversations', 'messages', 'audit_log', 'audit_heads']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant())', t);
    END LOOP;
END $$;
