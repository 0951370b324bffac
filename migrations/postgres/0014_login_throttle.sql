-- Login attempts per fixed window, shared by every instance on one database. A key is a keyed
-- HMAC of (e-mail, client), the client or the e-mail: never the address or the e-mail itself.
-- It is read before any tenant is known, so it has no tenant and no row-level security.
CREATE TABLE login_throttle (
    key BYTEA PRIMARY KEY,
    attempts BIGINT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL
);
