-- Privacy operations: STOP, data-subject request deadlines, retention, tenant cancellation,
-- anonymous counts kept after erasure, and audit checkpoints for purged periods.

-- Set when the customer wrote STOP/BERHENTI: the bot no longer answers them.
ALTER TABLE contacts ADD COLUMN bot_stopped_at TEXT;
-- Days messages are kept; NULL keeps them while the tenant is active.
ALTER TABLE tenants ADD COLUMN message_retention_days INTEGER;
ALTER TABLE tenants ADD COLUMN dsar_ack_hours INTEGER NOT NULL DEFAULT 168;
ALTER TABLE tenants ADD COLUMN dsar_answer_hours INTEGER NOT NULL DEFAULT 720;
ALTER TABLE tenants ADD COLUMN cancelled_at TEXT;

CREATE TABLE dsar_requests (
    id              BLOB PRIMARY KEY,
    tenant_id       BLOB NOT NULL REFERENCES tenants(id),
    -- No foreign key: an erasure clears it, and the request stays as a non-identifying record.
    contact_id      BLOB,
    kind            TEXT NOT NULL CHECK (kind IN ('access', 'correction', 'erasure', 'stop')),
    source          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'done', 'rejected')),
    received_at     TEXT NOT NULL,
    acknowledge_by  TEXT NOT NULL,
    answer_by       TEXT NOT NULL,
    acknowledged_at TEXT,
    answered_at     TEXT,
    closed_by       TEXT
);
CREATE INDEX dsar_requests_pending ON dsar_requests(tenant_id, answer_by) WHERE status IN ('open', 'acknowledged');

-- Per-day counts of rows that erasure or retention deleted, so analytics stay whole but anonymous.
CREATE TABLE activity_counts (
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    day       TEXT NOT NULL,
    metric    TEXT NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, day, metric)
);

-- Where a purged audit period ended: `audit verify` starts from the latest one.
CREATE TABLE audit_checkpoints (
    tenant_id   BLOB NOT NULL,
    through_seq INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    at          TEXT NOT NULL,
    purged_rows INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, through_seq)
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
