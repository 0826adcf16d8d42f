-- The ledger records an override under what identifies the signed document
-- (`sha256:` of a DSSE envelope's payload bytes, or of a legacy file's
-- signature), no longer under the payload's `id`, which whoever signs may
-- choose: two overrides that share an id are two overrides, each used once.
-- `override_id` keeps the id for display. Rows written before this change
-- were keyed by the id itself (`override_id = id`); they still count as
-- used for an override with that id, so nothing consumed becomes usable.
ALTER TABLE consumed_overrides ADD COLUMN override_id TEXT;
UPDATE consumed_overrides SET override_id = id WHERE legacy = 0;
