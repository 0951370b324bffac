-- Hosts the bot may link to besides the links in the profile and FAQ (comma-separated, checked on save).
ALTER TABLE tenants ADD COLUMN link_hosts TEXT NOT NULL DEFAULT '';
