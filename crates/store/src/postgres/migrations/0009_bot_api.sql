-- Bot API breadth (#19; schema version 9): bot profiles and group moderation.
-- A bot's profile settings beyond its account's name and bio: names, descriptions and short
-- descriptions per language, menu buttons per private chat, the admin rights it suggests.
-- One row per setting; `setting` is the store's key (commands/bots.rs, `BotSetting`).
CREATE TABLE bot_settings (
    user_id BIGINT NOT NULL,
    setting TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (user_id, setting)
);

-- Groups moderated by their admins (the Bot API's ChatPermissions, restrictions and bans):
-- what members who are not admins may send (`Permissions` bits; no row: everything) and
-- the chat's description; a member's restriction, in force until `until` (NULL: for
-- ever); bans, which keep a person out (joining by link refused) until lifted or `until`.
CREATE TABLE chat_settings (
    chat_id     BIGINT PRIMARY KEY,
    allowed     BIGINT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE member_restrictions (
    chat_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    allowed BIGINT NOT NULL,
    until   BIGINT,
    PRIMARY KEY (chat_id, user_id)
);
CREATE TABLE chat_bans (
    chat_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    until   BIGINT,
    by_user BIGINT NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
