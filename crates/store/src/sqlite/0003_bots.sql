-- Bots and the Bot API (schema version 3).
-- A bot is a user with an owner and no phone (NULL: `User.phone` reads as "" for it; NULLs do
-- not collide under UNIQUE). SQLite cannot drop a NOT NULL constraint in place, so `users` is
-- rebuilt: same columns in the same order, plus `bot_owner`.
CREATE TABLE users_v3 (
    id        INTEGER PRIMARY KEY,
    phone     TEXT UNIQUE,
    name      TEXT NOT NULL,
    username  TEXT,
    bio       TEXT NOT NULL DEFAULT '',
    created   INTEGER NOT NULL,
    pts       INTEGER NOT NULL DEFAULT 0,      -- top of this user's update log
    bot_owner INTEGER                          -- the user who made this bot; NULL for people
);
INSERT INTO users_v3 (id, phone, name, username, bio, created, pts) SELECT id, phone, name, username, bio, created, pts FROM users;
DROP TABLE users;
ALTER TABLE users_v3 RENAME TO users;
CREATE INDEX users_bot_owner ON users(bot_owner, id) WHERE bot_owner IS NOT NULL;
-- Copied from users.bot_owner when a member is added: events logged in a chat's own log are
-- also appended to the user log of every bot member, found through this index.
ALTER TABLE members ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;
CREATE INDEX members_bots ON members(chat_id) WHERE bot = 1;
-- Formatting entities and the inline keyboard, encoded by the store's codec (codec.rs).
ALTER TABLE messages ADD COLUMN entities TEXT;
ALTER TABLE messages ADD COLUMN markup TEXT;
-- A bot's Bot API settings: what it confirmed, where its updates go.
CREATE TABLE bots (
    user_id                 INTEGER PRIMARY KEY,
    owner                   INTEGER NOT NULL,
    confirmed               INTEGER NOT NULL DEFAULT 0,   -- the bot's log is confirmed up to this pts
    webhook_url             TEXT,
    webhook_secret          TEXT,
    webhook_max_connections INTEGER,
    webhook_set             INTEGER,
    webhook_error_date      INTEGER,
    webhook_error           TEXT,
    allowed_updates         TEXT,
    commands                TEXT NOT NULL DEFAULT ''
);
CREATE INDEX bots_owner ON bots(owner, user_id);
