-- [4/10] Every ticket has an end. The single wait notice becomes the owner-response target:
-- after it (in business hours when set) the customer is told honestly when to expect an answer.
-- Tenants still on the old 10-minute default get the new 2-hour target; an edited value stays.
ALTER TABLE tenants RENAME COLUMN customer_notice_minutes TO response_target_minutes;
UPDATE tenants SET response_target_minutes = 120 WHERE response_target_minutes = 10;
-- After this many hours the bot resumes a ticket nobody answered (status `unanswered`).
ALTER TABLE tenants ADD COLUMN resume_after_hours INTEGER NOT NULL DEFAULT 24;
-- Tell the customer when their ticket is resolved.
ALTER TABLE tenants ADD COLUMN announce_resolved INTEGER NOT NULL DEFAULT 1;
-- Analytics count the tickets that ended unanswered.
ALTER TABLE analytics_tickets ADD COLUMN unanswered INTEGER NOT NULL DEFAULT 0;
