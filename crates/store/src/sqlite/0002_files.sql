-- Files and media (schema version 2).
-- One row per completed upload, owned by its uploader; the bytes live in the object store
-- under their SHA-256, so identical content is stored once however many rows point at it.
CREATE TABLE files (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    owner   INTEGER NOT NULL,
    sha256  BLOB NOT NULL,
    size    INTEGER NOT NULL,
    name    TEXT NOT NULL,
    mime    TEXT NOT NULL,
    width   INTEGER,
    height  INTEGER,
    thumb   INTEGER,
    created INTEGER NOT NULL
);
CREATE INDEX files_owner ON files(owner);
-- A media message carries a copy of its file's details, so history needs no join.
ALTER TABLE messages ADD COLUMN media_file INTEGER;
ALTER TABLE messages ADD COLUMN media_name TEXT;
ALTER TABLE messages ADD COLUMN media_mime TEXT;
ALTER TABLE messages ADD COLUMN media_size INTEGER;
ALTER TABLE messages ADD COLUMN media_width INTEGER;
ALTER TABLE messages ADD COLUMN media_height INTEGER;
ALTER TABLE messages ADD COLUMN media_thumb INTEGER;
-- Who may download a file: members of chats holding a message with it.
CREATE INDEX messages_media_file ON messages(media_file, chat_id) WHERE media_file IS NOT NULL;
CREATE INDEX messages_media_thumb ON messages(media_thumb, chat_id) WHERE media_thumb IS NOT NULL;
