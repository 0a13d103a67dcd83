-- Search (schema version 7): full-text search inside PostgreSQL, in the same transaction
-- as the message (a generated column), behind the same contract as the embedded index.
--
-- `heliograph_words` folds a text exactly as `heliograph_core::words` does in Rust (see
-- crates/core/src/words.rs): compatibility decomposition, diacritics dropped, recomposition,
-- lower case (the database's ctype must be a UTF-8 one, as `C.UTF-8`), each Han ideograph
-- and kana its own word, everything that is not a letter or digit a separator. The 'simple'
-- configuration then takes the words as they are (no stemming, no stop words).
CREATE FUNCTION heliograph_words(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT regexp_replace(
    regexp_replace(
      lower(normalize(regexp_replace(normalize(t, NFKD),
        '[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]',
        '', 'g'), NFC)),
      '([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])', ' \1 ', 'g'),
    '[^[:alnum:]]+', ' ', 'g')
$$;
-- A message's words: its text (or caption) and its file's name. A deleted message has no
-- text and no file, so no words.
ALTER TABLE messages ADD COLUMN words tsvector GENERATED ALWAYS AS
  (to_tsvector('simple'::regconfig, heliograph_words(coalesce(text, '') || ' ' || coalesce(media_name, '')))) STORED;
CREATE INDEX messages_words ON messages USING gin (words);
-- Search by date inside a chat, and the recency part of ranking.
CREATE INDEX messages_date ON messages(chat_id, date);
-- Directory search: names, usernames and titles by trigram, so that `LIKE '%…%'` on the
-- folded name is served by an index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_name_trgm ON users USING gin (heliograph_words(name) gin_trgm_ops);
CREATE INDEX users_username_trgm ON users USING gin (lower(username) gin_trgm_ops);
CREATE INDEX chats_title_trgm ON chats USING gin (heliograph_words(title) gin_trgm_ops) WHERE username IS NOT NULL;
CREATE INDEX chats_username_trgm ON chats USING gin (lower(username) gin_trgm_ops) WHERE username IS NOT NULL;
