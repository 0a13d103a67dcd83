-- Bots and the Bot API (schema version 3).
-- A bot is a user with an owner and no phone (`User.phone` reads as "" for it; NULLs do not
-- collide under the phone's UNIQUE constraint).
ALTER TABLE users ALTER COLUMN phone DROP NOT NULL;
ALTER TABLE users ADD COLUMN bot_owner BIGINT;
CREATE INDEX users_bot_owner ON users(bot_owner, id) WHERE bot_owner IS NOT NULL;
-- Copied from users.bot_owner when a member is added: events logged in a chat's own log are
-- also appended to the user log of every bot member, found through this index.
ALTER TABLE members ADD COLUMN bot BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX members_bots ON members(chat_id) WHERE bot;
-- Formatting entities and the inline keyboard, encoded by the store's codec (codec.rs).
ALTER TABLE messages ADD COLUMN entities TEXT;
ALTER TABLE messages ADD COLUMN markup TEXT;
-- A bot's Bot API settings: what it confirmed, where its updates go.
CREATE TABLE bots (
    user_id                 BIGINT PRIMARY KEY,
    owner                   BIGINT NOT NULL,
    confirmed               BIGINT NOT NULL DEFAULT 0,   -- the bot's log is confirmed up to this pts
    webhook_url             TEXT,
    webhook_secret          TEXT,
    webhook_max_connections BIGINT,
    webhook_set             BIGINT,
    webhook_error_date      BIGINT,
    webhook_error           TEXT,
    allowed_updates         TEXT,
    commands                TEXT NOT NULL DEFAULT ''
);
