-- Who may find an account by its phone number (schema version 4): 0 everybody (the default),
-- 1 only the account's own contacts, 2 nobody. See `heliograph_core::PhonePrivacy`.
ALTER TABLE users ADD COLUMN find_by_phone INTEGER NOT NULL DEFAULT 0;
