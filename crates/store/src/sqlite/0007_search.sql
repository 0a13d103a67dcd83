-- Search (schema version 7). The embedded index (crates/search, tantivy) follows this log:
-- every message write (send, edit, delete for everyone) appends the message's key in the
-- same transaction; the index reads the entries after the position its last commit stands
-- at and indexes each message as it is now (or removes it), so applying an entry twice
-- changes nothing. The words themselves are never stored here.
CREATE TABLE search_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER NOT NULL,
    msg_id  INTEGER NOT NULL
);
-- Directory search (people, public chats) reads these.
CREATE INDEX chats_public ON chats(username) WHERE username IS NOT NULL;
