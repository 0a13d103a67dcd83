-- Secret chats and groups (MLS, RFC 9420; schema version 8). The server is the Delivery
-- Service: it holds key packages, the public view of each group and ciphertext, never a key.

-- A device (one session) that speaks MLS: its signature key, fixed at its first upload.
CREATE TABLE mls_devices (
    device_id     INTEGER PRIMARY KEY,         -- the session's id
    user_id       INTEGER NOT NULL,
    signature_key BLOB NOT NULL,
    created       INTEGER NOT NULL
);
CREATE INDEX mls_devices_user ON mls_devices(user_id);
-- The key package directory: one-time packages are deleted when claimed; the one
-- last-resort package of a device is handed out when none is left, and stays.
CREATE TABLE mls_key_packages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL,
    device_id   INTEGER NOT NULL,
    last_resort INTEGER NOT NULL,
    data        BLOB NOT NULL,
    hash        BLOB NOT NULL UNIQUE           -- SHA-256 of `data`: a package is stored once
);
CREATE INDEX mls_key_packages_device ON mls_key_packages(device_id, last_resort, id);
-- A chat with a row here is secret: its messages are MLS messages only.
CREATE TABLE mls_groups (
    chat_id    INTEGER PRIMARY KEY,
    group_id   BLOB NOT NULL UNIQUE,
    epoch      INTEGER NOT NULL,
    state      BLOB NOT NULL,                  -- the public group (tree, context), openmls' form
    group_info BLOB NOT NULL                   -- the newest GroupInfo, for joiners
);
-- Handshake and application messages, numbered in the chat's one message sequence.
CREATE TABLE mls_messages (
    chat_id   INTEGER NOT NULL,
    id        INTEGER NOT NULL,
    from_id   INTEGER NOT NULL,
    device_id INTEGER NOT NULL,
    date      INTEGER NOT NULL,
    kind      TEXT NOT NULL,                   -- commit | application | welcome
    epoch     INTEGER NOT NULL,
    data      BLOB NOT NULL,
    hash      BLOB NOT NULL,                   -- SHA-256 of `data`: a replay is refused
    random_id INTEGER,
    PRIMARY KEY (chat_id, id)
);
CREATE UNIQUE INDEX mls_messages_hash ON mls_messages(chat_id, hash);
CREATE UNIQUE INDEX mls_messages_send ON mls_messages(from_id, random_id);
