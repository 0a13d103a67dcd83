-- The transparency log (schema version 10): a public, append-only Merkle tree (RFC 6962
-- hashing, C2SP tlog-tiles layout; see crates/store/src/commands/transparency.rs). Every
-- moderation action and every step of a disclosure is an entry, written in the transaction
-- of what it records, so nothing happens that the log does not show.
CREATE TABLE tlog_entries (
    n    BIGINT PRIMARY KEY,        -- 0, 1, 2, … with no gap
    data BYTEA NOT NULL             -- the entry, one line of JSON
);
-- The tree's stored hashes (the level-0 hash of each entry and of every completed
-- subtree), by `tlog_tiles::stored_hash_index`.
CREATE TABLE tlog_hashes (
    idx  BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL
);
CREATE FUNCTION tlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the transparency log is append-only';
END $$;
CREATE TRIGGER tlog_entries_append_only BEFORE UPDATE OR DELETE ON tlog_entries
    FOR EACH ROW EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_entries_no_truncate BEFORE TRUNCATE ON tlog_entries
    FOR EACH STATEMENT EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_hashes_append_only BEFORE UPDATE OR DELETE ON tlog_hashes
    FOR EACH ROW EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_hashes_no_truncate BEFORE TRUNCATE ON tlog_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION tlog_append_only();
