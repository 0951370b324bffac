-- [8/10] A shop's own endpoints for signed outbound webhooks (Standard Webhooks). The secret
-- (`whsec_…`) is encrypted under the tenant's data key; after a rotation the previous one also
-- signs until `previous_until`. `events` is the space-separated list of event types it takes.
CREATE TABLE webhook_endpoints (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants(id),
    url                 text NOT NULL,
    events              text NOT NULL,
    include_content     boolean NOT NULL,
    secret_enc          text NOT NULL,
    previous_secret_enc text,
    previous_until      timestamptz,
    state               text NOT NULL CHECK (state IN ('enabled', 'disabled')),
    disabled_reason     text,
    -- The first failed attempt since the last delivered one; five days of it disable the endpoint.
    failing_since       timestamptz,
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id, state);

-- One event for one endpoint, queued in the transaction that caused it. `message_id` is the
-- `webhook-id` header, the same on every attempt and replay. `payload` holds ids, times and
-- states only (no personal data): the masked label and, for endpoints that asked, the content
-- are added when it is sent.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    message_id      text NOT NULL,
    event_type      text NOT NULL,
    payload         text NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_status     integer,
    last_error      text,
    last_attempt_at timestamptz,
    next_attempt_at timestamptz,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(tenant_id, endpoint_id, created_at);
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
