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
