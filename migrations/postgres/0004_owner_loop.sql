-- The owner loop: escalation rules and timers per tenant, owner numbers, tickets, and the
-- messages exchanged with owners (notices out, commands in).
ALTER TABLE tenants ADD COLUMN escalation_keywords text NOT NULL DEFAULT 'admin,manusia,orang,komplain,refund,human,agent';
-- Bot answers in a row without an owner in between; 0 switches the rule off.
ALTER TABLE tenants ADD COLUMN max_bot_turns integer NOT NULL DEFAULT 8;
-- `HH:MM-HH:MM` in the tenant's time zone; outside it every conversation goes to the owner. Empty: off.
ALTER TABLE tenants ADD COLUMN business_hours text NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN timezone text NOT NULL DEFAULT 'Asia/Jakarta';
ALTER TABLE tenants ADD COLUMN renotify_minutes integer NOT NULL DEFAULT 30;
ALTER TABLE tenants ADD COLUMN customer_notice_minutes integer NOT NULL DEFAULT 10;
ALTER TABLE tenants ADD COLUMN human_idle_hours integer NOT NULL DEFAULT 12;
ALTER TABLE tenants ADD COLUMN last_ticket_number integer NOT NULL DEFAULT 0;

-- Set when the provider refused a send because the 24-hour window had closed; a new inbound clears it.
ALTER TABLE conversations ADD COLUMN window_closed_at timestamptz;

-- Owner numbers; identifiers stored like a contact's: blind index plus tenant-key ciphertext.
CREATE TABLE owners (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    phone_index     bytea,
    bsuid_index     bytea,
    phone_enc       text,
    bsuid_enc       text,
    email_enc       text,
    name_enc        text,
    last_inbound_at timestamptz,
    window_closed_at timestamptz,
    created_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX owners_phone ON owners(tenant_id, phone_index) WHERE phone_index IS NOT NULL;
CREATE UNIQUE INDEX owners_bsuid ON owners(tenant_id, bsuid_index) WHERE bsuid_index IS NOT NULL;

-- Tickets: one open per conversation, numbered per tenant (#12).
CREATE TABLE escalations (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES tenants(id),
    number               integer NOT NULL,
    conversation_id      uuid NOT NULL REFERENCES conversations(id),
    contact_id           uuid NOT NULL REFERENCES contacts(id),
    trigger_message_id   uuid,
    reason               text NOT NULL,
    status               text NOT NULL,
    summary_enc          text,
    draft_enc            text,
    opened_at            timestamptz NOT NULL,
    notified_at          timestamptz,
    renotified           integer NOT NULL DEFAULT 0,
    customer_notified_at timestamptz,
    answered_at          timestamptz,
    last_owner_at        timestamptz,
    closed_at            timestamptz,
    closed_by            text,
    UNIQUE (tenant_id, number)
);
CREATE UNIQUE INDEX escalations_open ON escalations(conversation_id) WHERE closed_at IS NULL;
CREATE INDEX escalations_tenant_open ON escalations(tenant_id, opened_at) WHERE closed_at IS NULL;

-- Messages to and from owners. A body about a customer is encrypted with that customer's key.
CREATE TABLE owner_messages (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants(id),
    owner_id            uuid NOT NULL REFERENCES owners(id),
    channel_id          uuid NOT NULL REFERENCES channels(id),
    escalation_id       uuid REFERENCES escalations(id),
    contact_id          uuid REFERENCES contacts(id),
    direction           text NOT NULL CHECK (direction IN ('in', 'out')),
    route               text NOT NULL,
    purpose             text NOT NULL,
    body_enc            text,
    provider_message_id text,
    quoted_provider_id  text,
    status              text NOT NULL,
    status_rank         integer NOT NULL DEFAULT 0,
    error_code          text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX owner_messages_provider_id ON owner_messages(channel_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX owner_messages_escalation ON owner_messages(escalation_id);

ALTER TABLE owners ENABLE ROW LEVEL SECURITY;
ALTER TABLE owners FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON owners
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
ALTER TABLE escalations ENABLE ROW LEVEL SECURITY;
ALTER TABLE escalations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON escalations
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
ALTER TABLE owner_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE owner_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON owner_messages
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
