-- [5/10] The owner is warned once, 4 hours before a waiting customer's 24-hour window closes;
-- this is when, so the warning is not repeated until the customer writes again.
ALTER TABLE escalations ADD COLUMN window_warned_at timestamptz;
