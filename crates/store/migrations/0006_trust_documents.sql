-- The team's trust documents this console accepted or published (DESIGN
-- §11.11, §11.16), newest version highest: the next one is accepted only
-- when a quorum of the keys trusted now signed it.
CREATE TABLE trust_documents (
    version     INTEGER PRIMARY KEY,
    envelope    TEXT NOT NULL,
    quorum      INTEGER NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('local', 'registry')),
    recorded_at TEXT NOT NULL
);
