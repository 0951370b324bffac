-- [4/10] Every ticket has an end. The single wait notice becomes the owner-response target:
-- after it (in business hours when set) the customer is told honestly when to expect an answer.
-- Tenants still on the old 10-minute default get the new 2-hour target; an edited value stays.
ALTER TABLE tenants RENAME COLUMN customer_notice_minutes TO response_target_minutes;
-- Row-level security is forced even for the owner; lifted for this one statement (one transaction).
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
UPDATE tenants SET response_target_minutes = 120 WHERE response_target_minutes = 10;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
ALTER TABLE tenants ALTER COLUMN response_target_minutes SET DEFAULT 120;
-- After this many hours the bot resumes a ticket nobody answered (status `unanswered`).
ALTER TABLE tenants ADD COLUMN resume_after_hours integer NOT NULL DEFAULT 24;
-- Tell the customer when their ticket is resolved.
ALTER TABLE tenants ADD COLUMN announce_resolved boolean NOT NULL DEFAULT true;
-- Analytics count the tickets that ended unanswered.
ALTER TABLE analytics_tickets ADD COLUMN unanswered boolean NOT NULL DEFAULT false;
