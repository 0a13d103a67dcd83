//! The SQL behind each store command. Every function runs inside the caller's transaction
//! (writes: the writer's group commit; reads: a read connection).

use heliograph_core::*;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::codec::{decode_entities, decode_keyboard, encode_entities, encode_keyboard};
use crate::model::*;
use crate::{Error, Limits, Result};

// --- rows ----------------------------------------------------------------------------------

const USER_COLS: &str = "id, phone, name, username, bio, created, bot_owner";

fn user_row(r: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(r.get(0)?),
        // Bots have no phone.
        phone: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        name: r.get(2)?,
        username: r.get(3)?,
        bio: r.get(4)?,
        created: r.get(5)?,
        bot_owner: r.get::<_, Option<i64>>(6)?.map(UserId),
    })
}

const CHAT_COLS: &str = "id, kind, title, username, creator, member_count, pinned, own_log, pts, top_message, created, activity";

fn chat_row(r: &Row) -> rusqlite::Result<Chat> {
    let kind: String = r.get(1)?;
    Ok(Chat {
        id: ChatId(r.get(0)?),
        kind: ChatKind::parse(&kind).unwrap_or(ChatKind::Group),
        title: r.get(2)?,
        username: r.get(3)?,
        creator: UserId(r.get(4)?),
        member_count: r.get::<_, i64>(5)? as u64,
        pinned: r.get::<_, Option<i64>>(6)?.map(MessageId),
        own_log: r.get(7)?,
        pts: r.get(8)?,
        top_message: MessageId(r.get(9)?),
        created: r.get(10)?,
        activity: r.get(11)?,
    })
}

const MEMBER_COLS: &str = "chat_id, user_id, role, joined, read_inbox, read_outbox";

fn member_row(r: &Row) -> rusqlite::Result<Membership> {
    let role: String = r.get(2)?;
    Ok(Membership {
        chat: ChatId(r.get(0)?),
        user: UserId(r.get(1)?),
        role: Role::parse(&role).unwrap_or(Role::Member),
        joined: r.get(3)?,
        read_inbox: MessageId(r.get(4)?),
        read_outbox: MessageId(r.get(5)?),
    })
}

const MESSAGE_COLS: &str = "chat_id, id, from_id, date, kind, text, reply_to, fwd_user, fwd_chat, fwd_msg, fwd_date, edit_date, media_file, media_name, media_mime, media_size, media_width, media_height, media_thumb, entities, markup";

fn message_row(r: &Row) -> rusqlite::Result<Message> {
    let text: Option<String> = r.get(5)?;
    let fwd_user: Option<i64> = r.get(7)?;
    let forward = match fwd_user {
        Some(u) => Some(Forward { from_user: UserId(u), from_chat: ChatId(r.get(8)?), message: MessageId(r.get(9)?), date: r.get(10)? }),
        None => None,
    };
    // Stored text was checked when it was written; a row that fails the check again is
    // shown as it is rather than hidden.
    let media_file: Option<i64> = r.get(12)?;
    let content = match media_file {
        Some(file) => {
            let kind: String = r.get(4)?;
            Content::Media(Media {
                kind: MediaKind::parse(&kind).unwrap_or(MediaKind::Document),
                file: FileId(file),
                name: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                mime: r.get::<_, Option<String>>(14)?.unwrap_or_default(),
                size: r.get::<_, Option<i64>>(15)?.unwrap_or(0) as u64,
                width: r.get::<_, Option<i64>>(16)?.map(|w| w as u32),
                height: r.get::<_, Option<i64>>(17)?.map(|h| h as u32),
                thumb: r.get::<_, Option<i64>>(18)?.map(FileId),
                caption: text.filter(|t| !t.is_empty()).map(|t| MessageText::parse(t.clone()).unwrap_or_else(|_| stored_text(t))),
            })
        }
        None => {
            let text = text.unwrap_or_default();
            Content::Text(MessageText::parse(text.clone()).unwrap_or_else(|_| stored_text(text)))
        }
    };
    Ok(Message {
        chat: ChatId(r.get(0)?),
        id: MessageId(r.get(1)?),
        from: UserId(r.get(2)?),
        date: r.get(3)?,
        content,
        entities: decode_entities(r.get::<_, Option<String>>(19)?.as_deref()),
        keyboard: decode_keyboard(r.get::<_, Option<String>>(20)?.as_deref()),
        reply_to: r.get::<_, Option<i64>>(6)?.map(MessageId),
        forward,
        edit_date: r.get(11)?,
    })
}

fn stored_text(text: String) -> MessageText {
    MessageText::parse(if text.trim().is_empty() { "\u{2060}".to_string() } else { text.chars().take(MAX_TEXT_CHARS).collect() })
        .unwrap_or_else(|_| stored_text(String::new()))
}

fn session_row(r: &Row) -> rusqlite::Result<Session> {
    Ok(Session { id: SessionId(r.get(0)?), user: UserId(r.get(1)?), device: r.get(2)?, created: r.get(3)?, last_active: r.get(4)? })
}

// --- sign-in -------------------------------------------------------------------------------

pub fn save_login_code(c: &Connection, phone: &Phone, code: &LoginCodeHash) -> Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO login_codes (phone, salt, hash, expires, attempts) VALUES (?1, ?2, ?3, ?4, 0)",
        params![phone.as_str(), code.salt, code.hash, code.expires],
    )?;
    Ok(())
}

pub fn login_attempt(c: &Connection, phone: &Phone) -> Result<Option<LoginCodeHash>> {
    Ok(c.query_row(
        "UPDATE login_codes SET attempts = attempts + 1 WHERE phone = ?1 RETURNING salt, hash, expires, attempts",
        [phone.as_str()],
        |r| Ok(LoginCodeHash { salt: r.get(0)?, hash: r.get(1)?, expires: r.get(2)?, attempts: r.get(3)? }),
    )
    .optional()?)
}

pub fn delete_login_code(c: &Connection, phone: &Phone) -> Result<()> {
    c.execute("DELETE FROM login_codes WHERE phone = ?1", [phone.as_str()])?;
    Ok(())
}

pub fn user_by_phone(c: &Connection, phone: &Phone) -> Result<Option<User>> {
    Ok(c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE phone = ?1"), [phone.as_str()], user_row).optional()?)
}

pub fn create_user(c: &Connection, phone: &Phone, name: &DisplayName) -> Result<User> {
    if let Some(user) = user_by_phone(c, phone)? {
        return Ok(user);
    }
    c.execute("INSERT INTO users (phone, name, created) VALUES (?1, ?2, ?3)", params![phone.as_str(), name.as_str(), now()])?;
    user(c, UserId(c.last_insert_rowid()))
}

pub fn create_session(c: &Connection, user: UserId, token_hash: &[u8], device: &str) -> Result<Session> {
    let now = now();
    c.execute(
        "INSERT INTO sessions (user_id, token_hash, device, created, last_active) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![user.0, token_hash, device, now],
    )?;
    Ok(Session { id: SessionId(c.last_insert_rowid()), user, device: device.to_string(), created: now, last_active: now })
}

pub fn session_by_token(c: &Connection, token_hash: &[u8]) -> Result<Option<Session>> {
    Ok(c.query_row(
        "UPDATE sessions SET last_active = ?2 WHERE token_hash = ?1 RETURNING id, user_id, device, created, last_active",
        params![token_hash, now()],
        session_row,
    )
    .optional()?)
}

pub fn sessions(c: &Connection, user: UserId) -> Result<Vec<Session>> {
    let mut stmt = c.prepare("SELECT id, user_id, device, created, last_active FROM sessions WHERE user_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([user.0], session_row)?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn revoke_session(c: &Connection, user: UserId, session: SessionId) -> Result<bool> {
    Ok(c.execute("DELETE FROM sessions WHERE id = ?1 AND user_id = ?2", params![session.0, user.0])? > 0)
}

// --- people --------------------------------------------------------------------------------

fn user(c: &Connection, id: UserId) -> Result<User> {
    c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"), [id.0], user_row).optional()?.ok_or(Error::UserNotFound)
}

fn user_exists(c: &Connection, id: UserId) -> Result<bool> {
    Ok(c.query_row("SELECT 1 FROM users WHERE id = ?1", [id.0], |_| Ok(())).optional()?.is_some())
}

pub fn users(c: &Connection, ids: &[UserId]) -> Result<Vec<User>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(u) = stmt.query_row([id.0], user_row).optional()? {
            out.push(u);
        }
    }
    Ok(out)
}

fn exists(c: &Connection, sql: &str, a: i64, b: i64) -> Result<bool> {
    Ok(c.prepare_cached(sql)?.query_row(params![a, b], |_| Ok(())).optional()?.is_some())
}

fn is_contact(c: &Connection, owner: UserId, contact: UserId) -> Result<bool> {
    exists(c, "SELECT 1 FROM contacts WHERE owner = ?1 AND contact = ?2", owner.0, contact.0)
}

fn is_blocked(c: &Connection, owner: UserId, target: UserId) -> Result<bool> {
    exists(c, "SELECT 1 FROM blocks WHERE owner = ?1 AND target = ?2", owner.0, target.0)
}

pub fn relations(c: &Connection, viewer: UserId, others: &[UserId]) -> Result<Vec<Relation>> {
    others
        .iter()
        .map(|&o| {
            Ok(Relation { contact: is_contact(c, viewer, o)?, contact_of: is_contact(c, o, viewer)?, blocked: is_blocked(c, viewer, o)? })
        })
        .collect()
}

pub fn resolve(c: &Connection, username: &Username) -> Result<Option<Resolved>> {
    let row: Option<(Option<i64>, Option<i64>)> = c
        .query_row("SELECT user_id, chat_id FROM usernames WHERE key = ?1", [username.key()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match row {
        Some((Some(u), _)) => Some(Resolved::User(user(c, UserId(u))?)),
        Some((None, Some(ch))) => load_chat(c, ChatId(ch))?.map(Resolved::Chat),
        _ => None,
    })
}

pub fn update_profile(c: &Connection, id: UserId, name: Option<&DisplayName>, bio: Option<&Bio>) -> Result<User> {
    if let Some(name) = name {
        c.execute("UPDATE users SET name = ?2 WHERE id = ?1", params![id.0, name.as_str()])?;
    }
    if let Some(bio) = bio {
        c.execute("UPDATE users SET bio = ?2 WHERE id = ?1", params![id.0, bio.as_str()])?;
    }
    user(c, id)
}

/// Claims `name` for a user or a chat in the one shared namespace.
fn claim_username(c: &Connection, name: &Username, user: Option<UserId>, chat: Option<ChatId>) -> Result<()> {
    let holder: Option<(Option<i64>, Option<i64>)> =
        c.query_row("SELECT user_id, chat_id FROM usernames WHERE key = ?1", [name.key()], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    match holder {
        None => {
            c.execute(
                "INSERT INTO usernames (key, user_id, chat_id) VALUES (?1, ?2, ?3)",
                params![name.key(), user.map(|u| u.0), chat.map(|c| c.0)],
            )?;
            Ok(())
        }
        Some((u, ch)) if u == user.map(|u| u.0) && ch == chat.map(|c| c.0) => Ok(()),
        Some(_) => Err(Error::UsernameOccupied),
    }
}

pub fn set_username(c: &Connection, id: UserId, username: Option<&Username>) -> Result<User> {
    let current = user(c, id)?;
    if let Some(name) = username {
        claim_username(c, name, Some(id), None)?;
    }
    if let Some(old) = current.username.as_deref().and_then(|n| Username::parse(n).ok()) {
        if username.map(Username::key) != Some(old.key()) {
            c.execute("DELETE FROM usernames WHERE key = ?1 AND user_id = ?2", params![old.key(), id.0])?;
        }
    }
    c.execute("UPDATE users SET username = ?2 WHERE id = ?1", params![id.0, username.map(Username::as_str)])?;
    user(c, id)
}

pub fn add_contact(c: &Connection, owner: UserId, contact: UserId) -> Result<()> {
    if owner == contact || !user_exists(c, contact)? {
        return Err(Error::UserNotFound);
    }
    c.execute("INSERT OR IGNORE INTO contacts (owner, contact) VALUES (?1, ?2)", params![owner.0, contact.0])?;
    Ok(())
}

pub fn remove_contact(c: &Connection, owner: UserId, contact: UserId) -> Result<()> {
    c.execute("DELETE FROM contacts WHERE owner = ?1 AND contact = ?2", params![owner.0, contact.0])?;
    Ok(())
}

fn user_list(c: &Connection, sql: &str, owner: UserId) -> Result<Vec<User>> {
    let mut stmt = c.prepare(sql)?;
    let rows = stmt.query_map([owner.0], user_row)?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn contacts(c: &Connection, owner: UserId) -> Result<Vec<User>> {
    user_list(c, "SELECT u.id, u.phone, u.name, u.username, u.bio, u.created, u.bot_owner FROM contacts k JOIN users u ON u.id = k.contact WHERE k.owner = ?1 ORDER BY u.name, u.id", owner)
}

pub fn set_blocked(c: &Connection, owner: UserId, target: UserId, blocked: bool) -> Result<()> {
    if owner == target || !user_exists(c, target)? {
        return Err(Error::UserNotFound);
    }
    if blocked {
        c.execute("INSERT OR IGNORE INTO blocks (owner, target) VALUES (?1, ?2)", params![owner.0, target.0])?;
    } else {
        c.execute("DELETE FROM blocks WHERE owner = ?1 AND target = ?2", params![owner.0, target.0])?;
    }
    Ok(())
}

/// `users.find_by_phone`: 0 everybody, 1 contacts, 2 nobody.
fn privacy_code(privacy: PhonePrivacy) -> i64 {
    match privacy {
        PhonePrivacy::Everybody => 0,
        PhonePrivacy::Contacts => 1,
        PhonePrivacy::Nobody => 2,
    }
}

pub fn phone_privacy(c: &Connection, user: UserId) -> Result<PhonePrivacy> {
    let code: Option<i64> = c.query_row("SELECT find_by_phone FROM users WHERE id = ?1", [user.0], |r| r.get(0)).optional()?;
    match code {
        None => Err(Error::UserNotFound),
        Some(1) => Ok(PhonePrivacy::Contacts),
        Some(2) => Ok(PhonePrivacy::Nobody),
        Some(_) => Ok(PhonePrivacy::Everybody),
    }
}

pub fn set_phone_privacy(c: &Connection, user: UserId, privacy: PhonePrivacy) -> Result<()> {
    match c.execute("UPDATE users SET find_by_phone = ?2 WHERE id = ?1", params![user.0, privacy_code(privacy)])? {
        0 => Err(Error::UserNotFound),
        _ => Ok(()),
    }
}

pub fn blocked(c: &Connection, owner: UserId) -> Result<Vec<User>> {
    user_list(c, "SELECT u.id, u.phone, u.name, u.username, u.bio, u.created, u.bot_owner FROM blocks b JOIN users u ON u.id = b.target WHERE b.owner = ?1 ORDER BY u.name, u.id", owner)
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
fn decode(c: &Connection, kind: &str, chat: i64, a: Option<i64>, b: Option<i64>, ids: Option<String>) -> Result<Option<Event>> {
    let chat = ChatId(chat);
    let a = a.unwrap_or(0);
    Ok(match kind {
        "new_message" => message(c, chat, MessageId(a))?.map(Event::NewMessage),
        "edit_message" => message(c, chat, MessageId(a))?.map(Event::EditMessage),
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
        other => return Err(Error::Internal(format!("unknown update kind `{other}` in the log"))),
    })
}

/// Appends `event` to `user`'s log; returns its pts.
fn log_user(c: &Connection, out: &mut Vec<Logged>, user: UserId, event: Event) -> Result<Pts> {
    let pts: Pts = c.prepare_cached("UPDATE users SET pts = pts + 1 WHERE id = ?1 RETURNING pts")?.query_row([user.0], |r| r.get(0))?;
    let date = now();
    let (kind, chat, a, b, ids) = encode(&event);
    c.prepare_cached("INSERT INTO user_updates (user_id, pts, date, kind, chat_id, a, b, ids) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
        .execute(params![user.0, pts, date, kind, chat, a, b, ids])?;
    out.push(Logged { log: Log::User(user), pts, date, event });
    Ok(pts)
}

/// Appends `event` to a chat's own log; returns its pts. A bot follows its own log only (the
/// Bot API reads nothing else), so the event is also appended to the user log of every bot
/// member: a channel post costs one row more per bot, none per person.
fn log_chat(c: &Connection, out: &mut Vec<Logged>, chat: ChatId, event: Event) -> Result<Pts> {
    log_chat_except(c, out, chat, event, None)
}

/// [`log_chat`], copying to every bot member but `except` (who is told on their own).
fn log_chat_except(c: &Connection, out: &mut Vec<Logged>, chat: ChatId, event: Event, except: Option<UserId>) -> Result<Pts> {
    let pts: Pts = c.prepare_cached("UPDATE chats SET pts = pts + 1 WHERE id = ?1 RETURNING pts")?.query_row([chat.0], |r| r.get(0))?;
    let date = now();
    let (kind, _, a, b, ids) = encode(&event);
    c.prepare_cached("INSERT INTO chat_updates (chat_id, pts, date, kind, a, b, ids) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
        .execute(params![chat.0, pts, date, kind, a, b, ids])?;
    for bot in bot_member_ids(c, chat)? {
        if Some(bot) != except {
            log_user(c, out, bot, event.clone())?;
        }
    }
    out.push(Logged { log: Log::Chat(chat), pts, date, event });
    Ok(pts)
}

/// The chat's bot members (through the partial index `members_bots`).
fn bot_member_ids(c: &Connection, chat: ChatId) -> Result<Vec<UserId>> {
    let mut stmt = c.prepare_cached("SELECT user_id FROM members WHERE chat_id = ?1 AND bot = 1 ORDER BY user_id")?;
    let ids = stmt.query_map([chat.0], |r| Ok(UserId(r.get(0)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

fn member_ids(c: &Connection, chat: ChatId) -> Result<Vec<UserId>> {
    let mut stmt = c.prepare_cached("SELECT user_id FROM members WHERE chat_id = ?1")?;
    let ids = stmt.query_map([chat.0], |r| Ok(UserId(r.get(0)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Logs an event every member must see: once in the chat's own log, or once per member.
/// Returns the pts `actor` should see it at.
fn log_for_chat(c: &Connection, out: &mut Vec<Logged>, chat: &Chat, actor: UserId, event: Event) -> Result<Pts> {
    if chat.own_log {
        return log_chat(c, out, chat.id, event);
    }
    let mut actor_pts = 0;
    for member in member_ids(c, chat.id)? {
        let pts = log_user(c, out, member, event.clone())?;
        if member == actor {
            actor_pts = pts;
        }
    }
    Ok(actor_pts)
}

// --- chats ---------------------------------------------------------------------------------

pub fn load_chat(c: &Connection, id: ChatId) -> Result<Option<Chat>> {
    Ok(c.prepare_cached(&format!("SELECT {CHAT_COLS} FROM chats WHERE id = ?1"))?.query_row([id.0], chat_row).optional()?)
}

fn membership(c: &Connection, chat: ChatId, user: UserId) -> Result<Option<Membership>> {
    Ok(c.prepare_cached(&format!("SELECT {MEMBER_COLS} FROM members WHERE chat_id = ?1 AND user_id = ?2"))?
        .query_row(params![chat.0, user.0], member_row)
        .optional()?)
}

fn private_peer(c: &Connection, chat: &Chat, user: UserId) -> Result<Option<UserId>> {
    if chat.kind != ChatKind::Private {
        return Ok(None);
    }
    let other: Option<i64> = c
        .prepare_cached("SELECT user_id FROM members WHERE chat_id = ?1 AND user_id <> ?2")?
        .query_row(params![chat.id.0, user.0], |r| r.get(0))
        .optional()?;
    Ok(Some(other.map(UserId).unwrap_or(user)))
}

/// The authorization choke point: the chat as `user` sees it, or `ChatNotFound` when it does
/// not exist or `user` is not a member (the two are indistinguishable on purpose).
pub fn view(c: &Connection, user: UserId, chat: ChatId) -> Result<View> {
    let chat = load_chat(c, chat)?.ok_or(Error::ChatNotFound)?;
    let membership = membership(c, chat.id, user)?.ok_or(Error::ChatNotFound)?;
    let peer = private_peer(c, &chat, user)?;
    Ok(View { chat, membership, peer })
}

fn insert_member(c: &Connection, chat: ChatId, user: UserId, role: Role, top: MessageId) -> Result<bool> {
    // A new member has nothing unread from before they joined.
    let added = c
        .prepare_cached(
            "INSERT OR IGNORE INTO members (chat_id, user_id, role, joined, read_inbox, read_outbox, bot)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, COALESCE((SELECT bot_owner IS NOT NULL FROM users WHERE id = ?2), 0))",
        )?
        .execute(params![chat.0, user.0, role.as_str(), now(), top.0])?
        > 0;
    if added {
        c.execute("UPDATE chats SET member_count = member_count + 1 WHERE id = ?1", [chat.0])?;
    }
    Ok(added)
}

pub fn open_private(c: &Connection, _out: &mut Vec<Logged>, user: UserId, peer: UserId) -> Result<Chat> {
    if !user_exists(c, peer)? {
        return Err(Error::UserNotFound);
    }
    let pair = format!("{}:{}", user.0.min(peer.0), user.0.max(peer.0));
    let existing: Option<i64> = c.query_row("SELECT id FROM chats WHERE pair = ?1", [&pair], |r| r.get(0)).optional()?;
    if let Some(id) = existing {
        return load_chat(c, ChatId(id))?.ok_or(Error::ChatNotFound);
    }
    c.execute(
        "INSERT INTO chats (kind, title, creator, created, activity, pair) VALUES ('private', '', ?1, ?2, ?3, ?4)",
        params![user.0, now(), now_ms(), pair],
    )?;
    let id = ChatId(c.last_insert_rowid());
    insert_member(c, id, user, Role::Member, MessageId(0))?;
    insert_member(c, id, peer, Role::Member, MessageId(0))?;
    load_chat(c, id)?.ok_or(Error::ChatNotFound)
}

#[allow(clippy::too_many_arguments)]
pub fn create_chat(
    c: &Connection,
    limits: &Limits,
    out: &mut Vec<Logged>,
    creator: UserId,
    kind: ChatKind,
    title: &Title,
    username: Option<&Username>,
    members: &[UserId],
) -> Result<Chat> {
    if kind == ChatKind::Private {
        return Err(Error::Invalid("private chats are opened with a user, not created".into()));
    }
    let mut wanted: Vec<UserId> = members.iter().copied().filter(|&m| m != creator).collect();
    wanted.sort();
    wanted.dedup();
    for &m in &wanted {
        if !user_exists(c, m)? {
            return Err(Error::UserNotFound);
        }
    }
    if kind == ChatKind::Group && wanted.len() as u64 + 1 > MAX_GROUP_MEMBERS {
        return Err(Error::TooManyMembers);
    }
    let own_log = keeps_own_log(kind, wanted.len() as u64 + 1, limits.large_group_threshold);
    c.execute(
        "INSERT INTO chats (kind, title, username, creator, own_log, created, activity) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![kind.as_str(), title.as_str(), username.map(Username::as_str), creator.0, own_log, now(), now_ms()],
    )?;
    let id = ChatId(c.last_insert_rowid());
    if let Some(name) = username {
        claim_username(c, name, None, Some(id))?;
    }
    insert_member(c, id, creator, Role::Creator, MessageId(0))?;
    for &m in &wanted {
        insert_member(c, id, m, Role::Member, MessageId(0))?;
    }
    // Everyone in it learns about the chat from their own log.
    for m in std::iter::once(creator).chain(wanted) {
        let role = if m == creator { Role::Creator } else { Role::Member };
        log_user(c, out, m, joined(c, id, m, role, creator)?)?;
    }
    load_chat(c, id)?.ok_or(Error::ChatNotFound)
}

fn require_manage(view: &View) -> Result<()> {
    if can_manage(view.chat.kind, view.membership.role) {
        Ok(())
    } else {
        Err(Error::AdminRequired)
    }
}

/// After members joined: a group that grew past the threshold starts its own log, and every
/// member is told through their own log.
fn maybe_grow_own_log(c: &Connection, limits: &Limits, out: &mut Vec<Logged>, chat: ChatId) -> Result<Chat> {
    let current = load_chat(c, chat)?.ok_or(Error::ChatNotFound)?;
    if current.own_log || !keeps_own_log(current.kind, current.member_count, limits.large_group_threshold) {
        return Ok(current);
    }
    c.execute("UPDATE chats SET own_log = 1 WHERE id = ?1", [chat.0])?;
    for m in member_ids(c, chat)? {
        log_user(c, out, m, Event::ChatChanged { chat })?;
    }
    load_chat(c, chat)?.ok_or(Error::ChatNotFound)
}

/// Announces that `user` joined `chat` (added by `by`).
fn announce_join(c: &Connection, out: &mut Vec<Logged>, chat: &Chat, user: UserId, by: UserId) -> Result<()> {
    let event = Event::Participant { chat: chat.id, user, role: Some(Role::Member), by };
    match (chat.kind, chat.own_log) {
        // Channels do not announce subscribers to each other.
        (ChatKind::Channel, _) => {}
        (_, true) => {
            log_chat_except(c, out, chat.id, event, Some(user))?;
        }
        (_, false) => {
            for m in member_ids(c, chat.id)? {
                if m != user {
                    log_user(c, out, m, event.clone())?;
                }
            }
        }
    }
    log_user(c, out, user, joined(c, chat.id, user, Role::Member, by)?)?;
    Ok(())
}

/// How a new member learns of a chat from their own log: people by `ChatChanged` (their
/// clients load the chat); bots by a `Participant` event naming themselves (the Bot API's
/// `my_chat_member`).
fn joined(c: &Connection, chat: ChatId, user: UserId, role: Role, by: UserId) -> Result<Event> {
    Ok(if is_bot(c, user)? { Event::Participant { chat, user, role: Some(role), by } } else { Event::ChatChanged { chat } })
}

pub fn add_members(c: &Connection, limits: &Limits, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, users: &[UserId]) -> Result<Chat> {
    let v = view(c, actor, chat)?;
    require_manage(&v)?;
    for &u in users {
        if !user_exists(c, u)? {
            return Err(Error::UserNotFound);
        }
    }
    let mut added = Vec::new();
    for &u in users {
        if insert_member(c, chat, u, Role::Member, v.chat.top_message)? {
            added.push(u);
        }
    }
    let grown = maybe_grow_own_log(c, limits, out, chat)?;
    if grown.kind == ChatKind::Group && grown.member_count > MAX_GROUP_MEMBERS {
        return Err(Error::TooManyMembers);
    }
    for u in added {
        announce_join(c, out, &grown, u, actor)?;
    }
    load_chat(c, chat)?.ok_or(Error::ChatNotFound)
}

pub fn remove_member(c: &Connection, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, user: UserId) -> Result<()> {
    let v = view(c, actor, chat)?;
    if v.chat.kind == ChatKind::Private {
        return Err(Error::Invalid("you cannot leave or remove people from a private chat".into()));
    }
    let target = if actor == user { v.membership.clone() } else { membership(c, chat, user)?.ok_or(Error::UserNotFound)? };
    if actor != user {
        require_manage(&v)?;
        if !can_remove(v.membership.role, target.role) {
            return Err(Error::AdminRequired);
        }
    }
    let event = Event::Participant { chat, user, role: None, by: actor };
    if v.chat.own_log {
        if v.chat.kind != ChatKind::Channel {
            log_chat_except(c, out, chat, event.clone(), Some(user))?;
        }
        log_user(c, out, user, event)?;
    } else {
        log_for_chat(c, out, &v.chat, actor, event)?;
    }
    c.execute("DELETE FROM members WHERE chat_id = ?1 AND user_id = ?2", params![chat.0, user.0])?;
    c.execute("UPDATE chats SET member_count = member_count - 1 WHERE id = ?1", [chat.0])?;
    if target.role == Role::Creator {
        hand_over(c, out, &v.chat, user)?;
    }
    Ok(())
}

/// A creator who leaves hands the chat to the longest-standing admin, or else the
/// longest-standing member, so someone can always manage it.
fn hand_over(c: &Connection, out: &mut Vec<Logged>, chat: &Chat, leaver: UserId) -> Result<()> {
    let heir: Option<i64> = c
        .query_row(
            "SELECT user_id FROM members WHERE chat_id = ?1 ORDER BY role = 'admin' DESC, joined, user_id LIMIT 1",
            [chat.id.0],
            |r| r.get(0),
        )
        .optional()?;
    let Some(heir) = heir.map(UserId) else { return Ok(()) };
    c.execute("UPDATE members SET role = 'creator' WHERE chat_id = ?1 AND user_id = ?2", params![chat.id.0, heir.0])?;
    c.execute("UPDATE chats SET creator = ?2 WHERE id = ?1", params![chat.id.0, heir.0])?;
    let event = Event::Participant { chat: chat.id, user: heir, role: Some(Role::Creator), by: leaver };
    if chat.kind == ChatKind::Channel {
        log_user(c, out, heir, event)?;
    } else {
        log_for_chat(c, out, chat, leaver, event)?;
    }
    Ok(())
}

pub fn set_title(c: &Connection, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, title: &Title) -> Result<Chat> {
    let v = view(c, actor, chat)?;
    require_manage(&v)?;
    c.execute("UPDATE chats SET title = ?2 WHERE id = ?1", params![chat.0, title.as_str()])?;
    log_for_chat(c, out, &v.chat, actor, Event::ChatChanged { chat })?;
    load_chat(c, chat)?.ok_or(Error::ChatNotFound)
}

pub fn set_admin(c: &Connection, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, user: UserId, admin: bool) -> Result<()> {
    let v = view(c, actor, chat)?;
    if v.chat.kind == ChatKind::Private || v.membership.role != Role::Creator {
        return Err(Error::AdminRequired);
    }
    let target = membership(c, chat, user)?.ok_or(Error::UserNotFound)?;
    if target.role == Role::Creator {
        return Err(Error::Invalid("the creator's role cannot change".into()));
    }
    let role = if admin { Role::Admin } else { Role::Member };
    c.execute("UPDATE members SET role = ?3 WHERE chat_id = ?1 AND user_id = ?2", params![chat.0, user.0, role.as_str()])?;
    let event = Event::Participant { chat, user, role: Some(role), by: actor };
    if v.chat.kind == ChatKind::Channel {
        log_user(c, out, user, event)?;
    } else {
        log_for_chat(c, out, &v.chat, actor, event)?;
    }
    Ok(())
}

pub fn members(c: &Connection, actor: UserId, chat: ChatId, offset: u32, limit: u32) -> Result<Vec<Membership>> {
    let v = view(c, actor, chat)?;
    if v.chat.kind == ChatKind::Channel && !v.membership.role.is_admin() {
        return Err(Error::AdminRequired);
    }
    let mut stmt =
        c.prepare(&format!("SELECT {MEMBER_COLS} FROM members WHERE chat_id = ?1 ORDER BY joined, user_id LIMIT ?2 OFFSET ?3"))?;
    let rows = stmt.query_map(params![chat.0, limit, offset], member_row)?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn export_invite(c: &Connection, actor: UserId, chat: ChatId) -> Result<String> {
    let v = view(c, actor, chat)?;
    require_manage(&v)?;
    let existing: Option<String> = c.query_row("SELECT invite FROM chats WHERE id = ?1", [chat.0], |r| r.get(0))?;
    if let Some(token) = existing {
        return Ok(token);
    }
    let token: String = (0..22)
        .map(|_| {
            const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            ALPHABET[rand::random_range(0..ALPHABET.len())] as char
        })
        .collect();
    c.execute("UPDATE chats SET invite = ?2 WHERE id = ?1", params![chat.0, token])?;
    Ok(token)
}

pub fn join(c: &Connection, limits: &Limits, out: &mut Vec<Logged>, user: UserId, how: &JoinBy) -> Result<Chat> {
    let chat = match how {
        JoinBy::Invite(token) => c
            .query_row(&format!("SELECT {CHAT_COLS} FROM chats WHERE invite = ?1"), [token], chat_row)
            .optional()?
            .ok_or(Error::InviteInvalid)?,
        JoinBy::Username(name) => match resolve(c, name)? {
            Some(Resolved::Chat(chat)) => chat,
            _ => return Err(Error::ChatNotFound),
        },
    };
    if chat.kind == ChatKind::Private {
        return Err(Error::ChatNotFound);
    }
    if membership(c, chat.id, user)?.is_some() {
        return Ok(chat);
    }
    if chat.kind == ChatKind::Group && chat.member_count + 1 > MAX_GROUP_MEMBERS {
        return Err(Error::TooManyMembers);
    }
    insert_member(c, chat.id, user, Role::Member, chat.top_message)?;
    let grown = maybe_grow_own_log(c, limits, out, chat.id)?;
    announce_join(c, out, &grown, user, user)?;
    Ok(grown)
}

pub fn typing_audience(c: &Connection, actor: UserId, chat: ChatId) -> Result<Option<Vec<UserId>>> {
    let v = view(c, actor, chat)?;
    if !can_post(v.chat.kind, v.membership.role) {
        return Err(Error::WriteForbidden);
    }
    if v.chat.own_log {
        return Ok(None);
    }
    Ok(Some(member_ids(c, chat)?.into_iter().filter(|&m| m != actor).collect()))
}

pub fn own_log_chats(c: &Connection, user: UserId) -> Result<Vec<(ChatId, Pts)>> {
    let mut stmt =
        c.prepare("SELECT c.id, c.pts FROM members m JOIN chats c ON c.id = m.chat_id WHERE m.user_id = ?1 AND c.own_log = 1")?;
    let rows = stmt.query_map([user.0], |r| Ok((ChatId(r.get(0)?), r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

// --- messages ------------------------------------------------------------------------------

fn message(c: &Connection, chat: ChatId, id: MessageId) -> Result<Option<Message>> {
    Ok(c.prepare_cached(&format!("SELECT {MESSAGE_COLS} FROM messages WHERE chat_id = ?1 AND id = ?2 AND deleted = 0"))?
        .query_row(params![chat.0, id.0], message_row)
        .optional()?)
}

fn is_hidden(c: &Connection, user: UserId, chat: ChatId, id: MessageId) -> Result<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM hidden WHERE user_id = ?1 AND chat_id = ?2 AND msg_id = ?3")?
        .query_row(params![user.0, chat.0, id.0], |_| Ok(()))
        .optional()?
        .is_some())
}

/// A message `user` can see in a chat they are a member of.
fn visible_message(c: &Connection, user: UserId, chat: ChatId, id: MessageId) -> Result<Message> {
    match message(c, chat, id)? {
        Some(m) if !is_hidden(c, user, chat, id)? => Ok(m),
        _ => Err(Error::MessageNotFound),
    }
}

fn is_bot(c: &Connection, user: UserId) -> Result<bool> {
    Ok(c.prepare_cached("SELECT bot_owner IS NOT NULL FROM users WHERE id = ?1")?
        .query_row([user.0], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

pub fn send(
    c: &Connection,
    out: &mut Vec<Logged>,
    actor: UserId,
    chat: ChatId,
    random_id: i64,
    draft: &Draft,
    forward: Option<Forward>,
) -> Result<Sent> {
    let Draft { content, entities, keyboard, reply_to } = draft;
    let reply_to = *reply_to;
    let earlier: Option<(i64, i64, i64)> = c
        .prepare_cached("SELECT chat_id, msg_id, pts FROM sends WHERE user_id = ?1 AND random_id = ?2")?
        .query_row(params![actor.0, random_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((chat, id, pts)) = earlier {
        // A retry: answer with that message as it is now (edited or deleted since, maybe).
        let message = c
            .prepare_cached(&format!("SELECT {MESSAGE_COLS} FROM messages WHERE chat_id = ?1 AND id = ?2"))?
            .query_row(params![chat, id], message_row)?;
        return Ok(Sent { message, pts });
    }
    let v = view(c, actor, chat)?;
    if !can_post(v.chat.kind, v.membership.role) {
        return Err(Error::WriteForbidden);
    }
    if let Some(peer) = v.peer.filter(|&p| p != actor) {
        if is_blocked(c, peer, actor)? || is_blocked(c, actor, peer)? {
            return Err(Error::Blocked);
        }
    }
    if keyboard.is_some() && !is_bot(c, actor)? {
        return Err(Error::WriteForbidden);
    }
    if let Some(reply) = reply_to {
        visible_message(c, actor, chat, reply)?;
    }
    let id = MessageId(v.chat.top_message.0 + 1);
    let date = now();
    let (kind, media) = match content {
        Content::Text(_) => ("text", None),
        Content::Media(m) => (m.kind.as_str(), Some(m)),
    };
    c.prepare_cached(
        "INSERT INTO messages (chat_id, id, from_id, date, kind, text, reply_to, fwd_user, fwd_chat, fwd_msg, fwd_date,
            media_file, media_name, media_mime, media_size, media_width, media_height, media_thumb, entities, markup)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )?
    .execute(params![
        chat.0,
        id.0,
        actor.0,
        date,
        kind,
        content.text().map(MessageText::as_str),
        reply_to.map(|r| r.0),
        forward.map(|f| f.from_user.0),
        forward.map(|f| f.from_chat.0),
        forward.map(|f| f.message.0),
        forward.map(|f| f.date),
        media.map(|m| m.file.0),
        media.map(|m| m.name.as_str()),
        media.map(|m| m.mime.as_str()),
        media.map(|m| m.size as i64),
        media.and_then(|m| m.width.map(i64::from)),
        media.and_then(|m| m.height.map(i64::from)),
        media.and_then(|m| m.thumb.map(|t| t.0)),
        encode_entities(entities),
        encode_keyboard(keyboard.as_ref()),
    ])?;
    c.prepare_cached("UPDATE chats SET top_message = ?2, activity = ?3 WHERE id = ?1")?.execute(params![chat.0, id.0, now_ms()])?;
    c.prepare_cached("UPDATE members SET read_inbox = ?3 WHERE chat_id = ?1 AND user_id = ?2")?.execute(params![chat.0, actor.0, id.0])?;
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
    let pts = log_for_chat(c, out, &v.chat, actor, Event::NewMessage(message.clone()))?;
    c.prepare_cached("INSERT INTO sends (user_id, random_id, chat_id, msg_id, pts) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![actor.0, random_id, chat.0, id.0, pts])?;
    Ok(Sent { message, pts })
}

pub fn forward(
    c: &Connection,
    out: &mut Vec<Logged>,
    actor: UserId,
    from: ChatId,
    ids: &[MessageId],
    to: ChatId,
    random_ids: &[i64],
) -> Result<Vec<Sent>> {
    if ids.len() != random_ids.len() {
        return Err(Error::Invalid("forward needs one random_id per message".into()));
    }
    view(c, actor, from)?;
    let mut sent = Vec::with_capacity(ids.len());
    for (&id, &random_id) in ids.iter().zip(random_ids) {
        let original = visible_message(c, actor, from, id)?;
        let origin = original.forward.unwrap_or(Forward { from_user: original.from, from_chat: from, message: id, date: original.date });
        // A copy keeps the formatting; buttons belong to the bot that posted the original.
        let draft = Draft { content: original.content, entities: original.entities, keyboard: None, reply_to: None };
        sent.push(send(c, out, actor, to, random_id, &draft, Some(origin))?);
    }
    Ok(sent)
}

pub fn edit(c: &Connection, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, id: MessageId, edit: &Edit) -> Result<Message> {
    let v = view(c, actor, chat)?;
    let original = visible_message(c, actor, chat, id)?;
    if original.from != actor {
        return Err(Error::AuthorRequired);
    }
    if original.forward.is_some() {
        return Err(Error::Invalid("a forwarded message keeps its author's words: it cannot be edited".into()));
    }
    if !can_post(v.chat.kind, v.membership.role) {
        return Err(Error::WriteForbidden);
    }
    if matches!(edit.keyboard, Some(Some(_))) && !is_bot(c, actor)? {
        return Err(Error::WriteForbidden);
    }
    let edited = now();
    let mut message = Message { edit_date: Some(edited), ..original };
    if let Some((text, entities)) = &edit.text {
        message.content = match message.content {
            Content::Text(_) => Content::Text(text.clone()),
            // On media the text is the caption.
            Content::Media(m) => Content::Media(Media { caption: Some(text.clone()), ..m }),
        };
        message.entities = entities.clone();
    }
    if let Some(keyboard) = &edit.keyboard {
        message.keyboard = keyboard.clone();
    }
    c.execute(
        "UPDATE messages SET text = ?3, entities = ?4, markup = ?5, edit_date = ?6 WHERE chat_id = ?1 AND id = ?2",
        params![
            chat.0,
            id.0,
            message.content.text().map(MessageText::as_str),
            encode_entities(&message.entities),
            encode_keyboard(message.keyboard.as_ref()),
            edited
        ],
    )?;
    log_for_chat(c, out, &v.chat, actor, Event::EditMessage(message.clone()))?;
    Ok(message)
}

pub fn delete(c: &Connection, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, ids: &[MessageId], for_everyone: bool) -> Result<()> {
    let v = view(c, actor, chat)?;
    // Channel posts have no per-reader copies: deleting one deletes it for everyone.
    let for_everyone = for_everyone || v.chat.kind == ChatKind::Channel;
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    for &id in &ids {
        let m = visible_message(c, actor, chat, id)?;
        if for_everyone && m.from != actor && !can_delete_others(v.chat.kind, v.membership.role) {
            return Err(if v.chat.kind == ChatKind::Private { Error::AuthorRequired } else { Error::AdminRequired });
        }
    }
    if !for_everyone {
        for &id in &ids {
            c.execute("INSERT OR IGNORE INTO hidden (user_id, chat_id, msg_id) VALUES (?1, ?2, ?3)", params![actor.0, chat.0, id.0])?;
        }
        log_user(c, out, actor, Event::DeleteMessages { chat, ids })?;
        return Ok(());
    }
    for &id in &ids {
        // The text goes with the message: a deleted message keeps only its place in the sequence.
        c.execute(
            "UPDATE messages SET deleted = 1, text = NULL, media_file = NULL, media_thumb = NULL WHERE chat_id = ?1 AND id = ?2",
            params![chat.0, id.0],
        )?;
    }
    if v.chat.pinned.is_some_and(|p| ids.contains(&p)) {
        c.execute("UPDATE chats SET pinned = NULL WHERE id = ?1", [chat.0])?;
        log_for_chat(c, out, &v.chat, actor, Event::Pinned { chat, id: None })?;
    }
    log_for_chat(c, out, &v.chat, actor, Event::DeleteMessages { chat, ids })?;
    Ok(())
}

pub fn pin(c: &Connection, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, id: Option<MessageId>) -> Result<()> {
    let v = view(c, actor, chat)?;
    if !can_pin(v.chat.kind, v.membership.role) {
        return Err(Error::AdminRequired);
    }
    if let Some(id) = id {
        visible_message(c, actor, chat, id)?;
    }
    c.execute("UPDATE chats SET pinned = ?2 WHERE id = ?1", params![chat.0, id.map(|i| i.0)])?;
    log_for_chat(c, out, &v.chat, actor, Event::Pinned { chat, id })?;
    Ok(())
}

pub fn read(c: &Connection, out: &mut Vec<Logged>, actor: UserId, chat: ChatId, max_id: Option<MessageId>) -> Result<()> {
    let v = view(c, actor, chat)?;
    let top = v.chat.top_message;
    let max = max_id.unwrap_or(top).min(top);
    if max <= v.membership.read_inbox {
        return Ok(());
    }
    c.execute("UPDATE members SET read_inbox = ?3 WHERE chat_id = ?1 AND user_id = ?2", params![chat.0, actor.0, max.0])?;
    log_user(c, out, actor, Event::ReadInbox { chat, max_id: max })?;
    if v.chat.own_log {
        // Read receipts are not broadcast in channels and large groups.
        return Ok(());
    }
    // Tell the authors whose messages are now read.
    let mut stmt = c.prepare_cached(
        "SELECT m.user_id FROM members m WHERE m.chat_id = ?1 AND m.user_id <> ?2 AND m.read_outbox < ?3
         AND EXISTS (SELECT 1 FROM messages g WHERE g.chat_id = ?1 AND g.from_id = m.user_id AND g.id > m.read_outbox AND g.id <= ?3)",
    )?;
    let authors: Vec<UserId> =
        stmt.query_map(params![chat.0, actor.0, max.0], |r| Ok(UserId(r.get(0)?)))?.collect::<rusqlite::Result<_>>()?;
    for author in authors {
        c.execute("UPDATE members SET read_outbox = ?3 WHERE chat_id = ?1 AND user_id = ?2", params![chat.0, author.0, max.0])?;
        log_user(c, out, author, Event::ReadOutbox { chat, max_id: max })?;
    }
    Ok(())
}

pub fn history(c: &Connection, actor: UserId, chat: ChatId, page: Page) -> Result<Vec<Message>> {
    view(c, actor, chat)?;
    let visible = "chat_id = ?1 AND deleted = 0 AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = ?2 AND h.chat_id = ?1 AND h.msg_id = messages.id)";
    let (sql, bound, limit) = match page {
        Page::Older { before, limit } => (
            format!("SELECT {MESSAGE_COLS} FROM messages WHERE {visible} AND id < ?3 ORDER BY id DESC LIMIT ?4"),
            before.map_or(i64::MAX, |b| b.0),
            limit,
        ),
        Page::Newer { after, limit } => (
            format!("SELECT {MESSAGE_COLS} FROM messages WHERE {visible} AND id > ?3 ORDER BY id ASC LIMIT ?4"),
            after.map_or(0, |a| a.0),
            limit,
        ),
    };
    let mut stmt = c.prepare_cached(&sql)?;
    let mut rows: Vec<Message> = stmt.query_map(params![chat.0, actor.0, bound, limit], message_row)?.collect::<rusqlite::Result<_>>()?;
    if matches!(page, Page::Older { .. }) {
        rows.reverse();
    }
    Ok(rows)
}

pub fn dialogs(c: &Connection, user: UserId, before: Option<(i64, ChatId)>, limit: u32) -> Result<Vec<Dialog>> {
    let (activity, id) = before.map_or((i64::MAX, i64::MAX), |(a, ch)| (a, ch.0));
    let mut stmt = c.prepare_cached(
        &format!(
            "SELECT {MEMBER_COLS} FROM members m JOIN chats c ON c.id = m.chat_id
         WHERE m.user_id = ?1 AND (c.activity < ?2 OR (c.activity = ?2 AND c.id < ?3))
         ORDER BY c.activity DESC, c.id DESC LIMIT ?4"
        )
        .replace(
            "SELECT chat_id, user_id, role, joined, read_inbox, read_outbox",
            "SELECT m.chat_id, m.user_id, m.role, m.joined, m.read_inbox, m.read_outbox",
        ),
    )?;
    let memberships: Vec<Membership> =
        stmt.query_map(params![user.0, activity, id, limit], member_row)?.collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(memberships.len());
    for membership in memberships {
        let chat = load_chat(c, membership.chat)?.ok_or(Error::ChatNotFound)?;
        let peer = private_peer(c, &chat, user)?;
        let last_message = history(c, user, chat.id, Page::Older { before: None, limit: 1 })?.pop();
        let unread: i64 = c
            .prepare_cached(
                "SELECT COUNT(*) FROM messages WHERE chat_id = ?1 AND id > ?2 AND from_id <> ?3 AND deleted = 0
                 AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = ?3 AND h.chat_id = ?1 AND h.msg_id = messages.id)",
            )?
            .query_row(params![chat.id.0, membership.read_inbox.0, user.0], |r| r.get(0))?;
        out.push(Dialog { view: View { chat, membership, peer }, last_message, unread: unread as u64 });
    }
    Ok(out)
}

// --- sync ----------------------------------------------------------------------------------

pub fn state(c: &Connection, user: UserId) -> Result<Pts> {
    c.query_row("SELECT pts FROM users WHERE id = ?1", [user.0], |r| r.get(0)).optional()?.ok_or(Error::UserNotFound)
}

fn page_of(c: &Connection, sql: &str, owner: i64, log: Log, from: Pts, top: Pts, limit: u32, limits: &Limits) -> Result<Difference> {
    let from = from.max(0);
    // A page of nothing would answer a Slice that does not move, and a client would loop.
    let limit = limit.max(1);
    if from >= top {
        return Ok(Difference::Empty { pts: top });
    }
    if top - from > limits.difference_horizon {
        return Ok(Difference::TooLong { pts: top });
    }
    let mut stmt = c.prepare_cached(sql)?;
    let rows: Vec<(Pts, i64, String, i64, Option<i64>, Option<i64>, Option<String>)> = stmt
        .query_map(params![owner, from, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut last = from;
    let mut events = Vec::with_capacity(rows.len());
    for (pts, date, kind, chat, a, b, ids) in rows {
        last = pts;
        if let Some(event) = decode(c, &kind, chat, a, b, ids)? {
            events.push(Logged { log, pts, date, event });
        }
    }
    Ok(if last < top { Difference::Slice { events, pts: last } } else { Difference::Complete { events, pts: last } })
}

pub fn difference(c: &Connection, limits: &Limits, user: UserId, pts: Pts, limit: u32) -> Result<Difference> {
    let top = state(c, user)?;
    page_of(
        c,
        "SELECT pts, date, kind, chat_id, a, b, ids FROM user_updates WHERE user_id = ?1 AND pts > ?2 ORDER BY pts LIMIT ?3",
        user.0,
        Log::User(user),
        pts,
        top,
        limit,
        limits,
    )
}

pub fn chat_difference(c: &Connection, limits: &Limits, user: UserId, chat: ChatId, pts: Pts, limit: u32) -> Result<Difference> {
    let v = view(c, user, chat)?;
    if !v.chat.own_log {
        return Err(Error::Invalid("this chat has no log of its own; its updates are in your log".into()));
    }
    page_of(
        c,
        "SELECT pts, date, kind, chat_id, a, b, ids FROM chat_updates WHERE chat_id = ?1 AND pts > ?2 ORDER BY pts LIMIT ?3",
        chat.0,
        Log::Chat(chat),
        pts,
        v.chat.pts,
        limit,
        limits,
    )
}

// --- files ---------------------------------------------------------------------------------

const FILE_COLS: &str = "id, owner, sha256, size, name, mime, width, height, thumb, created";

fn file_row(r: &Row) -> rusqlite::Result<File> {
    let hash: Vec<u8> = r.get(2)?;
    Ok(File {
        id: FileId(r.get(0)?),
        owner: UserId(r.get(1)?),
        sha256: hash.try_into().unwrap_or([0; 32]),
        size: r.get::<_, i64>(3)? as u64,
        name: r.get(4)?,
        mime: r.get(5)?,
        width: r.get::<_, Option<i64>>(6)?.map(|w| w as u32),
        height: r.get::<_, Option<i64>>(7)?.map(|h| h as u32),
        thumb: r.get::<_, Option<i64>>(8)?.map(FileId),
        created: r.get(9)?,
    })
}

pub fn file_usage(c: &Connection, user: UserId) -> Result<u64> {
    let used: i64 = c.prepare_cached("SELECT COALESCE(SUM(size), 0) FROM files WHERE owner = ?1")?.query_row([user.0], |r| r.get(0))?;
    Ok(used as u64)
}

/// File records with this content (no index: only asked when an upload is refused late).
pub fn file_refs(c: &Connection, sha256: &[u8; 32]) -> Result<u64> {
    let n: i64 = c.prepare_cached("SELECT COUNT(*) FROM files WHERE sha256 = ?1")?.query_row([&sha256[..]], |r| r.get(0))?;
    Ok(n as u64)
}

pub fn create_file(c: &Connection, owner: UserId, f: &NewFile, quota: u64) -> Result<File> {
    let used = file_usage(c, owner)?;
    if used.saturating_add(f.size) > quota {
        return Err(Error::QuotaExceeded { used, quota });
    }
    let created = now();
    c.prepare_cached(
        "INSERT INTO files (owner, sha256, size, name, mime, width, height, thumb, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        owner.0,
        &f.sha256[..],
        f.size as i64,
        f.name,
        f.mime,
        f.width.map(i64::from),
        f.height.map(i64::from),
        f.thumb.map(|t| t.0),
        created
    ])?;
    Ok(File {
        id: FileId(c.last_insert_rowid()),
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

pub fn file(c: &Connection, user: UserId, id: FileId) -> Result<File> {
    let f = c.prepare_cached(&format!("SELECT {FILE_COLS} FROM files WHERE id = ?1"))?.query_row([id.0], file_row).optional()?;
    let Some(f) = f else { return Err(Error::FileNotFound) };
    if f.owner == user {
        return Ok(f);
    }
    // Shared with `user`: a live message with it (or its thumbnail) in a chat they belong to.
    let shared = c
        .prepare_cached(
            "SELECT 1 FROM messages m JOIN members mem ON mem.chat_id = m.chat_id AND mem.user_id = ?2
             WHERE m.media_file = ?1 AND m.deleted = 0
             UNION ALL
             SELECT 1 FROM messages m JOIN members mem ON mem.chat_id = m.chat_id AND mem.user_id = ?2
             WHERE m.media_thumb = ?1 AND m.deleted = 0
             LIMIT 1",
        )?
        .query_row(params![id.0, user.0], |_| Ok(()))
        .optional()?;
    match shared {
        Some(()) => Ok(f),
        None => Err(Error::FileNotFound),
    }
}

// --- bots ----------------------------------------------------------------------------------

pub fn member(c: &Connection, actor: UserId, chat: ChatId, user: UserId) -> Result<Option<Membership>> {
    let v = view(c, actor, chat)?;
    if user == actor {
        return Ok(Some(v.membership));
    }
    membership(c, chat, user)
}

pub fn find_private(c: &Connection, user: UserId, peer: UserId) -> Result<Option<Chat>> {
    let pair = format!("{}:{}", user.0.min(peer.0), user.0.max(peer.0));
    Ok(c.query_row(&format!("SELECT {CHAT_COLS} FROM chats WHERE pair = ?1"), [&pair], chat_row).optional()?)
}

pub fn create_bot(c: &Connection, owner: UserId, name: &DisplayName, username: &Username, token_hash: &[u8]) -> Result<User> {
    if !user_exists(c, owner)? {
        return Err(Error::UserNotFound);
    }
    let created = now();
    c.execute(
        "INSERT INTO users (phone, name, username, created, bot_owner) VALUES (NULL, ?1, ?2, ?3, ?4)",
        params![name.as_str(), username.as_str(), created, owner.0],
    )?;
    let id = UserId(c.last_insert_rowid());
    claim_username(c, username, Some(id), None)?;
    c.execute("INSERT INTO bots (user_id, owner) VALUES (?1, ?2)", params![id.0, owner.0])?;
    create_session(c, id, token_hash, "bot")?;
    user(c, id)
}

pub fn bots(c: &Connection, owner: UserId) -> Result<Vec<User>> {
    user_list(c, &format!("SELECT {USER_COLS} FROM users WHERE bot_owner = ?1 ORDER BY id"), owner)
}

pub fn replace_bot_token(c: &Connection, owner: UserId, bot: UserId, token_hash: &[u8]) -> Result<()> {
    let theirs = c.query_row("SELECT 1 FROM bots WHERE user_id = ?1 AND owner = ?2", params![bot.0, owner.0], |_| Ok(())).optional()?;
    if theirs.is_none() {
        return Err(Error::UserNotFound);
    }
    c.execute("DELETE FROM sessions WHERE user_id = ?1", [bot.0])?;
    create_session(c, bot, token_hash, "bot")?;
    Ok(())
}

pub fn webhook_bots(c: &Connection) -> Result<Vec<UserId>> {
    let mut stmt = c.prepare("SELECT user_id FROM bots WHERE webhook_url IS NOT NULL ORDER BY user_id")?;
    let ids = stmt.query_map([], |r| Ok(UserId(r.get(0)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

pub fn bot(c: &Connection, id: UserId) -> Result<Option<Bot>> {
    type Settings = (Pts, Option<String>, Option<String>, Option<i64>, Option<i64>, Option<i64>, Option<String>, Option<String>, String);
    let row: Option<Settings> = c
        .query_row(
            "SELECT confirmed, webhook_url, webhook_secret, webhook_max_connections, webhook_set, webhook_error_date, webhook_error,
                    allowed_updates, commands FROM bots WHERE user_id = ?1",
            [id.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?)),
        )
        .optional()?;
    let Some((confirmed, url, secret, max_connections, set, error_date, error, allowed_updates, commands)) = row else {
        return Ok(None);
    };
    Ok(Some(Bot {
        user: user(c, id)?,
        confirmed,
        webhook: url.map(|url| Webhook {
            url,
            secret,
            max_connections: max_connections.unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
            set: set.unwrap_or(0),
        }),
        webhook_error: error_date.map(|d| (d, error.unwrap_or_default())),
        allowed_updates,
        commands,
    }))
}

pub fn update_bot(c: &Connection, id: UserId, change: &BotChange) -> Result<Bot> {
    let changed = match change {
        BotChange::Confirm(pts) => {
            // Never moves down; a bot that exists but is already further along changes nothing.
            c.execute("UPDATE bots SET confirmed = MAX(confirmed, ?2) WHERE user_id = ?1", params![id.0, pts])?
        }
        BotChange::Webhook(Some(w)) => c.execute(
            "UPDATE bots SET webhook_url = ?2, webhook_secret = ?3, webhook_max_connections = ?4, webhook_set = ?5,
                 webhook_error_date = NULL, webhook_error = NULL WHERE user_id = ?1",
            params![id.0, w.url, w.secret, i64::from(w.max_connections), w.set],
        )?,
        BotChange::Webhook(None) => c.execute(
            "UPDATE bots SET webhook_url = NULL, webhook_secret = NULL, webhook_max_connections = NULL, webhook_set = NULL
             WHERE user_id = ?1",
            [id.0],
        )?,
        BotChange::WebhookError(e) => c.execute(
            "UPDATE bots SET webhook_error_date = ?2, webhook_error = ?3 WHERE user_id = ?1",
            params![id.0, e.as_ref().map(|e| e.0), e.as_ref().map(|e| e.1.as_str())],
        )?,
        BotChange::AllowedUpdates(a) => c.execute("UPDATE bots SET allowed_updates = ?2 WHERE user_id = ?1", params![id.0, a])?,
        BotChange::Commands(s) => c.execute("UPDATE bots SET commands = ?2 WHERE user_id = ?1", params![id.0, s])?,
    };
    if changed == 0 {
        return Err(Error::UserNotFound);
    }
    bot(c, id)?.ok_or(Error::UserNotFound)
}

pub fn press_button(c: &Connection, out: &mut Vec<Logged>, user: UserId, chat: ChatId, id: MessageId, data: &str) -> Result<(UserId, Pts)> {
    view(c, user, chat)?;
    let message = visible_message(c, user, chat, id)?;
    let pressable = message.keyboard.as_ref().is_some_and(|k| k.has_callback(data));
    if !pressable || !is_bot(c, message.from)? {
        return Err(Error::ButtonNotFound);
    }
    let pts = log_user(c, out, message.from, Event::CallbackQuery { chat, message: id, from: user, data: data.to_string() })?;
    Ok((message.from, pts))
}
