-- The business profile the LLM answers from, a monthly token budget, and LLM usage records.
ALTER TABLE tenants ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN opening_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN tone TEXT NOT NULL DEFAULT '';
-- Tokens per calendar month (UTC); 0 means no LLM use at all.
ALTER TABLE tenants ADD COLUMN monthly_token_budget INTEGER NOT NULL DEFAULT 2000000;
-- The month (YYYY-MM) in which the owner was last told the budget ran out.
ALTER TABLE tenants ADD COLUMN budget_notice_month TEXT;

CREATE TABLE llm_usage (
    id                BLOB PRIMARY KEY,
    tenant_id         BLOB NOT NULL REFERENCES tenants(id),
    message_id        BLOB,
    model             TEXT NOT NULL,
    outcome           TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_ms        INTEGER NOT NULL,
    cost_micro_usd    INTEGER NOT NULL,
    at                TEXT NOT NULL
);
CREATE INDEX llm_usage_tenant_at ON llm_usage(tenant_id, at);
