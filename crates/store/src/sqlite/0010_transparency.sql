-- The transparency log (schema version 10): a public, append-only Merkle tree (RFC 6962
-- hashing, C2SP tlog-tiles layout; see crates/store/src/commands/transparency.rs). Every
-- moderation action and every step of a disclosure is an entry, written in the transaction
-- of what it records, so nothing happens that the log does not show.
CREATE TABLE tlog_entries (
    n    INTEGER PRIMARY KEY,       -- 0, 1, 2, … with no gap
    data BLOB NOT NULL              -- the entry, one line of JSON
);
-- The tree's stored hashes (the level-0 hash of each entry and of every completed
-- subtree), by `tlog_tiles::stored_hash_index`.
CREATE TABLE tlog_hashes (
    idx  INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);
CREATE TRIGGER tlog_entries_no_update BEFORE UPDATE ON tlog_entries BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
CREATE TRIGGER tlog_entries_no_delete BEFORE DELETE ON tlog_entries BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
CREATE TRIGGER tlog_hashes_no_update BEFORE UPDATE ON tlog_hashes BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
CREATE TRIGGER tlog_hashes_no_delete BEFORE DELETE ON tlog_hashes BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
