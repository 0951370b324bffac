-- Login attempts per fixed window, shared by every instance on one database. A key is a keyed
-- HMAC of (e-mail, client), the client or the e-mail: never the address or the e-mail itself.
CREATE TABLE login_throttle (
    key BLOB PRIMARY KEY,
    attempts INTEGER NOT NULL,
    window_start TEXT NOT NULL
);
