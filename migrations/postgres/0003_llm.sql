-- The business profile the LLM answers from, a monthly token budget, and LLM usage records.
ALTER TABLE tenants ADD COLUMN description text NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN address text NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN opening_hours text NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN tone text NOT NULL DEFAULT '';
-- Tokens per calendar month (UTC); 0 means no LLM use at all.
ALTER TABLE tenants ADD COLUMN monthly_token_budget bigint NOT NULL DEFAULT 2000000;
-- The month (YYYY-MM) in which the owner was last told the budget ran out.
ALTER TABLE tenants ADD COLUMN budget_notice_month text;

CREATE TABLE llm_usage (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants(id),
    message_id        uuid,
    model             text NOT NULL,
    outcome           text NOT NULL,
    prompt_tokens     bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    latency_ms        bigint NOT NULL,
    cost_micro_usd    bigint NOT NULL,
    at                timestamptz NOT NULL
);
CREATE INDEX llm_usage_tenant_at ON llm_usage(tenant_id, at);
ALTER TABLE llm_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE llm_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_usage
    USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant());
