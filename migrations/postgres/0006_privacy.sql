-- Privacy operations: STOP, data-subject request deadlines, retention, tenant cancellation,
-- anonymous counts kept after erasure, and audit checkpoints for purged periods.

-- Set when the customer wrote STOP/BERHENTI: the bot no longer answers them.
ALTER TABLE contacts ADD COLUMN bot_stopped_at timestamptz;
-- Days messages are kept; NULL keeps them while the tenant is active.
ALTER TABLE tenants ADD COLUMN message_retention_days integer;
ALTER TABLE tenants ADD COLUMN dsar_ack_hours integer NOT NULL DEFAULT 168;
ALTER TABLE tenants ADD COLUMN dsar_answer_hours integer NOT NULL DEFAULT 720;
ALTER TABLE tenants ADD COLUMN cancelled_at timestamptz;

CREATE TABLE dsar_requests (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    -- No foreign key: an erasure clears it, and the request stays as a non-identifying record.
    contact_id      uuid,
    kind            text NOT NULL CHECK (kind IN ('access', 'correction', 'erasure', 'stop')),
    source          text NOT NULL,
    status          text NOT NULL CHECK (status IN ('open', 'acknowledged', 'done', 'rejected')),
    received_at     timestamptz NOT NULL,
    acknowledge_by  timestamptz NOT NULL,
    answer_by       timestamptz NOT NULL,
    acknowledged_at timestamptz,
    answered_at     timestamptz,
    closed_by       text
);
CREATE INDEX dsar_requests_pending ON dsar_requests(tenant_id, answer_by) WHERE status IN ('open', 'acknowledged');

-- Per-day counts of rows that erasure or retention deleted, so analytics stay whole but anonymous.
CREATE TABLE activity_counts (
    tenant_id uuid NOT NULL REFERENCES tenants(id),
    day       text NOT NULL,
    metric    text NOT NULL,
    count     bigint NOT NULL,
    PRIMARY KEY (tenant_id, day, metric)
);

-- Where a purged audit period ended: `audit verify` starts from the latest one. Written only
-- by balas_purge_audit; the app role may read it.
CREATE TABLE audit_checkpoints (
    tenant_id   uuid NOT NULL,
    through_seq bigint NOT NULL,
    hash        text NOT NULL,
    at          timestamptz NOT NULL,
    purged_rows bigint NOT NULL,
    PRIMARY KEY (tenant_id, through_seq)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['dsar_requests', 'activity_counts', 'audit_checkpoints']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = balas_current_tenant()) WITH CHECK (tenant_id = balas_current_tenant())', t);
    END LOOP;
END $$;

-- The append-only trigger lets exactly one path delete: balas_purge_audit below, which runs as
-- the schema owner (the app role has no DELETE on audit_log at all).
CREATE OR REPLACE FUNCTION balas_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('balas.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END $$;

-- Drops the tenant in scope's rows up to p_through and records the checkpoint; returns the
-- count. The database's own clock decides what is old enough: only whole months more than 12
-- months back, so the app role cannot use it to remove recent rows.
CREATE FUNCTION balas_purge_audit(p_through bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    t uuid := balas_current_tenant();
    h text;
    n bigint;
BEGIN
    IF t IS NULL THEN
        RAISE EXCEPTION 'balas_purge_audit needs a tenant in scope';
    END IF;
    IF EXISTS (SELECT 1 FROM audit_log WHERE tenant_id = t AND seq <= p_through
               AND at >= date_trunc('month', now()) - interval '12 months') THEN
        RAISE EXCEPTION 'audit rows younger than 12 whole months cannot be purged';
    END IF;
    SELECT hash INTO h FROM audit_log WHERE tenant_id = t AND seq = p_through;
    IF h IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM set_config('balas.audit_purge', 'on', true);
    DELETE FROM audit_log WHERE tenant_id = t AND seq <= p_through;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('balas.audit_purge', 'off', true);
    INSERT INTO audit_checkpoints (tenant_id, through_seq, hash, at, purged_rows) VALUES (t, p_through, h, now(), n);
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION balas_purge_audit(bigint) FROM PUBLIC;
