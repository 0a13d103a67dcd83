-- Daily use (#18). Reactions: one row per person and reaction on a message (`reaction` is
-- `heliograph_core::Reaction::encode`: `e:` + emoji or `c:` + custom emoji id); `pos` is
-- the order the person chose them in. Gone with the message when it is deleted for everyone.
CREATE TABLE reactions (
    chat_id  BIGINT NOT NULL,
    msg_id   BIGINT NOT NULL,
    user_id  BIGINT NOT NULL,
    reaction TEXT NOT NULL,
    pos      BIGINT NOT NULL,
    date     BIGINT NOT NULL,
    PRIMARY KEY (chat_id, msg_id, user_id, reaction)
);
-- Drafts: what a person typed in a chat and has not sent, one per (person, chat).
CREATE TABLE drafts (
    user_id  BIGINT NOT NULL,
    chat_id  BIGINT NOT NULL,
    text     TEXT NOT NULL,
    reply_to BIGINT,
    date     BIGINT NOT NULL,
    PRIMARY KEY (user_id, chat_id)
);
