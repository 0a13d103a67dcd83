//! Store records as Bot API objects, with the field names, types and optional fields of
//! Telegram's specification (`shared/spec/telegram-bot-api.json`).
//!
//! Chat ids follow Telegram's conventions, which bot libraries rely on: a private chat is
//! known by the other person's user id (positive), a group or channel by `-100` followed by
//! its id (groups are Telegram's "supergroup": admins, usernames, up to 200,000 members).

use std::collections::HashMap;

use heliograph_core::*;
use heliograph_store::{Chat, Message, Page, Store, User};
use serde_json::{json, Map, Value};

use super::{ApiError, ApiResult};

/// Groups and channels are `-(CHANNEL_BASE + id)`, Telegram's `-100…` ids.
pub const CHANNEL_BASE: i64 = 1_000_000_000_000;

/// The id a bot knows `chat` by; `peer` is the other person of a private chat.
pub fn chat_id(chat: &Chat, peer: Option<UserId>) -> i64 {
    match chat.kind {
        ChatKind::Private => peer.map_or(chat.id.0, |p| p.0),
        _ => -(CHANNEL_BASE + chat.id.0),
    }
}

/// A `-100…` id back to the chat it names; `None` for other numbers.
pub fn group_id(id: i64) -> Option<ChatId> {
    (id < -CHANNEL_BASE).then(|| ChatId(-id - CHANNEL_BASE))
}

pub fn chat_type(kind: ChatKind) -> &'static str {
    match kind {
        ChatKind::Private => "private",
        ChatKind::Group => "supergroup",
        ChatKind::Channel => "channel",
    }
}

pub fn user(u: &User) -> Value {
    let mut v = json!({ "id": u.id.0, "is_bot": u.is_bot(), "first_name": u.name });
    if let Some(name) = &u.username {
        v["username"] = json!(name);
    }
    v
}

/// `getMe`'s answer: the bot and what it can do here.
/// A `ReactionType`.
pub fn reaction_type(r: &Reaction) -> Value {
    match r {
        Reaction::Emoji(emoji) => json!({ "type": "emoji", "emoji": emoji }),
        Reaction::CustomEmoji(id) => json!({ "type": "custom_emoji", "custom_emoji_id": id }),
    }
}

pub fn me(u: &User) -> Value {
    let mut v = user(u);
    v["can_join_groups"] = json!(true);
    v["can_read_all_group_messages"] = json!(false);
    v["supports_inline_queries"] = json!(false);
    v["can_connect_to_business"] = json!(false);
    v["has_main_web_app"] = json!(false);
    v
}

pub fn chat(chat: &Chat, peer: Option<&User>) -> Value {
    let mut v = json!({ "id": chat_id(chat, peer.map(|p| p.id)), "type": chat_type(chat.kind) });
    match (chat.kind, peer) {
        (ChatKind::Private, Some(p)) => {
            v["first_name"] = json!(p.name);
            if let Some(name) = &p.username {
                v["username"] = json!(name);
            }
        }
        _ => {
            v["title"] = json!(chat.title);
            if let Some(name) = &chat.username {
                v["username"] = json!(name);
            }
        }
    }
    v
}

/// `getChat`'s ChatFullInfo.
pub fn chat_full(chat_v: Value) -> Value {
    let mut v = chat_v;
    v["accent_color_id"] = json!(0);
    v["max_reaction_count"] = json!(0);
    v["accepted_gift_types"] = json!({
        "unlimited_gifts": false, "limited_gifts": false, "unique_gifts": false,
        "premium_subscription": false, "gifts_from_channels": false
    });
    v
}

/// A ChatMember of the status `role` gives (`left` when not a member).
pub fn chat_member(u: &User, role: Option<Role>) -> Value {
    match role {
        Some(Role::Creator) => json!({ "status": "creator", "user": user(u), "is_anonymous": false }),
        Some(Role::Admin) => json!({
            "status": "administrator", "user": user(u), "can_be_edited": false, "is_anonymous": false,
            "can_manage_chat": true, "can_delete_messages": true, "can_manage_video_chats": false,
            "can_restrict_members": true, "can_promote_members": false, "can_change_info": true,
            "can_invite_users": true, "can_post_stories": false, "can_edit_stories": false,
            "can_delete_stories": false, "can_post_messages": true, "can_edit_messages": true, "can_pin_messages": true
        }),
        Some(Role::Member) => json!({ "status": "member", "user": user(u) }),
        None => json!({ "status": "left", "user": user(u) }),
    }
}

/// `getFile`'s path for a file: `<folder>/file_<id><.ext>`, read back by [`file_id_from_path`].
pub fn file_path(f: &heliograph_store::File) -> String {
    let folder = match f.mime.split('/').next().unwrap_or("") {
        "image" => "photos",
        "video" => "videos",
        "audio" => "music",
        _ => "documents",
    };
    let ext =
        f.name.rsplit_once('.').map(|(_, e)| e).filter(|e| !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()));
    match ext {
        Some(ext) => format!("{folder}/file_{}.{}", f.id.0, ext.to_ascii_lowercase()),
        None => format!("{folder}/file_{}", f.id.0),
    }
}

pub fn file_id_from_path(path: &str) -> Option<FileId> {
    let last = path.rsplit('/').next()?;
    let digits = last.strip_prefix("file_")?.split('.').next()?;
    digits.parse().ok().map(FileId)
}

/// A file id as bots hold it, and back.
pub fn file_id(id: FileId) -> String {
    id.0.to_string()
}

pub fn parse_file_id(s: &str) -> Option<FileId> {
    s.trim().parse().ok().filter(|&n: &i64| n > 0).map(FileId)
}

/// Unique per file, the same for every bot (Telegram's `file_unique_id`).
fn unique_id(id: FileId) -> String {
    format!("F{}", id.0)
}

pub fn file(f: &heliograph_store::File) -> Value {
    json!({ "file_id": file_id(f.id), "file_unique_id": unique_id(f.id), "file_size": f.size, "file_path": file_path(f) })
}

/// An inline keyboard as `InlineKeyboardMarkup` (the one kind a Bot API `Message` shows).
pub fn keyboard(k: &Keyboard) -> Value {
    let rows: Vec<Vec<Value>> = k
        .rows()
        .iter()
        .map(|row| {
            row.iter()
                .map(|b| match &b.action {
                    ButtonAction::Callback(data) => json!({ "text": b.text, "callback_data": data }),
                    ButtonAction::Url(url) => json!({ "text": b.text, "url": url }),
                    ButtonAction::Text => json!({ "text": b.text }),
                })
                .collect()
        })
        .collect();
    json!({ "inline_keyboard": rows })
}

/// Renders messages and the people and chats they mention, fetching each once.
pub struct Renderer<'a> {
    store: &'a dyn Store,
    /// The bot whose view this is.
    viewer: UserId,
    users: HashMap<UserId, User>,
    chats: HashMap<ChatId, (Chat, Option<User>)>,
}

impl<'a> Renderer<'a> {
    pub fn new(store: &'a dyn Store, viewer: UserId) -> Renderer<'a> {
        Renderer { store, viewer, users: HashMap::new(), chats: HashMap::new() }
    }

    pub fn store(&self) -> &'a dyn Store {
        self.store
    }

    pub async fn user(&mut self, id: UserId) -> ApiResult<User> {
        if let Some(u) = self.users.get(&id) {
            return Ok(u.clone());
        }
        let u = self.store.users(&[id]).await?.into_iter().next().ok_or_else(|| ApiError::bad_request("user not found"))?;
        self.users.insert(id, u.clone());
        Ok(u)
    }

    /// The chat and, for a private chat, the other person, as the viewer sees them. A chat
    /// the viewer has left is described without a viewer.
    pub async fn chat(&mut self, id: ChatId) -> ApiResult<(Chat, Option<User>)> {
        if let Some(c) = self.chats.get(&id) {
            return Ok(c.clone());
        }
        let (chat, peer) = match self.store.chat(self.viewer, id).await {
            Ok(view) => (view.chat, view.peer),
            Err(heliograph_store::Error::ChatNotFound) => {
                (self.store.chat_info(id).await?.ok_or_else(|| ApiError::bad_request("chat not found"))?, None)
            }
            Err(e) => return Err(e.into()),
        };
        let peer = match peer {
            Some(p) => Some(self.user(p).await?),
            None => None,
        };
        self.chats.insert(id, (chat.clone(), peer.clone()));
        Ok((chat, peer))
    }

    pub async fn chat_json(&mut self, id: ChatId) -> ApiResult<Value> {
        let (c, peer) = self.chat(id).await?;
        Ok(chat(&c, peer.as_ref()))
    }

    /// One message of a chat, as the viewer may see it.
    pub async fn fetch(&self, chat: ChatId, id: MessageId) -> ApiResult<Option<Message>> {
        let page = Page::Newer { after: Some(MessageId(id.0 - 1)), limit: 1 };
        Ok(self.store.history(self.viewer, chat, page).await?.into_iter().next().filter(|m| m.id == id))
    }

    pub async fn message(&mut self, m: &Message) -> ApiResult<Value> {
        self.message_at(m, true).await
    }

    async fn message_at(&mut self, m: &Message, with_reply: bool) -> ApiResult<Value> {
        let (c, _) = self.chat(m.chat).await?;
        let chat_v = self.chat_json(m.chat).await?;
        let mut v = Map::new();
        v.insert("message_id".into(), json!(m.id.0));
        if c.kind == ChatKind::Channel {
            v.insert("sender_chat".into(), chat_v.clone());
        } else {
            let from = self.user(m.from).await?;
            v.insert("from".into(), user(&from));
        }
        v.insert("date".into(), json!(m.date));
        v.insert("chat".into(), chat_v);
        if let Some(f) = &m.forward {
            let origin = match self.chat(f.from_chat).await {
                Ok((src, _)) if src.kind == ChatKind::Channel => {
                    json!({ "type": "channel", "date": f.date, "chat": chat(&src, None), "message_id": f.message.0 })
                }
                _ => json!({ "type": "user", "date": f.date, "sender_user": user(&self.user(f.from_user).await?) }),
            };
            v.insert("forward_origin".into(), origin);
        }
        if let (Some(reply), true) = (m.reply_to, with_reply) {
            if let Some(original) = self.fetch(m.chat, reply).await? {
                let rendered = Box::pin(self.message_at(&original, false)).await?;
                v.insert("reply_to_message".into(), rendered);
            }
        }
        if let Some(date) = m.edit_date {
            v.insert("edit_date".into(), json!(date));
        }
        let entities = self.entities(&m.entities).await?;
        match &m.content {
            Content::Text(text) => {
                v.insert("text".into(), json!(text.as_str()));
                if !entities.is_empty() {
                    v.insert("entities".into(), Value::Array(entities));
                }
            }
            Content::Media(media) => {
                let (key, value) = self.media(media);
                v.insert(key.into(), value);
                if let Some(caption) = &media.caption {
                    v.insert("caption".into(), json!(caption.as_str()));
                    if !entities.is_empty() {
                        v.insert("caption_entities".into(), Value::Array(entities));
                    }
                }
            }
        }
        // A reply keyboard, its removal and a reply request are not part of a Bot API
        // Message (Telegram shows them to people only).
        if let Some(k) = m.keyboard.as_ref().filter(|k| k.is_inline()) {
            v.insert("reply_markup".into(), keyboard(k));
        }
        Ok(Value::Object(v))
    }

    async fn entities(&mut self, entities: &[Entity]) -> ApiResult<Vec<Value>> {
        let mut out = Vec::with_capacity(entities.len());
        for e in entities {
            let mut v = json!({ "type": e.kind.as_str(), "offset": e.offset, "length": e.length });
            match &e.kind {
                EntityKind::Pre { language: Some(lang) } => v["language"] = json!(lang),
                EntityKind::TextLink { url } => v["url"] = json!(url),
                EntityKind::TextMention { user: id } => v["user"] = user(&self.user(*id).await?),
                EntityKind::CustomEmoji { id } => v["custom_emoji_id"] = json!(id),
                _ => {}
            }
            out.push(v);
        }
        Ok(out)
    }

    /// The message field a media kind goes in, and its object.
    fn media(&self, m: &Media) -> (&'static str, Value) {
        let id = file_id(m.file);
        let unique = unique_id(m.file);
        match m.kind {
            MediaKind::Photo => {
                let mut sizes = Vec::new();
                if let Some(thumb) = m.thumb {
                    let (w, h) = thumb_size(m.width, m.height);
                    sizes.push(json!({ "file_id": file_id(thumb), "file_unique_id": unique_id(thumb), "width": w, "height": h }));
                }
                sizes.push(json!({
                    "file_id": id, "file_unique_id": unique, "width": m.width.unwrap_or(0),
                    "height": m.height.unwrap_or(0), "file_size": m.size
                }));
                ("photo", Value::Array(sizes))
            }
            MediaKind::Video => (
                "video",
                json!({
                    "file_id": id, "file_unique_id": unique, "width": m.width.unwrap_or(0), "height": m.height.unwrap_or(0),
                    "duration": 0, "file_name": m.name, "mime_type": m.mime, "file_size": m.size
                }),
            ),
            MediaKind::Audio => (
                "audio",
                json!({ "file_id": id, "file_unique_id": unique, "duration": 0, "file_name": m.name, "mime_type": m.mime, "file_size": m.size }),
            ),
            MediaKind::Voice => {
                ("voice", json!({ "file_id": id, "file_unique_id": unique, "duration": 0, "mime_type": m.mime, "file_size": m.size }))
            }
            MediaKind::Document => {
                let mut v =
                    json!({ "file_id": id, "file_unique_id": unique, "file_name": m.name, "mime_type": m.mime, "file_size": m.size });
                if let Some(thumb) = m.thumb {
                    let (w, h) = thumb_size(m.width, m.height);
                    v["thumbnail"] = json!({ "file_id": file_id(thumb), "file_unique_id": unique_id(thumb), "width": w, "height": h });
                }
                ("document", v)
            }
        }
    }
}

/// A thumbnail's size: the image scaled to fit [`crate::files::THUMB_SIDE`].
fn thumb_size(width: Option<u32>, height: Option<u32>) -> (u32, u32) {
    let (w, h) = (width.unwrap_or(0), height.unwrap_or(0));
    let side = crate::files::THUMB_SIDE;
    if w <= side && h <= side || w == 0 || h == 0 {
        return (w, h);
    }
    if w >= h {
        (side, (h as u64 * side as u64 / w as u64) as u32)
    } else {
        ((w as u64 * side as u64 / h as u64) as u32, side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_follow_telegram() {
        let mut c = Chat {
            id: ChatId(7),
            kind: ChatKind::Channel,
            title: "News".into(),
            username: None,
            creator: UserId(1),
            member_count: 1,
            pinned: None,
            own_log: true,
            pts: 0,
            top_message: MessageId(0),
            created: 0,
            activity: 0,
            taken_down: false,
        };
        assert_eq!(chat_id(&c, None), -1_000_000_000_007);
        assert_eq!(group_id(-1_000_000_000_007), Some(ChatId(7)));
        assert_eq!(group_id(-5), None);
        assert_eq!(group_id(5), None);
        c.kind = ChatKind::Private;
        assert_eq!(chat_id(&c, Some(UserId(42))), 42);
    }

    #[test]
    fn file_paths_round_trip() {
        let f = heliograph_store::File {
            id: FileId(12),
            owner: UserId(1),
            sha256: [0; 32],
            size: 3,
            name: "report.PDF".into(),
            mime: "application/pdf".into(),
            width: None,
            height: None,
            thumb: None,
            created: 0,
        };
        assert_eq!(file_path(&f), "documents/file_12.pdf");
        assert_eq!(file_id_from_path(&file_path(&f)), Some(FileId(12)));
        for bad in ["", "documents/", "documents/12.pdf", "documents/file_x.pdf"] {
            assert_eq!(file_id_from_path(bad), None, "{bad}");
        }
        assert_eq!(thumb_size(Some(640), Some(480)), (320, 240));
        assert_eq!(thumb_size(Some(100), Some(50)), (100, 50));
    }
}
