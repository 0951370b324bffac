-- Analytics rollups, kept by the `analytics_rollup` job and read by /api/v1/analytics.
-- No content and no foreign keys: erasure relabels a customer's rows with fresh random ids.

-- One row per conversation per local day (the tenant's zone) with any message.
CREATE TABLE analytics_conversation_days (
    tenant_id       uuid NOT NULL,
    day             text NOT NULL,
    conversation_id uuid NOT NULL,
    contact_id      uuid NOT NULL,
    inbound         bigint NOT NULL,
    bot_out         bigint NOT NULL,
    owner_out       bigint NOT NULL,
    system_out      bigint NOT NULL,
    escalated       bigint NOT NULL,
    -- From the day's first customer message to the bot's first reply to it, two significant digits.
    bot_first_response_ms bigint,
    PRIMARY KEY (tenant_id, day, conversation_id)
);

-- One row per ticket: times and reason only.
CREATE TABLE analytics_tickets (
    tenant_id   uuid NOT NULL,
    ticket_id   uuid NOT NULL,
    reason      text NOT NULL,
    opened_at   timestamptz NOT NULL,
    answered_at timestamptz,
    closed_at   timestamptz,
    PRIMARY KEY (tenant_id, ticket_id)
);
CREATE INDEX analytics_tickets_opened ON analytics_tickets(tenant_id, opened_at);

-- Per-day figures, summed into buckets by the report: message and conversation counts,
-- distinct customers of the day, LLM calls, tokens and cost, dead letters, and the bot's
-- first-response times as a histogram (`bot_first_response_ms:<ms>` → how many).
CREATE TABLE analytics_days (
    tenant_id uuid NOT NULL,
    day       text NOT NULL,
    metric    text NOT NULL,
    value     bigint NOT NULL,
    PRIMARY KEY (tenant_id, day, metric)
);

-- Distinct customers per ISO week (keyed by its Monday), which days cannot be summed into.
CREATE TABLE analytics_weeks (
    tenant_id uuid NOT NULL,
    week      text NOT NULL,
    customers bigint NOT NULL,
    PRIMARY KEY (tenant_id, week)
);

-- Distinct customers over any range: read in contact order without sorting.
CREATE INDEX analytics_customer_days ON analytics_conversation_days(tenant_id, contact_id, day) WHERE inbound > 0;

-- How far each tenant's rollup has got (NULL: never run). Its row lock serialises a tenant's passes.
CREATE TABLE analytics_state (
    tenant_id      uuid PRIMARY KEY,
    rolled_through timestamptz
);

CREATE INDEX jobs_dead ON jobs(tenant_id, updated_at) WHERE state = 'dead';

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['analytics_conversation_days', 'analytics_tickets', 'analytics_days', 'analytics_weeks', 'analytics_state']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant())', t);
    END LOOP;
END $$;
