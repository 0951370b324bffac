-- [9/10] Per-tenant LLM profiles: the profile and fallback a tenant picked from the operator's
-- catalogue (empty: the operator's default chain); whether the operator lets it bring its own key,
-- and that key, encrypted under the tenant's data key. Calls made with the tenant's own key are
-- marked, and do not count against the operator's monthly token budget.
ALTER TABLE tenants ADD COLUMN llm_profile text NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN llm_fallback_profile text NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN own_llm_key_allowed boolean NOT NULL DEFAULT false;
ALTER TABLE tenants ADD COLUMN own_llm_key_enc text;
ALTER TABLE llm_usage ADD COLUMN own_key boolean NOT NULL DEFAULT false;
