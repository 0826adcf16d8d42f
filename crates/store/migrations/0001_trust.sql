-- The trust store: public keys Gavel trusts, with their roles. Private keys
-- never live here: they are in the OS keychain.
CREATE TABLE trusted_keys (
    keyid       TEXT PRIMARY KEY NOT NULL,
    algorithm   TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    roles       TEXT NOT NULL,          -- JSON array of role names
    added_at    TEXT NOT NULL,
    added_by    TEXT,
    retired_at  TEXT                    -- set when rotated out
);

-- People (and the operator) who act through this store, each with a key
-- whose private half is in the keychain.
CREATE TABLE identities (
    name        TEXT PRIMARY KEY NOT NULL,
    email       TEXT NOT NULL,
    keyid       TEXT NOT NULL REFERENCES trusted_keys(keyid),
    created_at  TEXT NOT NULL
);

-- Overrides are single-use: each consumed one is recorded here.
CREATE TABLE consumed_overrides (
    id          TEXT PRIMARY KEY NOT NULL,
    workflow_id TEXT,
    legacy      INTEGER NOT NULL DEFAULT 0,
    consumed_at TEXT NOT NULL
);
