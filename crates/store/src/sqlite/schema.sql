-- Heliograph SQLite schema, version 1. Migrations append files; never edit a released one.
CREATE TABLE users (
    id       INTEGER PRIMARY KEY,
    phone    TEXT NOT NULL UNIQUE,
    name     TEXT NOT NULL,
    username TEXT,
    bio      TEXT NOT NULL DEFAULT '',
    created  INTEGER NOT NULL,
    pts      INTEGER NOT NULL DEFAULT 0       -- top of this user's update log
);
-- One namespace for users and public chats; `key` is the lower-cased name.
CREATE TABLE usernames (
    key     TEXT PRIMARY KEY,
    user_id INTEGER,
    chat_id INTEGER
) WITHOUT ROWID;
CREATE TABLE login_codes (
    phone    TEXT PRIMARY KEY,
    salt     BLOB NOT NULL,
    hash     BLOB NOT NULL,
    expires  INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,          -- SHA-256 of the token; the token is never stored
    device      TEXT NOT NULL,
    created     INTEGER NOT NULL,
    last_active INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE contacts (owner INTEGER NOT NULL, contact INTEGER NOT NULL, PRIMARY KEY (owner, contact)) WITHOUT ROWID;
CREATE TABLE blocks (owner INTEGER NOT NULL, target INTEGER NOT NULL, PRIMARY KEY (owner, target)) WITHOUT ROWID;
CREATE TABLE chats (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    title        TEXT NOT NULL,
    username     TEXT,
    creator      INTEGER NOT NULL,
    member_count INTEGER NOT NULL DEFAULT 0,
    pinned       INTEGER,
    own_log      INTEGER NOT NULL DEFAULT 0,
    pts          INTEGER NOT NULL DEFAULT 0,   -- top of the chat's own log
    top_message  INTEGER NOT NULL DEFAULT 0,   -- the chat's message sequence
    created      INTEGER NOT NULL,
    activity     INTEGER NOT NULL,
    invite       TEXT UNIQUE,
    pair         TEXT UNIQUE                   -- "low:high" user ids of a private chat
);
CREATE TABLE members (
    chat_id    INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    role       TEXT NOT NULL,
    joined     INTEGER NOT NULL,
    read_inbox  INTEGER NOT NULL DEFAULT 0,
    read_outbox INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_user ON members(user_id, chat_id);
CREATE TABLE messages (
    chat_id   INTEGER NOT NULL,
    id        INTEGER NOT NULL,
    from_id   INTEGER NOT NULL,
    date      INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    text      TEXT,
    reply_to  INTEGER,
    fwd_user  INTEGER,
    fwd_chat  INTEGER,
    fwd_msg   INTEGER,
    fwd_date  INTEGER,
    edit_date INTEGER,
    deleted   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, id)
) WITHOUT ROWID;
-- Messages a user deleted for themselves only.
CREATE TABLE hidden (user_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, msg_id INTEGER NOT NULL, PRIMARY KEY (user_id, chat_id, msg_id)) WITHOUT ROWID;
-- Idempotency: a (user, random_id) pair sends at most one message.
CREATE TABLE sends (
    user_id   INTEGER NOT NULL,
    random_id INTEGER NOT NULL,
    chat_id   INTEGER NOT NULL,
    msg_id    INTEGER NOT NULL,
    pts       INTEGER NOT NULL,
    PRIMARY KEY (user_id, random_id)
) WITHOUT ROWID;
-- Update logs. An event is (kind, chat_id, a, b, ids); see sqlite/ops.rs `encode`.
CREATE TABLE user_updates (
    user_id INTEGER NOT NULL,
    pts     INTEGER NOT NULL,
    date    INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    a       INTEGER,
    b       INTEGER,
    ids     TEXT,
    PRIMARY KEY (user_id, pts)
) WITHOUT ROWID;
CREATE TABLE chat_updates (
    chat_id INTEGER NOT NULL,
    pts     INTEGER NOT NULL,
    date    INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    a       INTEGER,
    b       INTEGER,
    ids     TEXT,
    PRIMARY KEY (chat_id, pts)
) WITHOUT ROWID;
