-- Bot API breadth (#19; schema version 9).
-- A bot's profile settings beyond its account's name and bio: names, descriptions and short
-- descriptions per language, menu buttons per private chat, the admin rights it suggests.
-- One row per setting; `setting` is the store's key (commands/bots.rs, `BotSetting`).
CREATE TABLE bot_settings (
    user_id INTEGER NOT NULL,
    setting TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (user_id, setting)
);
