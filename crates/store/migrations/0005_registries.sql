-- Registries a team shares work through (DESIGN §11.16): a name, where it
-- is, and the user name its credentials go with (the password is in the
-- keychain, never here).
CREATE TABLE registries (
    name      TEXT PRIMARY KEY,
    url       TEXT NOT NULL,
    username  TEXT,
    added_at  TEXT NOT NULL
);

-- A bundle bound to a registry: its versions, approvals and rollout
-- documents travel through `<registry>/<namespace>/<bundle>`.
CREATE TABLE bundle_bindings (
    bundle    TEXT PRIMARY KEY,
    registry  TEXT NOT NULL REFERENCES registries (name),
    bound_at  TEXT NOT NULL
);

-- Approvals can now come from the team's registry (`source = 'registry'`):
-- the table is rebuilt with the wider check, every row kept as it was.
CREATE TABLE approvals_new (
    id          INTEGER PRIMARY KEY,
    version_id  INTEGER NOT NULL REFERENCES bundle_versions(id),
    digest      TEXT NOT NULL,
    environment TEXT NOT NULL REFERENCES environments(name),
    decision    TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    keyid       TEXT NOT NULL,
    approver    TEXT NOT NULL,
    comment     TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    envelope    TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('local', 'review', 'registry')),
    recorded_at TEXT NOT NULL,
    UNIQUE (digest, environment, keyid)
);
INSERT INTO approvals_new SELECT * FROM approvals;
DROP TABLE approvals;
ALTER TABLE approvals_new RENAME TO approvals;
CREATE INDEX approvals_by_version ON approvals (version_id, environment);
