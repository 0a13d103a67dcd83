//! Each record decoded from its row, once for both engines. A value of the wrong type or a
//! NULL where none may be is an error naming the table and column, never a panic. Values the
//! domain would refuse today (a text too long for a newer limit, an unknown kind) are read
//! leniently: what was stored is shown rather than hidden.

use heliograph_core::*;

use super::Row;
use crate::codec::{decode_entities, decode_keyboard};
use crate::model::*;
use crate::Result;

pub fn user(r: &dyn Row) -> Result<User> {
    let read = || {
        Ok(User {
            id: UserId(r.get(0)?),
            name: r.get(1)?,
            username: r.get(2)?,
            bio: r.get(3)?,
            created: r.get(4)?,
            bot_owner: r.get::<Option<i64>>(5)?.map(UserId),
        })
    };
    read().map_err(|e: crate::Error| e.reading("users"))
}

pub fn chat(r: &dyn Row) -> Result<Chat> {
    let read = || {
        Ok(Chat {
            id: ChatId(r.get(0)?),
            kind: ChatKind::parse(&r.get::<String>(1)?).unwrap_or(ChatKind::Group),
            title: r.get(2)?,
            username: r.get(3)?,
            creator: UserId(r.get(4)?),
            member_count: count(r.get(5)?),
            pinned: r.get::<Option<i64>>(6)?.map(MessageId),
            own_log: r.get(7)?,
            pts: r.get(8)?,
            top_message: MessageId(r.get(9)?),
            created: r.get(10)?,
            activity: r.get(11)?,
            taken_down: r.get::<Option<i64>>(12)?.is_some(),
        })
    };
    read().map_err(|e: crate::Error| e.reading("chats"))
}

pub fn member(r: &dyn Row) -> Result<Membership> {
    let read = || {
        Ok(Membership {
            chat: ChatId(r.get(0)?),
            user: UserId(r.get(1)?),
            role: Role::parse(&r.get::<String>(2)?).unwrap_or(Role::Member),
            joined: r.get(3)?,
            read_inbox: MessageId(r.get(4)?),
            read_outbox: MessageId(r.get(5)?),
        })
    };
    read().map_err(|e: crate::Error| e.reading("members"))
}

pub fn message(r: &dyn Row) -> Result<Message> {
    let read = || {
        let text: Option<String> = r.get(5)?;
        let forward = match r.get::<Option<i64>>(7)? {
            Some(user) => Some(Forward {
                from_user: UserId(user),
                from_chat: ChatId(r.get::<Option<i64>>(8)?.unwrap_or(0)),
                message: MessageId(r.get::<Option<i64>>(9)?.unwrap_or(0)),
                date: r.get::<Option<i64>>(10)?.unwrap_or(0),
            }),
            None => None,
        };
        // Stored text was checked when it was written; a row that fails the check again is
        // shown as it is rather than hidden.
        let content = match r.get::<Option<i64>>(12)? {
            Some(file) => Content::Media(Media {
                kind: MediaKind::parse(&r.get::<String>(4)?).unwrap_or(MediaKind::Document),
                file: FileId(file),
                name: r.get::<Option<String>>(13)?.unwrap_or_default(),
                mime: r.get::<Option<String>>(14)?.unwrap_or_default(),
                size: count(r.get::<Option<i64>>(15)?.unwrap_or(0)),
                width: r.get::<Option<i64>>(16)?.map(dimension),
                height: r.get::<Option<i64>>(17)?.map(dimension),
                thumb: r.get::<Option<i64>>(18)?.map(FileId),
                caption: text.filter(|t| !t.is_empty()).map(|t| MessageText::parse(t.clone()).unwrap_or_else(|_| stored_text(t))),
            }),
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
            entities: decode_entities(r.get::<Option<String>>(19)?.as_deref()),
            keyboard: decode_keyboard(r.get::<Option<String>>(20)?.as_deref()),
            reply_to: r.get::<Option<i64>>(6)?.map(MessageId),
            forward,
            edit_date: r.get(11)?,
        })
    };
    read().map_err(|e: crate::Error| e.reading("messages"))
}

fn stored_text(text: String) -> MessageText {
    MessageText::parse(if text.trim().is_empty() { "\u{2060}".to_string() } else { text.chars().take(MAX_TEXT_CHARS).collect() })
        .unwrap_or_else(|_| stored_text(String::new()))
}

/// `id, user_id, device, created, last_active`
pub fn session(r: &dyn Row) -> Result<Session> {
    let read =
        || Ok(Session { id: SessionId(r.get(0)?), user: UserId(r.get(1)?), device: r.get(2)?, created: r.get(3)?, last_active: r.get(4)? });
    read().map_err(|e: crate::Error| e.reading("sessions"))
}

/// `salt, hash, expires, attempts`
pub fn login_code(r: &dyn Row) -> Result<LoginCodeHash> {
    let read = || {
        Ok(LoginCodeHash {
            salt: r.get(0)?,
            hash: r.get(1)?,
            expires: r.get(2)?,
            attempts: r.get::<i64>(3)?.clamp(0, i64::from(u32::MAX)) as u32,
        })
    };
    read().map_err(|e: crate::Error| e.reading("login_codes"))
}

pub fn file(r: &dyn Row) -> Result<File> {
    let read = || {
        let hash: Vec<u8> = r.get(2)?;
        Ok(File {
            id: FileId(r.get(0)?),
            owner: UserId(r.get(1)?),
            sha256: hash.try_into().unwrap_or([0; 32]),
            size: count(r.get(3)?),
            name: r.get(4)?,
            mime: r.get(5)?,
            width: r.get::<Option<i64>>(6)?.map(dimension),
            height: r.get::<Option<i64>>(7)?.map(dimension),
            thumb: r.get::<Option<i64>>(8)?.map(FileId),
            created: r.get(9)?,
        })
    };
    read().map_err(|e: crate::Error| e.reading("files"))
}

/// A bot's settings (`confirmed, webhook_url, webhook_secret, webhook_max_connections,
/// webhook_set, webhook_error_date, webhook_error, allowed_updates, commands`), without the
/// user it is.
pub struct BotSettings {
    confirmed: Pts,
    webhook: Option<Webhook>,
    webhook_error: Option<(i64, String)>,
    allowed_updates: Option<String>,
    commands: String,
}

impl BotSettings {
    pub fn of(self, user: User) -> Bot {
        let BotSettings { confirmed, webhook, webhook_error, allowed_updates, commands } = self;
        Bot { user, confirmed, webhook, webhook_error, allowed_updates, commands }
    }
}

pub fn bot(r: &dyn Row) -> Result<BotSettings> {
    let read = || {
        let webhook = match r.get::<Option<String>>(1)? {
            Some(url) => Some(Webhook {
                url,
                secret: r.get(2)?,
                max_connections: r.get::<Option<i64>>(3)?.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32,
                set: r.get::<Option<i64>>(4)?.unwrap_or(0),
            }),
            None => None,
        };
        let webhook_error = match r.get::<Option<i64>>(5)? {
            Some(date) => Some((date, r.get::<Option<String>>(6)?.unwrap_or_default())),
            None => None,
        };
        Ok(BotSettings { confirmed: r.get(0)?, webhook, webhook_error, allowed_updates: r.get(7)?, commands: r.get(8)? })
    };
    read().map_err(|e: crate::Error| e.reading("bots"))
}

/// A count or size, never negative.
fn count(n: i64) -> u64 {
    n.max(0) as u64
}

fn dimension(n: i64) -> u32 {
    n.clamp(0, i64::from(u32::MAX)) as u32
}
