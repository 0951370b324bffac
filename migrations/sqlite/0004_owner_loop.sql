-- The owner loop: escalation rules and timers per tenant, owner numbers, tickets, and the
-- messages exchanged with owners (notices out, commands in).
ALTER TABLE tenants ADD COLUMN escalation_keywords TEXT NOT NULL DEFAULT 'admin,manusia,orang,komplain,refund,human,agent';
-- Bot answers in a row without an owner in between; 0 switches the rule off.
ALTER TABLE tenants ADD COLUMN max_bot_turns INTEGER NOT NULL DEFAULT 8;
-- `HH:MM-HH:MM` in the tenant's time zone; outside it every conversation goes to the owner. Empty: off.
ALTER TABLE tenants ADD COLUMN business_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN timezone TEXT NOT NULL DEFAULT 'Asia/Jakarta';
ALTER TABLE tenants ADD COLUMN renotify_minutes INTEGER NOT NULL DEFAULT 30;
ALTER TABLE tenants ADD COLUMN customer_notice_minutes INTEGER NOT NULL DEFAULT 10;
ALTER TABLE tenants ADD COLUMN human_idle_hours INTEGER NOT NULL DEFAULT 12;
ALTER TABLE tenants ADD COLUMN last_ticket_number INTEGER NOT NULL DEFAULT 0;

-- Set when the provider refused a send because the 24-hour window had closed; a new inbound clears it.
ALTER TABLE conversations ADD COLUMN window_closed_at TEXT;

-- Owner numbers; identifiers stored like a contact's: blind index plus tenant-key ciphertext.
CREATE TABLE owners (
    id              BLOB PRIMARY KEY,
    tenant_id       BLOB NOT NULL REFERENCES tenants(id),
    phone_index     BLOB,
    bsuid_index     BLOB,
    phone_enc       TEXT,
    bsuid_enc       TEXT,
    email_enc       TEXT,
    name_enc        TEXT,
    last_inbound_at TEXT,
    window_closed_at TEXT,
    created_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX owners_phone ON owners(tenant_id, phone_index) WHERE phone_index IS NOT NULL;
CREATE UNIQUE INDEX owners_bsuid ON owners(tenant_id, bsuid_index) WHERE bsuid_index IS NOT NULL;

-- Tickets: one open per conversation, numbered per tenant (#12).
CREATE TABLE escalations (
    id                   BLOB PRIMARY KEY,
    tenant_id            BLOB NOT NULL REFERENCES tenants(id),
    number               INTEGER NOT NULL,
    conversation_id      BLOB NOT NULL REFERENCES conversations(id),
    contact_id           BLOB NOT NULL REFERENCES contacts(id),
    trigger_message_id   BLOB,
    reason               TEXT NOT NULL,
    status               TEXT NOT NULL,
    summary_enc          TEXT,
    draft_enc            TEXT,
    opened_at            TEXT NOT NULL,
    notified_at          TEXT,
    renotified           INTEGER NOT NULL DEFAULT 0,
    customer_notified_at TEXT,
    answered_at          TEXT,
    last_owner_at        TEXT,
    closed_at            TEXT,
    closed_by            TEXT,
    UNIQUE (tenant_id, number)
);
CREATE UNIQUE INDEX escalations_open ON escalations(conversation_id) WHERE closed_at IS NULL;
CREATE INDEX escalations_tenant_open ON escalations(tenant_id, opened_at) WHERE closed_at IS NULL;

-- Messages to and from owners. A body about a customer is encrypted with that customer's key.
CREATE TABLE owner_messages (
    id                  BLOB PRIMARY KEY,
    tenant_id           BLOB NOT NULL REFERENCES tenants(id),
    owner_id            BLOB NOT NULL REFERENCES owners(id),
    channel_id          BLOB NOT NULL REFERENCES channels(id),
    escalation_id       BLOB REFERENCES escalations(id),
    contact_id          BLOB REFERENCES contacts(id),
    direction           TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    route               TEXT NOT NULL,
    purpose             TEXT NOT NULL,
    body_enc            TEXT,
    provider_message_id TEXT,
    quoted_provider_id  TEXT,
    status              TEXT NOT NULL,
    status_rank         INTEGER NOT NULL DEFAULT 0,
    error_code          TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE UNIQUE INDEX owner_messages_provider_id ON owner_messages(channel_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX owner_messages_escalation ON owner_messages(escalation_id);
