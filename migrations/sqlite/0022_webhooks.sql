-- [8/10] A shop's own endpoints for signed outbound webhooks (Standard Webhooks). The secret
-- (`whsec_…`) is encrypted under the tenant's data key; after a rotation the previous one also
-- signs until `previous_until`. `events` is the space-separated list of event types it takes.
CREATE TABLE webhook_endpoints (
    id                  BLOB PRIMARY KEY,
    tenant_id           BLOB NOT NULL REFERENCES tenants(id),
    url                 TEXT NOT NULL,
    events              TEXT NOT NULL,
    include_content     INTEGER NOT NULL,
    secret_enc          TEXT NOT NULL,
    previous_secret_enc TEXT,
    previous_until      TEXT,
    state               TEXT NOT NULL CHECK (state IN ('enabled', 'disabled')),
    disabled_reason     TEXT,
    -- The first failed attempt since the last delivered one; five days of it disable the endpoint.
    failing_since       TEXT,
    created_by          TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id, state);

-- One event for one endpoint, queued in the transaction that caused it. `message_id` is the
-- `webhook-id` header, the same on every attempt and replay. `payload` holds ids, times and
-- states only (no personal data): the masked label and, for endpoints that asked, the content
-- are added when it is sent.
CREATE TABLE webhook_deliveries (
    id              BLOB PRIMARY KEY,
    tenant_id       BLOB NOT NULL REFERENCES tenants(id),
    endpoint_id     BLOB NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    message_id      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    last_attempt_at TEXT,
    next_attempt_at TEXT,
    delivered_at    TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(tenant_id, endpoint_id, created_at);
