-- Accountability (issue 16): sealed phone numbers, reports, moderation, the audit log.
--
-- Phone numbers: `phone_hash` is HMAC-SHA256 of the number under the server's phone key
-- (kept outside the database), for sign-in lookups and uniqueness; `phone_sealed` is the
-- number sealed to the operator's disclosure public key. The old clear `phone` column stays
-- (SQLite cannot drop a UNIQUE column in place, and rebuilding `users` would lose columns
-- other migrations add) but is emptied: the server seals every remaining clear number at its
-- first start on this schema (`Store::phones_to_seal` / `seal_phone`) and compacts the file,
-- before it serves anyone; nothing writes the column any more.
ALTER TABLE users ADD COLUMN phone_hash BLOB;
ALTER TABLE users ADD COLUMN phone_sealed BLOB;
CREATE UNIQUE INDEX users_phone_hash ON users(phone_hash);
-- Pending login codes are keyed by the number's hash too (codes pending at the upgrade are
-- dropped: the person asks for a new one).
DROP TABLE login_codes;
CREATE TABLE login_codes (
    phone_hash BLOB PRIMARY KEY,
    salt       BLOB NOT NULL,
    hash       BLOB NOT NULL,
    expires    INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- Facts about the deployment: `phone_key_check` (an HMAC of a fixed label under the phone
-- key, so a node started with another key refuses to serve), `moderation_account`.
CREATE TABLE settings (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
-- Reports of cloud-chat messages, made by someone who can see the message. The reported
-- message and the context the reporter chose to share are copied as the server held them.
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    reporter    INTEGER NOT NULL,
    chat_id     INTEGER NOT NULL,
    msg_id      INTEGER NOT NULL,
    sender      INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    comment     TEXT NOT NULL,
    text        TEXT NOT NULL,
    context     TEXT NOT NULL,                 -- JSON: [[msg_id, from_id, date, text], ...]
    created     INTEGER NOT NULL,
    resolution  TEXT,                          -- NULL while open; the action that closed it
    resolved_by INTEGER,
    resolved    INTEGER
);
CREATE UNIQUE INDEX reports_once ON reports(reporter, chat_id, msg_id);
CREATE INDEX reports_open ON reports(resolution, id);
CREATE INDEX reports_sender ON reports(sender, id);
CREATE INDEX reports_reporter ON reports(reporter, id);
-- Sanctions in force: kind 'ban' (no sign-in, no sending), 'suspend' (the same, for a time),
-- 'restrict' (no sending). `until` NULL: until lifted.
CREATE TABLE sanctions (
    user_id INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    until   INTEGER,
    reason  TEXT NOT NULL,
    PRIMARY KEY (user_id, kind)
) WITHOUT ROWID;
-- A public channel or group an operator took down: nobody can open, join, read or post.
ALTER TABLE chats ADD COLUMN taken_down INTEGER;
-- Every moderation action, append-only: the triggers refuse any UPDATE or DELETE.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    date        INTEGER NOT NULL,
    operator    INTEGER NOT NULL,
    action      TEXT NOT NULL,
    target_user INTEGER,
    target_chat INTEGER,
    target_msg  INTEGER,
    report_id   INTEGER,
    until       INTEGER,
    reason      TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
