//! The SQL behind each store command, for PostgreSQL. Every function runs inside the caller's
//! transaction (writes: READ COMMITTED with explicit row locks; reads: a read-only REPEATABLE
//! READ snapshot). The decisions are the SQLite engine's (`sqlite/ops.rs`), made in the same
//! places: `view` authorizes, `heliograph_core::rules` decides permissions.
//!
//! # Locks
//! Several nodes write at once, so sequencing rests on row locks held until COMMIT:
//! - a command on a chat locks the chat's row first (`view_for_update`): its message
//!   sequence (`top_message`), its own log (`pts`) and its membership change one transaction
//!   at a time, and every later statement (READ COMMITTED takes a fresh snapshot for each)
//!   sees the newest committed state;
//! - then users' rows, whose `pts` sequences their logs, always in ascending id order
//!   (`lock_users`, or `member_ids` sorted by id), so two commands never wait on each other in
//!   a circle. A command locks at most one chat (`forward` reads its source without a lock).
//!   Bot members count among them: an event in a chat's own log is also appended to each bot
//!   member's log (`log_chat`), their rows taken after the chat's, in ascending id order, and
//!   taken up front with the others' by a membership change (`lock_for_membership`).

use heliograph_core::*;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::model::*;
use crate::{Error, Limits};

pub(super) use deadpool_postgres::ClientWrapper as Db;

/// Why a command did not complete: refused by the domain (final), or the database failed
/// (maybe worth a retry; see `mod.rs`).
#[derive(Debug)]
pub(super) enum Fail {
    Refused(Error),
    Db(tokio_postgres::Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Refused(e)
    }
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        Fail::Db(e)
    }
}

pub(super) type R<T> = std::result::Result<T, Fail>;

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

async fn query(c: &Db, sql: &str, params: Params<'_>) -> R<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query(&stmt, params).await?)
}

async fn query_opt(c: &Db, sql: &str, params: Params<'_>) -> R<Option<Row>> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&stmt, params).await?)
}

async fn query_one(c: &Db, sql: &str, params: Params<'_>) -> R<Row> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_one(&stmt, params).await?)
}

async fn execute(c: &Db, sql: &str, params: Params<'_>) -> R<u64> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.execute(&stmt, params).await?)
}

// --- rows ----------------------------------------------------------------------------------

const USER_COLS: &str = "id, phone, name, username, bio, created, bot_owner";
/// [`USER_COLS`] of a `users` table joined as `u`.
const U_COLS: &str = "u.id, u.phone, u.name, u.username, u.bio, u.created, u.bot_owner";

fn user_row(r: &Row) -> User {
    User {
        id: UserId(r.get(0)),
        // Bots have no phone.
        phone: r.get::<_, Option<String>>(1).unwrap_or_default(),
        name: r.get(2),
        username: r.get(3),
        bio: r.get(4),
        created: r.get(5),
        bot_owner: r.get::<_, Option<i64>>(6).map(UserId),
    }
}

const CHAT_COLS: &str = "id, kind, title, username, creator, member_count, pinned, own_log, pts, top_message, created, activity";

fn chat_row(r: &Row) -> Chat {
    let kind: String = r.get(1);
    Chat {
        id: ChatId(r.get(0)),
        kind: ChatKind::parse(&kind).unwrap_or(ChatKind::Group),
        title: r.get(2),
        username: r.get(3),
        creator: UserId(r.get(4)),
        member_count: r.get::<_, i64>(5) as u64,
        pinned: r.get::<_, Option<i64>>(6).map(MessageId),
        own_log: r.get(7),
        pts: r.get(8),
        top_message: MessageId(r.get(9)),
        created: r.get(10),
        activity: r.get(11),
    }
}

const MEMBER_COLS: &str = "chat_id, user_id, role, joined, read_inbox, read_outbox";

fn member_row(r: &Row) -> Membership {
    let role: String = r.get(2);
    Membership {
        chat: ChatId(r.get(0)),
        user: UserId(r.get(1)),
        role: Role::parse(&role).unwrap_or(Role::Member),
        joined: r.get(3),
        read_inbox: MessageId(r.get(4)),
        read_outbox: MessageId(r.get(5)),
    }
}

const MESSAGE_COLS: &str = "chat_id, id, from_id, date, kind, text, reply_to, fwd_user, fwd_chat, fwd_msg, fwd_date, edit_date, media_file, media_name, media_mime, media_size, media_width, media_height, media_thumb, entities, markup";

fn message_row(r: &Row) -> Message {
    let text: Option<String> = r.get(5);
    let fwd_user: Option<i64> = r.get(7);
    let forward = fwd_user.map(|u| Forward {
        from_user: UserId(u),
        from_chat: ChatId(r.get::<_, Option<i64>>(8).unwrap_or(0)),
        message: MessageId(r.get::<_, Option<i64>>(9).unwrap_or(0)),
        date: r.get::<_, Option<i64>>(10).unwrap_or(0),
    });
    // Stored text was checked when it was written; a row that fails the check again is
    // shown as it is rather than hidden.
    let media_file: Option<i64> = r.get(12);
    let content = match media_file {
        Some(file) => {
            let kind: String = r.get(4);
            Content::Media(Media {
                kind: MediaKind::parse(&kind).unwrap_or(MediaKind::Document),
                file: FileId(file),
                name: r.get::<_, Option<String>>(13).unwrap_or_default(),
                mime: r.get::<_, Option<String>>(14).unwrap_or_default(),
                size: r.get::<_, Option<i64>>(15).unwrap_or(0) as u64,
                width: r.get::<_, Option<i64>>(16).map(|w| w as u32),
                height: r.get::<_, Option<i64>>(17).map(|h| h as u32),
                thumb: r.get::<_, Option<i64>>(18).map(FileId),
                caption: text.filter(|t| !t.is_empty()).map(|t| MessageText::parse(t.clone()).unwrap_or_else(|_| stored_text(t))),
            })
        }
        None => {
            let text = text.unwrap_or_default();
            Content::Text(MessageText::parse(text.clone()).unwrap_or_else(|_| stored_text(text)))
        }
    };
    Message {
        chat: ChatId(r.get(0)),
        id: MessageId(r.get(1)),
        from: UserId(r.get(2)),
        date: r.get(3),
        content,
        entities: decode_entities(r.get(19)),
        keyboard: decode_keyboard(r.get(20)),
        reply_to: r.get::<_, Option<i64>>(6).map(MessageId),
        forward,
        edit_date: r.get(11),
    }
}

// Entities and keyboards are stored as the codec shared with the SQLite engine encodes them.

fn encode_entities(entities: &[Entity]) -> Option<String> {
    crate::codec::encode_entities(entities)
}

fn decode_entities(stored: Option<String>) -> Vec<Entity> {
    crate::codec::decode_entities(stored.as_deref())
}

fn encode_keyboard(keyboard: Option<&Keyboard>) -> Option<String> {
    crate::codec::encode_keyboard(keyboard)
}

fn decode_keyboard(stored: Option<String>) -> Option<Keyboard> {
    crate::codec::decode_keyboard(stored.as_deref())
}

fn stored_text(text: String) -> MessageText {
    MessageText::parse(if text.trim().is_empty() { "\u{2060}".to_string() } else { text.chars().take(MAX_TEXT_CHARS).collect() })
        .unwrap_or_else(|_| stored_text(String::new()))
}

fn session_row(r: &Row) -> Session {
    Session { id: SessionId(r.get(0)), user: UserId(r.get(1)), device: r.get(2), created: r.get(3), last_active: r.get(4) }
}

// --- sign-in -------------------------------------------------------------------------------

pub async fn save_login_code(c: &Db, phone: &Phone, code: &LoginCodeHash) -> R<()> {
    execute(
        c,
        "INSERT INTO login_codes (phone, salt, hash, expires, attempts) VALUES ($1, $2, $3, $4, 0)
         ON CONFLICT (phone) DO UPDATE SET salt = EXCLUDED.salt, hash = EXCLUDED.hash, expires = EXCLUDED.expires, attempts = 0",
        &[&phone.as_str(), &code.salt, &code.hash, &code.expires],
    )
    .await?;
    Ok(())
}

pub async fn login_attempt(c: &Db, phone: &Phone) -> R<Option<LoginCodeHash>> {
    let row = query_opt(
        c,
        "UPDATE login_codes SET attempts = attempts + 1 WHERE phone = $1 RETURNING salt, hash, expires, attempts",
        &[&phone.as_str()],
    )
    .await?;
    Ok(row.map(|r| LoginCodeHash { salt: r.get(0), hash: r.get(1), expires: r.get(2), attempts: r.get::<_, i64>(3) as u32 }))
}

pub async fn delete_login_code(c: &Db, phone: &Phone) -> R<()> {
    execute(c, "DELETE FROM login_codes WHERE phone = $1", &[&phone.as_str()]).await?;
    Ok(())
}

pub async fn user_by_phone(c: &Db, phone: &Phone) -> R<Option<User>> {
    Ok(query_opt(c, &format!("SELECT {USER_COLS} FROM users WHERE phone = $1"), &[&phone.as_str()]).await?.as_ref().map(user_row))
}

pub async fn create_user(c: &Db, phone: &Phone, name: &DisplayName) -> R<User> {
    // Two nodes signing up one phone at once: the second waits for the first and finds it.
    let inserted = query_opt(
        c,
        &format!("INSERT INTO users (phone, name, created) VALUES ($1, $2, $3) ON CONFLICT (phone) DO NOTHING RETURNING {USER_COLS}"),
        &[&phone.as_str(), &name.as_str(), &now()],
    )
    .await?;
    match inserted {
        Some(r) => Ok(user_row(&r)),
        None => user_by_phone(c, phone).await?.ok_or_else(|| Error::Internal("a user vanished while signing up".into()).into()),
    }
}

pub async fn create_session(c: &Db, user: UserId, token_hash: &[u8], device: &str) -> R<Session> {
    let now = now();
    let r = query_one(
        c,
        "INSERT INTO sessions (user_id, token_hash, device, created, last_active) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        &[&user.0, &token_hash, &device, &now],
    )
    .await?;
    Ok(Session { id: SessionId(r.get(0)), user, device: device.to_string(), created: now, last_active: now })
}

pub async fn session_by_token(c: &Db, token_hash: &[u8]) -> R<Option<Session>> {
    let row = query_opt(
        c,
        "UPDATE sessions SET last_active = $2 WHERE token_hash = $1 RETURNING id, user_id, device, created, last_active",
        &[&token_hash, &now()],
    )
    .await?;
    Ok(row.as_ref().map(session_row))
}

pub async fn sessions(c: &Db, user: UserId) -> R<Vec<Session>> {
    let rows =
        query(c, "SELECT id, user_id, device, created, last_active FROM sessions WHERE user_id = $1 ORDER BY id", &[&user.0]).await?;
    Ok(rows.iter().map(session_row).collect())
}

pub async fn revoke_session(c: &Db, user: UserId, session: SessionId) -> R<bool> {
    Ok(execute(c, "DELETE FROM sessions WHERE id = $1 AND user_id = $2", &[&session.0, &user.0]).await? > 0)
}

// --- people --------------------------------------------------------------------------------

async fn user(c: &Db, id: UserId) -> R<User> {
    match query_opt(c, &format!("SELECT {USER_COLS} FROM users WHERE id = $1"), &[&id.0]).await? {
        Some(r) => Ok(user_row(&r)),
        None => Err(Error::UserNotFound.into()),
    }
}

async fn user_exists(c: &Db, id: UserId) -> R<bool> {
    Ok(query_opt(c, "SELECT 1 FROM users WHERE id = $1", &[&id.0]).await?.is_some())
}

/// How a new member learns of a chat from their own log: people by `ChatChanged` (their
/// clients load the chat); bots by a `Participant` event naming themselves (the Bot API's
/// `my_chat_member`).
async fn joined(c: &Db, chat: ChatId, user: UserId, role: Role, by: UserId) -> R<Event> {
    Ok(if is_bot(c, user).await? { Event::Participant { chat, user, role: Some(role), by } } else { Event::ChatChanged { chat } })
}

async fn is_bot(c: &Db, id: UserId) -> R<bool> {
    Ok(query_opt(c, "SELECT 1 FROM users WHERE id = $1 AND bot_owner IS NOT NULL", &[&id.0]).await?.is_some())
}

pub async fn users(c: &Db, ids: &[UserId]) -> R<Vec<User>> {
    let raw: Vec<i64> = ids.iter().map(|u| u.0).collect();
    let rows = query(c, &format!("SELECT {USER_COLS} FROM users WHERE id = ANY($1)"), &[&raw]).await?;
    let found: std::collections::HashMap<i64, User> = rows.iter().map(|r| (r.get(0), user_row(r))).collect();
    Ok(ids.iter().filter_map(|id| found.get(&id.0).cloned()).collect())
}

async fn exists(c: &Db, sql: &str, a: i64, b: i64) -> R<bool> {
    Ok(query_opt(c, sql, &[&a, &b]).await?.is_some())
}

async fn is_contact(c: &Db, owner: UserId, contact: UserId) -> R<bool> {
    exists(c, "SELECT 1 FROM contacts WHERE owner = $1 AND contact = $2", owner.0, contact.0).await
}

async fn is_blocked(c: &Db, owner: UserId, target: UserId) -> R<bool> {
    exists(c, "SELECT 1 FROM blocks WHERE owner = $1 AND target = $2", owner.0, target.0).await
}

pub async fn relations(c: &Db, viewer: UserId, others: &[UserId]) -> R<Vec<Relation>> {
    let mut out = Vec::with_capacity(others.len());
    for &o in others {
        out.push(Relation {
            contact: is_contact(c, viewer, o).await?,
            contact_of: is_contact(c, o, viewer).await?,
            blocked: is_blocked(c, viewer, o).await?,
        });
    }
    Ok(out)
}

async fn username_holder(c: &Db, name: &Username) -> R<Option<(Option<i64>, Option<i64>)>> {
    Ok(query_opt(c, "SELECT user_id, chat_id FROM usernames WHERE key = $1", &[&name.key()]).await?.map(|r| (r.get(0), r.get(1))))
}

pub async fn resolve(c: &Db, username: &Username) -> R<Option<Resolved>> {
    Ok(match username_holder(c, username).await? {
        Some((Some(u), _)) => Some(Resolved::User(user(c, UserId(u)).await?)),
        Some((None, Some(ch))) => load_chat(c, ChatId(ch)).await?.map(Resolved::Chat),
        _ => None,
    })
}

pub async fn update_profile(c: &Db, id: UserId, name: Option<&DisplayName>, bio: Option<&Bio>) -> R<User> {
    if let Some(name) = name {
        execute(c, "UPDATE users SET name = $2 WHERE id = $1", &[&id.0, &name.as_str()]).await?;
    }
    if let Some(bio) = bio {
        execute(c, "UPDATE users SET bio = $2 WHERE id = $1", &[&id.0, &bio.as_str()]).await?;
    }
    user(c, id).await
}

/// Claims `name` for a user or a chat in the one shared namespace. A concurrent claim of the
/// same name waits on the key and then sees the winner.
async fn claim_username(c: &Db, name: &Username, user: Option<UserId>, chat: Option<ChatId>) -> R<()> {
    let (user, chat) = (user.map(|u| u.0), chat.map(|c| c.0));
    let claimed = execute(
        c,
        "INSERT INTO usernames (key, user_id, chat_id) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
        &[&name.key(), &user, &chat],
    )
    .await?;
    if claimed > 0 {
        return Ok(());
    }
    match username_holder(c, name).await? {
        Some((u, ch)) if u == user && ch == chat => Ok(()),
        _ => Err(Error::UsernameOccupied.into()),
    }
}

pub async fn set_username(c: &Db, id: UserId, username: Option<&Username>) -> R<User> {
    let current = user(c, id).await?;
    if let Some(name) = username {
        claim_username(c, name, Some(id), None).await?;
    }
    if let Some(old) = current.username.as_deref().and_then(|n| Username::parse(n).ok()) {
        if username.map(Username::key) != Some(old.key()) {
            execute(c, "DELETE FROM usernames WHERE key = $1 AND user_id = $2", &[&old.key(), &id.0]).await?;
        }
    }
    execute(c, "UPDATE users SET username = $2 WHERE id = $1", &[&id.0, &username.map(Username::as_str)]).await?;
    user(c, id).await
}

pub async fn add_contact(c: &Db, owner: UserId, contact: UserId) -> R<()> {
    if owner == contact || !user_exists(c, contact).await? {
        return Err(Error::UserNotFound.into());
    }
    execute(c, "INSERT INTO contacts (owner, contact) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&owner.0, &contact.0]).await?;
    Ok(())
}

pub async fn remove_contact(c: &Db, owner: UserId, contact: UserId) -> R<()> {
    execute(c, "DELETE FROM contacts WHERE owner = $1 AND contact = $2", &[&owner.0, &contact.0]).await?;
    Ok(())
}

pub async fn contacts(c: &Db, owner: UserId) -> R<Vec<User>> {
    let rows = query(
        c,
        &format!("SELECT {U_COLS} FROM contacts k JOIN users u ON u.id = k.contact WHERE k.owner = $1 ORDER BY u.name, u.id"),
        &[&owner.0],
    )
    .await?;
    Ok(rows.iter().map(user_row).collect())
}

pub async fn set_blocked(c: &Db, owner: UserId, target: UserId, blocked: bool) -> R<()> {
    if owner == target || !user_exists(c, target).await? {
        return Err(Error::UserNotFound.into());
    }
    if blocked {
        execute(c, "INSERT INTO blocks (owner, target) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&owner.0, &target.0]).await?;
    } else {
        execute(c, "DELETE FROM blocks WHERE owner = $1 AND target = $2", &[&owner.0, &target.0]).await?;
    }
    Ok(())
}

/// `users.find_by_phone`: 0 everybody, 1 contacts, 2 nobody.
fn privacy_code(privacy: PhonePrivacy) -> i16 {
    match privacy {
        PhonePrivacy::Everybody => 0,
        PhonePrivacy::Contacts => 1,
        PhonePrivacy::Nobody => 2,
    }
}

pub async fn phone_privacy(c: &Db, user: UserId) -> R<PhonePrivacy> {
    let row = query_opt(c, "SELECT find_by_phone FROM users WHERE id = $1", &[&user.0]).await?;
    match row.map(|r| r.get::<_, i16>(0)) {
        None => Err(Error::UserNotFound.into()),
        Some(1) => Ok(PhonePrivacy::Contacts),
        Some(2) => Ok(PhonePrivacy::Nobody),
        Some(_) => Ok(PhonePrivacy::Everybody),
    }
}

pub async fn set_phone_privacy(c: &Db, user: UserId, privacy: PhonePrivacy) -> R<()> {
    match execute(c, "UPDATE users SET find_by_phone = $2 WHERE id = $1", &[&user.0, &privacy_code(privacy)]).await? {
        0 => Err(Error::UserNotFound.into()),
        _ => Ok(()),
    }
}

pub async fn blocked(c: &Db, owner: UserId) -> R<Vec<User>> {
    let rows = query(
        c,
        &format!("SELECT {U_COLS} FROM blocks b JOIN users u ON u.id = b.target WHERE b.owner = $1 ORDER BY u.name, u.id"),
        &[&owner.0],
    )
    .await?;
    Ok(rows.iter().map(user_row).collect())
}

// --- the update logs -----------------------------------------------------------------------

/// An event as stored: (kind, chat, a, b, ids).
type Encoded = (&'static str, i64, Option<i64>, Option<i64>, Option<String>);

fn encode(event: &Event) -> Encoded {
    match event {
        Event::NewMessage(m) => ("new_message", m.chat.0, Some(m.id.0), None, None),
        Event::EditMessage(m) => ("edit_message", m.chat.0, Some(m.id.0), None, None),
        Event::DeleteMessages { chat, ids } => {
            let ids = ids.iter().map(|i| i.0.to_string()).collect::<Vec<_>>().join(",");
            ("delete_messages", chat.0, None, None, Some(ids))
        }
        Event::ReadInbox { chat, max_id } => ("read_inbox", chat.0, Some(max_id.0), None, None),
        Event::ReadOutbox { chat, max_id } => ("read_outbox", chat.0, Some(max_id.0), None, None),
        Event::Pinned { chat, id } => ("pinned", chat.0, id.map(|i| i.0), None, None),
        Event::Participant { chat, user, role, by } => {
            ("participant", chat.0, Some(user.0), Some(by.0), role.map(|r| r.as_str().to_string()))
        }
        Event::ChatChanged { chat } => ("chat", chat.0, None, None, None),
        Event::CallbackQuery { chat, message, from, data } => ("callback", chat.0, Some(message.0), Some(from.0), Some(data.clone())),
    }
}

/// Rebuilds an event from its row. Messages are read as they are now; a message deleted
/// since gives `None` (its deletion follows later in the same log).
async fn decode(c: &Db, kind: &str, chat: i64, a: Option<i64>, b: Option<i64>, ids: Option<String>) -> R<Option<Event>> {
    let chat = ChatId(chat);
    let a = a.unwrap_or(0);
    Ok(match kind {
        "new_message" => message(c, chat, MessageId(a)).await?.map(Event::NewMessage),
        "edit_message" => message(c, chat, MessageId(a)).await?.map(Event::EditMessage),
        "delete_messages" => {
            let ids = ids.unwrap_or_default().split(',').filter_map(|s| s.parse().ok()).map(MessageId).collect();
            Some(Event::DeleteMessages { chat, ids })
        }
        "read_inbox" => Some(Event::ReadInbox { chat, max_id: MessageId(a) }),
        "read_outbox" => Some(Event::ReadOutbox { chat, max_id: MessageId(a) }),
        "pinned" => Some(Event::Pinned { chat, id: (a != 0).then_some(MessageId(a)) }),
        "participant" => {
            Some(Event::Participant { chat, user: UserId(a), role: ids.as_deref().and_then(Role::parse), by: UserId(b.unwrap_or(0)) })
        }
        "chat" => Some(Event::ChatChanged { chat }),
        "callback" => {
            Some(Event::CallbackQuery { chat, message: MessageId(a), from: UserId(b.unwrap_or(0)), data: ids.unwrap_or_default() })
        }
        other => return Err(Error::Internal(format!("unknown update kind `{other}` in the log")).into()),
    })
}

/// Locks the rows of `ids` in ascending id order, for a command that will append to several
/// users' logs in more than one round (see the module's `# Locks`).
async fn lock_users(c: &Db, ids: &[UserId]) -> R<()> {
    let mut raw: Vec<i64> = ids.iter().map(|u| u.0).collect();
    raw.sort_unstable();
    raw.dedup();
    query(c, "SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE", &[&raw]).await?;
    Ok(())
}

/// Appends `event` to `user`'s log; returns its pts. The UPDATE locks the user's row until
/// COMMIT, so the next event in this log waits for this one: the log has no gap.
async fn log_user(c: &Db, out: &mut Vec<Logged>, user: UserId, event: Event) -> R<Pts> {
    let pts: Pts = query_one(c, "UPDATE users SET pts = pts + 1 WHERE id = $1 RETURNING pts", &[&user.0]).await?.get(0);
    let date = now();
    let (kind, chat, a, b, ids) = encode(&event);
    execute(
        c,
        "INSERT INTO user_updates (user_id, pts, date, kind, chat_id, a, b, ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&user.0, &pts, &date, &kind, &chat, &a, &b, &ids],
    )
    .await?;
    out.push(Logged { log: Log::User(user), pts, date, event });
    Ok(pts)
}

/// Appends `event` to a chat's own log; returns its pts. A bot follows its own log only, so
/// the event is also appended to the user log of every bot member (after the chat's row,
/// their rows in ascending id order).
async fn log_chat(c: &Db, out: &mut Vec<Logged>, chat: ChatId, event: Event) -> R<Pts> {
    log_chat_except(c, out, chat, event, None).await
}

/// [`log_chat`], copying to every bot member but `except` (who is told on their own).
async fn log_chat_except(c: &Db, out: &mut Vec<Logged>, chat: ChatId, event: Event, except: Option<UserId>) -> R<Pts> {
    let pts: Pts = query_one(c, "UPDATE chats SET pts = pts + 1 WHERE id = $1 RETURNING pts", &[&chat.0]).await?.get(0);
    let date = now();
    let (kind, _, a, b, ids) = encode(&event);
    execute(
        c,
        "INSERT INTO chat_updates (chat_id, pts, date, kind, a, b, ids) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&chat.0, &pts, &date, &kind, &a, &b, &ids],
    )
    .await?;
    out.push(Logged { log: Log::Chat(chat), pts, date, event: event.clone() });
    for bot in bot_member_ids(c, chat).await? {
        if Some(bot) != except {
            log_user(c, out, bot, event.clone()).await?;
        }
    }
    Ok(pts)
}

/// The chat's bot members in ascending id order: the order their rows are locked in.
async fn bot_member_ids(c: &Db, chat: ChatId) -> R<Vec<UserId>> {
    let rows = query(c, "SELECT user_id FROM members WHERE chat_id = $1 AND bot ORDER BY user_id", &[&chat.0]).await?;
    Ok(rows.iter().map(|r| UserId(r.get(0))).collect())
}

/// Members in ascending id order: the order their rows are locked in.
async fn member_ids(c: &Db, chat: ChatId) -> R<Vec<UserId>> {
    let rows = query(c, "SELECT user_id FROM members WHERE chat_id = $1 ORDER BY user_id", &[&chat.0]).await?;
    Ok(rows.iter().map(|r| UserId(r.get(0))).collect())
}

/// Logs an event every member must see: once in the chat's own log, or once per member.
/// Returns the pts `actor` should see it at.
async fn log_for_chat(c: &Db, out: &mut Vec<Logged>, chat: &Chat, actor: UserId, event: Event) -> R<Pts> {
    if chat.own_log {
        return log_chat(c, out, chat.id, event).await;
    }
    let mut actor_pts = 0;
    for member in member_ids(c, chat.id).await? {
        let pts = log_user(c, out, member, event.clone()).await?;
        if member == actor {
            actor_pts = pts;
        }
    }
    Ok(actor_pts)
}

// --- chats ---------------------------------------------------------------------------------

pub async fn load_chat(c: &Db, id: ChatId) -> R<Option<Chat>> {
    Ok(query_opt(c, &format!("SELECT {CHAT_COLS} FROM chats WHERE id = $1"), &[&id.0]).await?.as_ref().map(chat_row))
}

async fn load_chat_for_update(c: &Db, id: ChatId) -> R<Option<Chat>> {
    Ok(query_opt(c, &format!("SELECT {CHAT_COLS} FROM chats WHERE id = $1 FOR UPDATE"), &[&id.0]).await?.as_ref().map(chat_row))
}

async fn membership(c: &Db, chat: ChatId, user: UserId) -> R<Option<Membership>> {
    Ok(query_opt(c, &format!("SELECT {MEMBER_COLS} FROM members WHERE chat_id = $1 AND user_id = $2"), &[&chat.0, &user.0])
        .await?
        .as_ref()
        .map(member_row))
}

async fn private_peer(c: &Db, chat: &Chat, user: UserId) -> R<Option<UserId>> {
    if chat.kind != ChatKind::Private {
        return Ok(None);
    }
    let other: Option<i64> =
        query_opt(c, "SELECT user_id FROM members WHERE chat_id = $1 AND user_id <> $2", &[&chat.id.0, &user.0]).await?.map(|r| r.get(0));
    Ok(Some(other.map(UserId).unwrap_or(user)))
}

async fn view_of(c: &Db, user: UserId, chat: Option<Chat>) -> R<View> {
    let chat = chat.ok_or(Error::ChatNotFound)?;
    let membership = membership(c, chat.id, user).await?.ok_or(Error::ChatNotFound)?;
    let peer = private_peer(c, &chat, user).await?;
    Ok(View { chat, membership, peer })
}

/// The authorization choke point: the chat as `user` sees it, or `ChatNotFound` when it does
/// not exist or `user` is not a member (the two are indistinguishable on purpose).
pub async fn view(c: &Db, user: UserId, chat: ChatId) -> R<View> {
    let chat = load_chat(c, chat).await?;
    view_of(c, user, chat).await
}

/// [`view`] for a command that changes the chat: locks the chat's row first, so the
/// membership it checks and the sequence numbers it takes cannot change under it.
async fn view_for_update(c: &Db, user: UserId, chat: ChatId) -> R<View> {
    let chat = load_chat_for_update(c, chat).await?;
    view_of(c, user, chat).await
}

async fn insert_member(c: &Db, chat: ChatId, user: UserId, role: Role, top: MessageId) -> R<bool> {
    // A new member has nothing unread from before they joined. `bot` marks the members whose
    // own log also gets the chat's own-log events (see `log_chat`).
    let added = execute(
        c,
        "INSERT INTO members (chat_id, user_id, role, joined, read_inbox, read_outbox, bot)
         VALUES ($1, $2, $3, $4, $5, 0, COALESCE((SELECT bot_owner IS NOT NULL FROM users WHERE id = $2), FALSE)) ON CONFLICT DO NOTHING",
        &[&chat.0, &user.0, &role.as_str(), &now(), &top.0],
    )
    .await?
        > 0;
    if added {
        execute(c, "UPDATE chats SET member_count = member_count + 1 WHERE id = $1", &[&chat.0]).await?;
    }
    Ok(added)
}

async fn chat_or_missing(c: &Db, id: ChatId) -> R<Chat> {
    Ok(load_chat(c, id).await?.ok_or(Error::ChatNotFound)?)
}

pub async fn open_private(c: &Db, user: UserId, peer: UserId) -> R<Chat> {
    if !user_exists(c, peer).await? {
        return Err(Error::UserNotFound.into());
    }
    let pair = format!("{}:{}", user.0.min(peer.0), user.0.max(peer.0));
    // Both people opening the chat at once: the second waits on the pair and finds it.
    let created = query_opt(
        c,
        "INSERT INTO chats (kind, title, creator, created, activity, pair) VALUES ('private', '', $1, $2, $3, $4) ON CONFLICT (pair) DO NOTHING RETURNING id",
        &[&user.0, &now(), &now_ms(), &pair],
    )
    .await?;
    let id = match created {
        Some(r) => ChatId(r.get(0)),
        None => {
            let existing = query_one(c, "SELECT id FROM chats WHERE pair = $1", &[&pair]).await?;
            return chat_or_missing(c, ChatId(existing.get(0))).await;
        }
    };
    insert_member(c, id, user, Role::Member, MessageId(0)).await?;
    insert_member(c, id, peer, Role::Member, MessageId(0)).await?;
    chat_or_missing(c, id).await
}

#[allow(clippy::too_many_arguments)]
pub async fn create_chat(
    c: &Db,
    limits: &Limits,
    out: &mut Vec<Logged>,
    creator: UserId,
    kind: ChatKind,
    title: &Title,
    username: Option<&Username>,
    members: &[UserId],
) -> R<Chat> {
    if kind == ChatKind::Private {
        return Err(Error::Invalid("private chats are opened with a user, not created".into()).into());
    }
    let mut wanted: Vec<UserId> = members.iter().copied().filter(|&m| m != creator).collect();
    wanted.sort();
    wanted.dedup();
    for &m in &wanted {
        if !user_exists(c, m).await? {
            return Err(Error::UserNotFound.into());
        }
    }
    if kind == ChatKind::Group && wanted.len() as u64 + 1 > MAX_GROUP_MEMBERS {
        return Err(Error::TooManyMembers.into());
    }
    let own_log = keeps_own_log(kind, wanted.len() as u64 + 1, limits.large_group_threshold);
    let id: i64 = query_one(
        c,
        "INSERT INTO chats (kind, title, username, creator, own_log, created, activity) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[&kind.as_str(), &title.as_str(), &username.map(Username::as_str), &creator.0, &own_log, &now(), &now_ms()],
    )
    .await?
    .get(0);
    let id = ChatId(id);
    if let Some(name) = username {
        claim_username(c, name, None, Some(id)).await?;
    }
    insert_member(c, id, creator, Role::Creator, MessageId(0)).await?;
    for &m in &wanted {
        insert_member(c, id, m, Role::Member, MessageId(0)).await?;
    }
    // Everyone in it learns about the chat from their own log; ascending ids keep the lock order.
    let mut everyone: Vec<UserId> = std::iter::once(creator).chain(wanted).collect();
    everyone.sort();
    for m in everyone {
        let role = if m == creator { Role::Creator } else { Role::Member };
        log_user(c, out, m, joined(c, id, m, role, creator).await?).await?;
    }
    chat_or_missing(c, id).await
}

fn require_manage(view: &View) -> R<()> {
    if can_manage(view.chat.kind, view.membership.role) {
        Ok(())
    } else {
        Err(Error::AdminRequired.into())
    }
}

/// After members joined: a group that grew past the threshold starts its own log, and every
/// member is told through their own log.
async fn maybe_grow_own_log(c: &Db, limits: &Limits, out: &mut Vec<Logged>, chat: ChatId) -> R<Chat> {
    let current = chat_or_missing(c, chat).await?;
    if current.own_log || !keeps_own_log(current.kind, current.member_count, limits.large_group_threshold) {
        return Ok(current);
    }
    execute(c, "UPDATE chats SET own_log = TRUE WHERE id = $1", &[&chat.0]).await?;
    for m in member_ids(c, chat).await? {
        log_user(c, out, m, Event::ChatChanged { chat }).await?;
    }
    chat_or_missing(c, chat).await
}

/// Announces that `user` joined `chat` (added by `by`).
async fn announce_join(c: &Db, out: &mut Vec<Logged>, chat: &Chat, user: UserId, by: UserId) -> R<()> {
    let event = Event::Participant { chat: chat.id, user, role: Some(Role::Member), by };
    match (chat.kind, chat.own_log) {
        // Channels do not announce subscribers to each other.
        (ChatKind::Channel, _) => {}
        (_, true) => {
            // A joining bot learns of the chat below, like every joiner.
            log_chat_except(c, out, chat.id, event, Some(user)).await?;
        }
        (_, false) => {
            for m in member_ids(c, chat.id).await? {
                if m != user {
                    log_user(c, out, m, event.clone()).await?;
                }
            }
        }
    }
    log_user(c, out, user, joined(c, chat.id, user, Role::Member, by).await?).await?;
    Ok(())
}

/// Locks the user rows a membership change may log to: every member's (and `extra`) while
/// the chat writes per-member logs, only `extra` and the bot members (who get copies of the
/// chat's own log) once it keeps its own log (a channel's subscribers are never touched one
/// by one).
async fn lock_for_membership(c: &Db, chat: &Chat, extra: &[UserId]) -> R<()> {
    let mut ids = extra.to_vec();
    if chat.own_log {
        ids.extend(bot_member_ids(c, chat.id).await?);
    } else {
        ids.extend(member_ids(c, chat.id).await?);
    }
    lock_users(c, &ids).await
}

pub async fn add_members(c: &Db, limits: &Limits, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, users: &[UserId]) -> R<Chat> {
    let v = view_for_update(c, actor, chat).await?;
    require_manage(&v)?;
    for &u in users {
        if !user_exists(c, u).await? {
            return Err(Error::UserNotFound.into());
        }
    }
    lock_for_membership(c, &v.chat, users).await?;
    let mut added = Vec::new();
    for &u in users {
        if insert_member(c, chat, u, Role::Member, v.chat.top_message).await? {
            added.push(u);
        }
    }
    let grown = maybe_grow_own_log(c, limits, out, chat).await?;
    if grown.kind == ChatKind::Group && grown.member_count > MAX_GROUP_MEMBERS {
        return Err(Error::TooManyMembers.into());
    }
    for u in added {
        announce_join(c, out, &grown, u, actor).await?;
    }
    chat_or_missing(c, chat).await
}

pub async fn remove_member(c: &Db, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, user: UserId) -> R<()> {
    let v = view_for_update(c, actor, chat).await?;
    if v.chat.kind == ChatKind::Private {
        return Err(Error::Invalid("you cannot leave or remove people from a private chat".into()).into());
    }
    let target = if actor == user { v.membership.clone() } else { membership(c, chat, user).await?.ok_or(Error::UserNotFound)? };
    if actor != user {
        require_manage(&v)?;
        if !can_remove(v.membership.role, target.role) {
            return Err(Error::AdminRequired.into());
        }
    }
    let heir = if target.role == Role::Creator { heir(c, chat, user).await? } else { None };
    lock_for_membership(c, &v.chat, &[Some(user), heir].into_iter().flatten().collect::<Vec<_>>()).await?;
    let event = Event::Participant { chat, user, role: None, by: actor };
    if v.chat.own_log {
        if v.chat.kind != ChatKind::Channel {
            // A leaving bot is told once, below.
            log_chat_except(c, out, chat, event.clone(), Some(user)).await?;
        }
        log_user(c, out, user, event).await?;
    } else {
        log_for_chat(c, out, &v.chat, actor, event).await?;
    }
    execute(c, "DELETE FROM members WHERE chat_id = $1 AND user_id = $2", &[&chat.0, &user.0]).await?;
    execute(c, "UPDATE chats SET member_count = member_count - 1 WHERE id = $1", &[&chat.0]).await?;
    if let Some(heir) = heir {
        hand_over(c, out, &v.chat, user, heir).await?;
    }
    Ok(())
}

/// Who takes over from a leaving creator: the longest-standing admin, or else the
/// longest-standing member.
async fn heir(c: &Db, chat: ChatId, leaver: UserId) -> R<Option<UserId>> {
    let row = query_opt(
        c,
        "SELECT user_id FROM members WHERE chat_id = $1 AND user_id <> $2 ORDER BY role = 'admin' DESC, joined, user_id LIMIT 1",
        &[&chat.0, &leaver.0],
    )
    .await?;
    Ok(row.map(|r| UserId(r.get(0))))
}

/// A creator who leaves hands the chat to `heir`, so someone can always manage it.
async fn hand_over(c: &Db, out: &mut Vec<Logged>, chat: &Chat, leaver: UserId, heir: UserId) -> R<()> {
    execute(c, "UPDATE members SET role = 'creator' WHERE chat_id = $1 AND user_id = $2", &[&chat.id.0, &heir.0]).await?;
    execute(c, "UPDATE chats SET creator = $2 WHERE id = $1", &[&chat.id.0, &heir.0]).await?;
    let event = Event::Participant { chat: chat.id, user: heir, role: Some(Role::Creator), by: leaver };
    if chat.kind == ChatKind::Channel {
        log_user(c, out, heir, event).await?;
    } else {
        log_for_chat(c, out, chat, leaver, event).await?;
    }
    Ok(())
}

pub async fn set_title(c: &Db, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, title: &Title) -> R<Chat> {
    let v = view_for_update(c, actor, chat).await?;
    require_manage(&v)?;
    execute(c, "UPDATE chats SET title = $2 WHERE id = $1", &[&chat.0, &title.as_str()]).await?;
    log_for_chat(c, out, &v.chat, actor, Event::ChatChanged { chat }).await?;
    chat_or_missing(c, chat).await
}

pub async fn set_admin(c: &Db, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, user: UserId, admin: bool) -> R<()> {
    let v = view_for_update(c, actor, chat).await?;
    if v.chat.kind == ChatKind::Private || v.membership.role != Role::Creator {
        return Err(Error::AdminRequired.into());
    }
    let target = membership(c, chat, user).await?.ok_or(Error::UserNotFound)?;
    if target.role == Role::Creator {
        return Err(Error::Invalid("the creator's role cannot change".into()).into());
    }
    let role = if admin { Role::Admin } else { Role::Member };
    execute(c, "UPDATE members SET role = $3 WHERE chat_id = $1 AND user_id = $2", &[&chat.0, &user.0, &role.as_str()]).await?;
    let event = Event::Participant { chat, user, role: Some(role), by: actor };
    if v.chat.kind == ChatKind::Channel {
        log_user(c, out, user, event).await?;
    } else {
        log_for_chat(c, out, &v.chat, actor, event).await?;
    }
    Ok(())
}

pub async fn members(c: &Db, actor: UserId, chat: ChatId, offset: u32, limit: u32) -> R<Vec<Membership>> {
    let v = view(c, actor, chat).await?;
    if v.chat.kind == ChatKind::Channel && !v.membership.role.is_admin() {
        return Err(Error::AdminRequired.into());
    }
    let rows = query(
        c,
        &format!("SELECT {MEMBER_COLS} FROM members WHERE chat_id = $1 ORDER BY joined, user_id LIMIT $2 OFFSET $3"),
        &[&chat.0, &i64::from(limit), &i64::from(offset)],
    )
    .await?;
    Ok(rows.iter().map(member_row).collect())
}

pub async fn member(c: &Db, actor: UserId, chat: ChatId, user: UserId) -> R<Option<Membership>> {
    let v = view(c, actor, chat).await?;
    if user == actor {
        return Ok(Some(v.membership));
    }
    membership(c, chat, user).await
}

pub async fn find_private(c: &Db, user: UserId, peer: UserId) -> R<Option<Chat>> {
    let pair = format!("{}:{}", user.0.min(peer.0), user.0.max(peer.0));
    Ok(query_opt(c, &format!("SELECT {CHAT_COLS} FROM chats WHERE pair = $1"), &[&pair]).await?.as_ref().map(chat_row))
}

pub async fn export_invite(c: &Db, actor: UserId, chat: ChatId) -> R<String> {
    let v = view_for_update(c, actor, chat).await?;
    require_manage(&v)?;
    let existing: Option<String> = query_one(c, "SELECT invite FROM chats WHERE id = $1", &[&chat.0]).await?.get(0);
    if let Some(token) = existing {
        return Ok(token);
    }
    let token: String = (0..22)
        .map(|_| {
            const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            ALPHABET[rand::random_range(0..ALPHABET.len())] as char
        })
        .collect();
    execute(c, "UPDATE chats SET invite = $2 WHERE id = $1", &[&chat.0, &token]).await?;
    Ok(token)
}

pub async fn join(c: &Db, limits: &Limits, out: &mut Vec<Logged>, user: UserId, how: &JoinBy) -> R<Chat> {
    let found = match how {
        JoinBy::Invite(token) => {
            let id = query_opt(c, "SELECT id FROM chats WHERE invite = $1", &[token]).await?.ok_or(Error::InviteInvalid)?;
            ChatId(id.get(0))
        }
        JoinBy::Username(name) => match resolve(c, name).await? {
            Some(Resolved::Chat(chat)) => chat.id,
            _ => return Err(Error::ChatNotFound.into()),
        },
    };
    let chat = load_chat_for_update(c, found).await?.ok_or(Error::ChatNotFound)?;
    if chat.kind == ChatKind::Private {
        return Err(Error::ChatNotFound.into());
    }
    if membership(c, chat.id, user).await?.is_some() {
        return Ok(chat);
    }
    if chat.kind == ChatKind::Group && chat.member_count + 1 > MAX_GROUP_MEMBERS {
        return Err(Error::TooManyMembers.into());
    }
    lock_for_membership(c, &chat, &[user]).await?;
    insert_member(c, chat.id, user, Role::Member, chat.top_message).await?;
    let grown = maybe_grow_own_log(c, limits, out, chat.id).await?;
    announce_join(c, out, &grown, user, user).await?;
    Ok(grown)
}

pub async fn typing_audience(c: &Db, actor: UserId, chat: ChatId) -> R<Option<Vec<UserId>>> {
    let v = view(c, actor, chat).await?;
    if !can_post(v.chat.kind, v.membership.role) {
        return Err(Error::WriteForbidden.into());
    }
    if v.chat.own_log {
        return Ok(None);
    }
    Ok(Some(member_ids(c, chat).await?.into_iter().filter(|&m| m != actor).collect()))
}

pub async fn own_log_chats(c: &Db, user: UserId) -> R<Vec<(ChatId, Pts)>> {
    let rows = query(
        c,
        "SELECT c.id, c.pts FROM members m JOIN chats c ON c.id = m.chat_id WHERE m.user_id = $1 AND c.own_log ORDER BY c.id",
        &[&user.0],
    )
    .await?;
    Ok(rows.iter().map(|r| (ChatId(r.get(0)), r.get(1))).collect())
}

// --- messages ------------------------------------------------------------------------------

async fn message(c: &Db, chat: ChatId, id: MessageId) -> R<Option<Message>> {
    Ok(query_opt(c, &format!("SELECT {MESSAGE_COLS} FROM messages WHERE chat_id = $1 AND id = $2 AND NOT deleted"), &[&chat.0, &id.0])
        .await?
        .as_ref()
        .map(message_row))
}

async fn is_hidden(c: &Db, user: UserId, chat: ChatId, id: MessageId) -> R<bool> {
    Ok(query_opt(c, "SELECT 1 FROM hidden WHERE user_id = $1 AND chat_id = $2 AND msg_id = $3", &[&user.0, &chat.0, &id.0])
        .await?
        .is_some())
}

/// A message `user` can see in a chat they are a member of.
async fn visible_message(c: &Db, user: UserId, chat: ChatId, id: MessageId) -> R<Message> {
    match message(c, chat, id).await? {
        Some(m) if !is_hidden(c, user, chat, id).await? => Ok(m),
        _ => Err(Error::MessageNotFound.into()),
    }
}

/// The message an earlier send with this `random_id` made, as it is now (edited or deleted
/// since, maybe).
async fn earlier_send(c: &Db, actor: UserId, random_id: i64) -> R<Option<Sent>> {
    let Some(row) =
        query_opt(c, "SELECT chat_id, msg_id, pts FROM sends WHERE user_id = $1 AND random_id = $2", &[&actor.0, &random_id]).await?
    else {
        return Ok(None);
    };
    let (chat, id, pts): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    let message = query_one(c, &format!("SELECT {MESSAGE_COLS} FROM messages WHERE chat_id = $1 AND id = $2"), &[&chat, &id]).await?;
    Ok(Some(Sent { message: message_row(&message), pts }))
}

#[allow(clippy::too_many_arguments)]
pub async fn send(
    c: &Db,
    out: &mut Vec<Logged>,
    actor: UserId,
    chat: ChatId,
    random_id: i64,
    draft: &Draft,
    forward: Option<Forward>,
) -> R<Sent> {
    let Draft { content, entities, keyboard, reply_to } = draft;
    let reply_to = *reply_to;
    // A retry: answer with the original. Checked again under the chat's lock, because a
    // concurrent retry of the same send may have committed while this one waited for it. (A
    // concurrent retry into another chat collides on the `sends` key instead, and the whole
    // command is retried, landing here.)
    if let Some(sent) = earlier_send(c, actor, random_id).await? {
        return Ok(sent);
    }
    let v = view_for_update(c, actor, chat).await?;
    if let Some(sent) = earlier_send(c, actor, random_id).await? {
        return Ok(sent);
    }
    if !can_post(v.chat.kind, v.membership.role) {
        return Err(Error::WriteForbidden.into());
    }
    if let Some(peer) = v.peer.filter(|&p| p != actor) {
        if is_blocked(c, peer, actor).await? || is_blocked(c, actor, peer).await? {
            return Err(Error::Blocked.into());
        }
    }
    if keyboard.is_some() && !is_bot(c, actor).await? {
        return Err(Error::WriteForbidden.into());
    }
    if let Some(reply) = reply_to {
        visible_message(c, actor, chat, reply).await?;
    }
    let id = MessageId(v.chat.top_message.0 + 1);
    let date = now();
    let (kind, media) = match content {
        Content::Text(_) => ("text", None),
        Content::Media(m) => (m.kind.as_str(), Some(m)),
    };
    execute(
        c,
        "INSERT INTO messages (chat_id, id, from_id, date, kind, text, reply_to, fwd_user, fwd_chat, fwd_msg, fwd_date,
            media_file, media_name, media_mime, media_size, media_width, media_height, media_thumb, entities, markup)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        &[
            &chat.0,
            &id.0,
            &actor.0,
            &date,
            &kind,
            &content.text().map(MessageText::as_str),
            &reply_to.map(|r| r.0),
            &forward.map(|f| f.from_user.0),
            &forward.map(|f| f.from_chat.0),
            &forward.map(|f| f.message.0),
            &forward.map(|f| f.date),
            &media.map(|m| m.file.0),
            &media.map(|m| m.name.as_str()),
            &media.map(|m| m.mime.as_str()),
            &media.map(|m| m.size as i64),
            &media.and_then(|m| m.width.map(i64::from)),
            &media.and_then(|m| m.height.map(i64::from)),
            &media.and_then(|m| m.thumb.map(|t| t.0)),
            &encode_entities(entities),
            &encode_keyboard(keyboard.as_ref()),
        ],
    )
    .await?;
    execute(c, "UPDATE chats SET top_message = $2, activity = $3 WHERE id = $1", &[&chat.0, &id.0, &now_ms()]).await?;
    execute(c, "UPDATE members SET read_inbox = $3 WHERE chat_id = $1 AND user_id = $2", &[&chat.0, &actor.0, &id.0]).await?;
    let message = Message {
        chat,
        id,
        from: actor,
        date,
        content: content.clone(),
        entities: entities.clone(),
        keyboard: keyboard.clone(),
        reply_to,
        forward,
        edit_date: None,
    };
    let pts = log_for_chat(c, out, &v.chat, actor, Event::NewMessage(message.clone())).await?;
    execute(
        c,
        "INSERT INTO sends (user_id, random_id, chat_id, msg_id, pts) VALUES ($1, $2, $3, $4, $5)",
        &[&actor.0, &random_id, &chat.0, &id.0, &pts],
    )
    .await?;
    Ok(Sent { message, pts })
}

pub async fn forward(
    c: &Db,
    out: &mut Vec<Logged>,
    actor: UserId,
    from: ChatId,
    ids: &[MessageId],
    to: ChatId,
    random_ids: &[i64],
) -> R<Vec<Sent>> {
    if ids.len() != random_ids.len() {
        return Err(Error::Invalid("forward needs one random_id per message".into()).into());
    }
    // The source is only read: the one chat this command locks is the target (in `send`).
    view(c, actor, from).await?;
    let mut sent = Vec::with_capacity(ids.len());
    for (&id, &random_id) in ids.iter().zip(random_ids) {
        let original = visible_message(c, actor, from, id).await?;
        let origin = original.forward.unwrap_or(Forward { from_user: original.from, from_chat: from, message: id, date: original.date });
        // The formatting goes along; the buttons stay with the bot's own message.
        let draft = Draft { content: original.content, entities: original.entities, keyboard: None, reply_to: None };
        sent.push(send(c, out, actor, to, random_id, &draft, Some(origin)).await?);
    }
    Ok(sent)
}

pub async fn edit(c: &Db, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, id: MessageId, edit: &Edit) -> R<Message> {
    let v = view_for_update(c, actor, chat).await?;
    let original = visible_message(c, actor, chat, id).await?;
    if original.from != actor {
        return Err(Error::AuthorRequired.into());
    }
    if original.forward.is_some() {
        return Err(Error::Invalid("a forwarded message keeps its author's words: it cannot be edited".into()).into());
    }
    if !can_post(v.chat.kind, v.membership.role) {
        return Err(Error::WriteForbidden.into());
    }
    if matches!(edit.keyboard, Some(Some(_))) && !is_bot(c, actor).await? {
        return Err(Error::WriteForbidden.into());
    }
    let (content, entities) = match &edit.text {
        Some((text, entities)) => {
            let content = match original.content {
                Content::Text(_) => Content::Text(text.clone()),
                // A media message's text is its caption.
                Content::Media(m) => Content::Media(Media { caption: Some(text.clone()), ..m }),
            };
            (content, entities.clone())
        }
        None => (original.content.clone(), original.entities.clone()),
    };
    let keyboard = match &edit.keyboard {
        Some(keyboard) => keyboard.clone(),
        None => original.keyboard.clone(),
    };
    let edited = now();
    execute(
        c,
        "UPDATE messages SET text = $3, entities = $4, markup = $5, edit_date = $6 WHERE chat_id = $1 AND id = $2",
        &[
            &chat.0,
            &id.0,
            &content.text().map(MessageText::as_str),
            &encode_entities(&entities),
            &encode_keyboard(keyboard.as_ref()),
            &edited,
        ],
    )
    .await?;
    let message = Message { content, entities, keyboard, edit_date: Some(edited), ..original };
    log_for_chat(c, out, &v.chat, actor, Event::EditMessage(message.clone())).await?;
    Ok(message)
}

pub async fn delete(c: &Db, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, ids: &[MessageId], for_everyone: bool) -> R<()> {
    let v = view_for_update(c, actor, chat).await?;
    // Channel posts have no per-reader copies: deleting one deletes it for everyone.
    let for_everyone = for_everyone || v.chat.kind == ChatKind::Channel;
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    for &id in &ids {
        let m = visible_message(c, actor, chat, id).await?;
        if for_everyone && m.from != actor && !can_delete_others(v.chat.kind, v.membership.role) {
            return Err(if v.chat.kind == ChatKind::Private { Error::AuthorRequired } else { Error::AdminRequired }.into());
        }
    }
    if !for_everyone {
        for &id in &ids {
            execute(
                c,
                "INSERT INTO hidden (user_id, chat_id, msg_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&actor.0, &chat.0, &id.0],
            )
            .await?;
        }
        log_user(c, out, actor, Event::DeleteMessages { chat, ids }).await?;
        return Ok(());
    }
    for &id in &ids {
        // The text goes with the message: a deleted message keeps only its place in the sequence.
        execute(
            c,
            "UPDATE messages SET deleted = TRUE, text = NULL, entities = NULL, markup = NULL, media_file = NULL, media_thumb = NULL
             WHERE chat_id = $1 AND id = $2",
            &[&chat.0, &id.0],
        )
        .await?;
    }
    if v.chat.pinned.is_some_and(|p| ids.contains(&p)) {
        execute(c, "UPDATE chats SET pinned = NULL WHERE id = $1", &[&chat.0]).await?;
        log_for_chat(c, out, &v.chat, actor, Event::Pinned { chat, id: None }).await?;
    }
    log_for_chat(c, out, &v.chat, actor, Event::DeleteMessages { chat, ids }).await?;
    Ok(())
}

pub async fn pin(c: &Db, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, id: Option<MessageId>) -> R<()> {
    let v = view_for_update(c, actor, chat).await?;
    if !can_pin(v.chat.kind, v.membership.role) {
        return Err(Error::AdminRequired.into());
    }
    if let Some(id) = id {
        visible_message(c, actor, chat, id).await?;
    }
    execute(c, "UPDATE chats SET pinned = $2 WHERE id = $1", &[&chat.0, &id.map(|i| i.0)]).await?;
    log_for_chat(c, out, &v.chat, actor, Event::Pinned { chat, id }).await?;
    Ok(())
}

pub async fn read(c: &Db, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, max_id: Option<MessageId>) -> R<()> {
    let v = view_for_update(c, actor, chat).await?;
    let top = v.chat.top_message;
    let max = max_id.unwrap_or(top).min(top);
    if max <= v.membership.read_inbox {
        return Ok(());
    }
    execute(c, "UPDATE members SET read_inbox = $3 WHERE chat_id = $1 AND user_id = $2", &[&chat.0, &actor.0, &max.0]).await?;
    if v.chat.own_log {
        // Read receipts are not broadcast in channels and large groups.
        log_user(c, out, actor, Event::ReadInbox { chat, max_id: max }).await?;
        return Ok(());
    }
    // Tell the authors whose messages are now read.
    let rows = query(
        c,
        "SELECT m.user_id FROM members m WHERE m.chat_id = $1 AND m.user_id <> $2 AND m.read_outbox < $3
         AND EXISTS (SELECT 1 FROM messages g WHERE g.chat_id = $1 AND g.from_id = m.user_id AND g.id > m.read_outbox AND g.id <= $3)
         ORDER BY m.user_id",
        &[&chat.0, &actor.0, &max.0],
    )
    .await?;
    let authors: Vec<UserId> = rows.iter().map(|r| UserId(r.get(0))).collect();
    lock_users(c, &[&[actor][..], &authors].concat()).await?;
    log_user(c, out, actor, Event::ReadInbox { chat, max_id: max }).await?;
    for author in authors {
        execute(c, "UPDATE members SET read_outbox = $3 WHERE chat_id = $1 AND user_id = $2", &[&chat.0, &author.0, &max.0]).await?;
        log_user(c, out, author, Event::ReadOutbox { chat, max_id: max }).await?;
    }
    Ok(())
}

pub async fn history(c: &Db, actor: UserId, chat: ChatId, page: Page) -> R<Vec<Message>> {
    view(c, actor, chat).await?;
    history_unchecked(c, actor, chat, page).await
}

/// A page of history for a member (the caller has authorized).
async fn history_unchecked(c: &Db, actor: UserId, chat: ChatId, page: Page) -> R<Vec<Message>> {
    let visible = "chat_id = $1 AND NOT deleted AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = $2 AND h.chat_id = $1 AND h.msg_id = messages.id)";
    let (sql, bound, limit) = match page {
        Page::Older { before, limit } => (
            format!("SELECT {MESSAGE_COLS} FROM messages WHERE {visible} AND id < $3 ORDER BY id DESC LIMIT $4"),
            before.map_or(i64::MAX, |b| b.0),
            limit,
        ),
        Page::Newer { after, limit } => (
            format!("SELECT {MESSAGE_COLS} FROM messages WHERE {visible} AND id > $3 ORDER BY id ASC LIMIT $4"),
            after.map_or(0, |a| a.0),
            limit,
        ),
    };
    let rows = query(c, &sql, &[&chat.0, &actor.0, &bound, &i64::from(limit)]).await?;
    let mut messages: Vec<Message> = rows.iter().map(message_row).collect();
    if matches!(page, Page::Older { .. }) {
        messages.reverse();
    }
    Ok(messages)
}

pub async fn dialogs(c: &Db, user: UserId, before: Option<(i64, ChatId)>, limit: u32) -> R<Vec<Dialog>> {
    let (activity, id) = before.map_or((i64::MAX, i64::MAX), |(a, ch)| (a, ch.0));
    let rows = query(
        c,
        "SELECT m.chat_id, m.user_id, m.role, m.joined, m.read_inbox, m.read_outbox FROM members m JOIN chats c ON c.id = m.chat_id
         WHERE m.user_id = $1 AND (c.activity < $2 OR (c.activity = $2 AND c.id < $3))
         ORDER BY c.activity DESC, c.id DESC LIMIT $4",
        &[&user.0, &activity, &id, &i64::from(limit)],
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for membership in rows.iter().map(member_row) {
        let chat = chat_or_missing(c, membership.chat).await?;
        let peer = private_peer(c, &chat, user).await?;
        let last_message = history_unchecked(c, user, chat.id, Page::Older { before: None, limit: 1 }).await?.pop();
        let unread: i64 = query_one(
            c,
            "SELECT COUNT(*) FROM messages WHERE chat_id = $1 AND id > $2 AND from_id <> $3 AND NOT deleted
             AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = $3 AND h.chat_id = $1 AND h.msg_id = messages.id)",
            &[&chat.id.0, &membership.read_inbox.0, &user.0],
        )
        .await?
        .get(0);
        out.push(Dialog { view: View { chat, membership, peer }, last_message, unread: unread as u64 });
    }
    Ok(out)
}

// --- bots ----------------------------------------------------------------------------------

pub async fn create_bot(c: &Db, owner: UserId, name: &DisplayName, username: &Username, token_hash: &[u8]) -> R<User> {
    if !user_exists(c, owner).await? {
        return Err(Error::UserNotFound.into());
    }
    let created = now();
    let id: i64 = query_one(
        c,
        "INSERT INTO users (phone, name, username, created, bot_owner) VALUES (NULL, $1, $2, $3, $4) RETURNING id",
        &[&name.as_str(), &username.as_str(), &created, &owner.0],
    )
    .await?
    .get(0);
    let id = UserId(id);
    // Refused here rolls back the whole command: no user, no session, no bot row.
    claim_username(c, username, Some(id), None).await?;
    create_session(c, id, token_hash, "bot").await?;
    execute(c, "INSERT INTO bots (user_id, owner) VALUES ($1, $2)", &[&id.0, &owner.0]).await?;
    user(c, id).await
}

pub async fn bots(c: &Db, owner: UserId) -> R<Vec<User>> {
    let rows = query(c, &format!("SELECT {USER_COLS} FROM users WHERE bot_owner = $1 ORDER BY id"), &[&owner.0]).await?;
    Ok(rows.iter().map(user_row).collect())
}

pub async fn replace_bot_token(c: &Db, owner: UserId, bot: UserId, token_hash: &[u8]) -> R<()> {
    // The bot's row serializes two replacements racing: the second sees the first's session.
    let owned = query_opt(c, "SELECT 1 FROM users WHERE id = $1 AND bot_owner = $2 FOR UPDATE", &[&bot.0, &owner.0]).await?;
    if owned.is_none() {
        return Err(Error::UserNotFound.into());
    }
    execute(c, "DELETE FROM sessions WHERE user_id = $1", &[&bot.0]).await?;
    create_session(c, bot, token_hash, "bot").await?;
    Ok(())
}

const BOT_COLS: &str = "confirmed, webhook_url, webhook_secret, webhook_max_connections, webhook_set, webhook_error_date, webhook_error, allowed_updates, commands";

fn bot_row(user: User, r: &Row) -> Bot {
    let url: Option<String> = r.get(1);
    let webhook = url.map(|url| Webhook {
        url,
        secret: r.get(2),
        max_connections: r.get::<_, Option<i64>>(3).unwrap_or(0) as u32,
        set: r.get::<_, Option<i64>>(4).unwrap_or(0),
    });
    let error_date: Option<i64> = r.get(5);
    let error: Option<String> = r.get(6);
    Bot {
        user,
        confirmed: r.get(0),
        webhook,
        webhook_error: error_date.map(|d| (d, error.unwrap_or_default())),
        allowed_updates: r.get(7),
        commands: r.get(8),
    }
}

pub async fn webhook_bots(c: &Db) -> R<Vec<UserId>> {
    let rows = c.query("SELECT user_id FROM bots WHERE webhook_url IS NOT NULL ORDER BY user_id", &[]).await?;
    Ok(rows.iter().map(|r| UserId(r.get(0))).collect())
}

pub async fn bot(c: &Db, id: UserId) -> R<Option<Bot>> {
    let Some(row) = query_opt(c, &format!("SELECT {BOT_COLS} FROM bots WHERE user_id = $1"), &[&id.0]).await? else {
        return Ok(None);
    };
    Ok(Some(bot_row(user(c, id).await?, &row)))
}

pub async fn update_bot(c: &Db, id: UserId, change: &BotChange) -> R<Bot> {
    let changed = match change {
        // Never down, even when two confirmations race.
        BotChange::Confirm(pts) => execute(c, "UPDATE bots SET confirmed = GREATEST(confirmed, $2) WHERE user_id = $1", &[&id.0, pts]).await?,
        BotChange::Webhook(Some(w)) => {
            execute(
                c,
                "UPDATE bots SET webhook_url = $2, webhook_secret = $3, webhook_max_connections = $4, webhook_set = $5,
                 webhook_error_date = NULL, webhook_error = NULL WHERE user_id = $1",
                &[&id.0, &w.url, &w.secret, &i64::from(w.max_connections), &w.set],
            )
            .await?
        }
        BotChange::Webhook(None) => {
            execute(
                c,
                "UPDATE bots SET webhook_url = NULL, webhook_secret = NULL, webhook_max_connections = NULL, webhook_set = NULL WHERE user_id = $1",
                &[&id.0],
            )
            .await?
        }
        BotChange::WebhookError(error) => {
            let (date, text) = match error {
                Some((date, text)) => (Some(*date), Some(text.as_str())),
                None => (None, None),
            };
            execute(c, "UPDATE bots SET webhook_error_date = $2, webhook_error = $3 WHERE user_id = $1", &[&id.0, &date, &text]).await?
        }
        BotChange::AllowedUpdates(allowed) => {
            execute(c, "UPDATE bots SET allowed_updates = $2 WHERE user_id = $1", &[&id.0, allowed]).await?
        }
        BotChange::Commands(commands) => execute(c, "UPDATE bots SET commands = $2 WHERE user_id = $1", &[&id.0, commands]).await?,
    };
    if changed == 0 {
        return Err(Error::UserNotFound.into());
    }
    Ok(bot(c, id).await?.ok_or(Error::UserNotFound)?)
}

pub async fn press_button(c: &Db, out: &mut Vec<Logged>, user: UserId, chat: ChatId, id: MessageId, data: &str) -> R<(UserId, Pts)> {
    // Authorized like every read of the chat; the only row locked is the bot's (its log).
    view(c, user, chat).await?;
    let message = visible_message(c, user, chat, id).await?;
    let has_button = message.keyboard.as_ref().is_some_and(|k| k.has_callback(data));
    if !has_button || !is_bot(c, message.from).await? {
        return Err(Error::ButtonNotFound.into());
    }
    let event = Event::CallbackQuery { chat, message: id, from: user, data: data.to_string() };
    let pts = log_user(c, out, message.from, event).await?;
    Ok((message.from, pts))
}

// --- sync ----------------------------------------------------------------------------------

pub async fn state(c: &Db, user: UserId) -> R<Pts> {
    Ok(query_opt(c, "SELECT pts FROM users WHERE id = $1", &[&user.0]).await?.ok_or(Error::UserNotFound)?.get(0))
}

#[allow(clippy::too_many_arguments)]
async fn page_of(c: &Db, sql: &str, owner: i64, log: Log, from: Pts, top: Pts, limit: u32, limits: &Limits) -> R<Difference> {
    let from = from.max(0);
    // A page of nothing would answer a Slice that does not move, and a client would loop.
    let limit = limit.max(1);
    if from >= top {
        return Ok(Difference::Empty { pts: top });
    }
    if top - from > limits.difference_horizon {
        return Ok(Difference::TooLong { pts: top });
    }
    let rows = query(c, sql, &[&owner, &from, &i64::from(limit)]).await?;
    let mut last = from;
    let mut events = Vec::with_capacity(rows.len());
    for r in &rows {
        let (pts, date, kind, chat): (Pts, i64, String, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        last = pts;
        if let Some(event) = decode(c, &kind, chat, r.get(4), r.get(5), r.get(6)).await? {
            events.push(Logged { log, pts, date, event });
        }
    }
    Ok(if last < top { Difference::Slice { events, pts: last } } else { Difference::Complete { events, pts: last } })
}

pub async fn difference(c: &Db, limits: &Limits, user: UserId, pts: Pts, limit: u32) -> R<Difference> {
    let top = state(c, user).await?;
    page_of(
        c,
        "SELECT pts, date, kind, chat_id, a, b, ids FROM user_updates WHERE user_id = $1 AND pts > $2 ORDER BY pts LIMIT $3",
        user.0,
        Log::User(user),
        pts,
        top,
        limit,
        limits,
    )
    .await
}

pub async fn chat_difference(c: &Db, limits: &Limits, user: UserId, chat: ChatId, pts: Pts, limit: u32) -> R<Difference> {
    let v = view(c, user, chat).await?;
    if !v.chat.own_log {
        return Err(Error::Invalid("this chat has no log of its own; its updates are in your log".into()).into());
    }
    page_of(
        c,
        "SELECT pts, date, kind, chat_id, a, b, ids FROM chat_updates WHERE chat_id = $1 AND pts > $2 ORDER BY pts LIMIT $3",
        chat.0,
        Log::Chat(chat),
        pts,
        v.chat.pts,
        limit,
        limits,
    )
    .await
}

// --- files ---------------------------------------------------------------------------------

const FILE_COLS: &str = "id, owner, sha256, size, name, mime, width, height, thumb, created";

fn file_row(r: &Row) -> File {
    let hash: Vec<u8> = r.get(2);
    File {
        id: FileId(r.get(0)),
        owner: UserId(r.get(1)),
        sha256: hash.try_into().unwrap_or([0; 32]),
        size: r.get::<_, i64>(3) as u64,
        name: r.get(4),
        mime: r.get(5),
        width: r.get::<_, Option<i64>>(6).map(|w| w as u32),
        height: r.get::<_, Option<i64>>(7).map(|h| h as u32),
        thumb: r.get::<_, Option<i64>>(8).map(FileId),
        created: r.get(9),
    }
}

pub async fn file_usage(c: &Db, user: UserId) -> R<u64> {
    let used: i64 = query_one(c, "SELECT COALESCE(SUM(size), 0)::BIGINT FROM files WHERE owner = $1", &[&user.0]).await?.get(0);
    Ok(used as u64)
}

/// File records with this content (no index: only asked when an upload is refused late).
pub async fn file_refs(c: &Db, sha256: &[u8; 32]) -> R<u64> {
    let n: i64 = query_one(c, "SELECT COUNT(*) FROM files WHERE sha256 = $1", &[&&sha256[..]]).await?.get(0);
    Ok(n as u64)
}

pub async fn create_file(c: &Db, owner: UserId, f: &NewFile, quota: u64) -> R<File> {
    // The owner's row serializes concurrent uploads of one user, so two cannot both pass the
    // quota check.
    query_opt(c, "SELECT id FROM users WHERE id = $1 FOR UPDATE", &[&owner.0]).await?;
    let used = file_usage(c, owner).await?;
    if used.saturating_add(f.size) > quota {
        return Err(Error::QuotaExceeded { used, quota }.into());
    }
    let created = now();
    let row = query_one(
        c,
        "INSERT INTO files (owner, sha256, size, name, mime, width, height, thumb, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        &[
            &owner.0,
            &&f.sha256[..],
            &(f.size as i64),
            &f.name,
            &f.mime,
            &f.width.map(i64::from),
            &f.height.map(i64::from),
            &f.thumb.map(|t| t.0),
            &created,
        ],
    )
    .await?;
    Ok(File {
        id: FileId(row.get(0)),
        owner,
        sha256: f.sha256,
        size: f.size,
        name: f.name.clone(),
        mime: f.mime.clone(),
        width: f.width,
        height: f.height,
        thumb: f.thumb,
        created,
    })
}

pub async fn file(c: &Db, user: UserId, id: FileId) -> R<File> {
    let Some(row) = query_opt(c, &format!("SELECT {FILE_COLS} FROM files WHERE id = $1"), &[&id.0]).await? else {
        return Err(Error::FileNotFound.into());
    };
    let f = file_row(&row);
    if f.owner == user {
        return Ok(f);
    }
    // Shared with `user`: a live message with it (or its thumbnail) in a chat they belong to.
    let shared = query_opt(
        c,
        "SELECT 1 FROM messages m JOIN members mem ON mem.chat_id = m.chat_id AND mem.user_id = $2
         WHERE (m.media_file = $1 OR m.media_thumb = $1) AND NOT m.deleted LIMIT 1",
        &[&id.0, &user.0],
    )
    .await?;
    match shared {
        Some(_) => Ok(f),
        None => Err(Error::FileNotFound.into()),
    }
}
