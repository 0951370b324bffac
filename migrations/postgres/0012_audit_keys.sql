-- The audit chain is signed with HMAC-SHA256 under BALAS_AUDIT_KEY, which the database does not
-- hold. Each row names the key that signed it; rows written before keys keep NULL (plain SHA-256)
-- and are closed by a signed `audit.anchored` row at the first append under a key. Adding a
-- nullable column rewrites no row, so the append-only trigger is not involved.
ALTER TABLE audit_log ADD COLUMN key_id text;
ALTER TABLE audit_heads ADD COLUMN key_id text;
