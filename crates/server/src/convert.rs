//! Store records to wire types, as one viewer sees them. The only place that decides what a
//! viewer may learn about another user (phone numbers only for mutual contacts).
//!
//! The plain functions convert what they are given; [`users_for`] and the others below it
//! read what else the rendering needs from the store (relations, the peer of a private chat),
//! for the request handlers, catch-up and the live fan-out alike.

use heliograph_core::{
    Button, ButtonAction, ChatId, ChatKind, Entity, EntityKind, InvalidMarkup, InvalidValue, Keyboard, KeyboardKind, Reaction,
    ReplyOptions, Role, UserId,
};
use heliograph_proto as proto;
use heliograph_store::{self as store, Event, Log, Logged, Relation, Store};

pub fn kind(k: ChatKind) -> proto::ChatKind {
    match k {
        ChatKind::Private => proto::ChatKind::Private,
        ChatKind::Group => proto::ChatKind::Group,
        ChatKind::Channel => proto::ChatKind::Channel,
    }
}

pub fn role(r: Role) -> proto::Role {
    match r {
        Role::Member => proto::Role::Member,
        Role::Admin => proto::Role::Admin,
        Role::Creator => proto::Role::Creator,
    }
}

/// `viewer`'s view of `user`; `relation` is how the viewer relates to them.
pub fn user(_viewer: UserId, user: &store::User, relation: Relation) -> proto::User {
    proto::User {
        id: user.id.0,
        name: user.name.clone(),
        username: user.username.clone(),
        bio: (!user.bio.is_empty()).then(|| user.bio.clone()),
        // The store holds no readable number (`identity.rs`): a handler that was just given
        // one (sign-in, finding by number) fills it in for the caller.
        phone: None,
        contact: relation.contact,
        blocked: relation.blocked,
        bot: user.is_bot(),
    }
}

/// A formatting entity with Telegram's field names.
pub fn entity(e: &Entity) -> proto::MessageEntity {
    let mut out = proto::MessageEntity {
        kind: e.kind.as_str().to_string(),
        offset: e.offset,
        length: e.length,
        url: None,
        user_id: None,
        language: None,
        custom_emoji_id: None,
    };
    match &e.kind {
        EntityKind::Pre { language } => out.language = language.clone(),
        EntityKind::TextLink { url } => out.url = Some(url.clone()),
        EntityKind::TextMention { user } => out.user_id = Some(user.0),
        EntityKind::CustomEmoji { id } => out.custom_emoji_id = Some(id.clone()),
        _ => {}
    }
    out
}

/// The inverse of [`entity`]; `None` for an unknown type or a missing field (a `text_link`
/// without `url`). Entities still need [`heliograph_core::check_entities`] against their text.
pub fn entity_from_wire(e: &proto::MessageEntity) -> Option<Entity> {
    let kind = match e.kind.as_str() {
        "pre" => EntityKind::Pre { language: e.language.clone().filter(|l| !l.is_empty()) },
        "text_link" => EntityKind::TextLink { url: e.url.clone()? },
        "text_mention" => EntityKind::TextMention { user: UserId(e.user_id?) },
        "custom_emoji" => EntityKind::CustomEmoji { id: e.custom_emoji_id.clone()? },
        other => EntityKind::simple(other)?,
    };
    Some(Entity { kind, offset: e.offset, length: e.length })
}

/// A keyboard as `reply_markup`, in the Bot API's shape for its kind.
pub fn reply_markup(k: &Keyboard) -> proto::ReplyMarkup {
    let mut wire = proto::ReplyMarkup::default();
    match k.kind() {
        KeyboardKind::Inline => {
            wire.inline_keyboard = k
                .rows()
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|b| {
                            let (callback_data, url) = match &b.action {
                                ButtonAction::Callback(d) => (Some(d.clone()), None),
                                ButtonAction::Url(u) => (None, Some(u.clone())),
                                ButtonAction::Text => (None, None),
                            };
                            proto::InlineButton { text: b.text.clone(), callback_data, url }
                        })
                        .collect()
                })
                .collect()
        }
        KeyboardKind::Reply(o) => {
            wire.keyboard =
                k.rows().iter().map(|row| row.iter().map(|b| proto::KeyboardButton { text: b.text.clone() }).collect()).collect();
            wire.resize_keyboard = o.resize;
            wire.one_time_keyboard = o.one_time;
            wire.is_persistent = o.persistent;
            wire.input_field_placeholder = o.placeholder.clone();
            wire.selective = o.selective;
        }
        KeyboardKind::Remove { selective } => {
            wire.remove_keyboard = true;
            wire.selective = *selective;
        }
        KeyboardKind::ForceReply { placeholder, selective } => {
            wire.force_reply = true;
            wire.input_field_placeholder = placeholder.clone();
            wire.selective = *selective;
        }
    }
    wire
}

/// The inverse of [`reply_markup`], checked; `Ok(None)` for a keyboard without buttons.
pub fn keyboard_from_wire(m: &proto::ReplyMarkup) -> Result<Option<Keyboard>, InvalidMarkup> {
    if m.remove_keyboard {
        return Ok(Some(Keyboard::remove(m.selective)));
    }
    if m.force_reply {
        return Keyboard::force_reply(m.input_field_placeholder.clone(), m.selective).map(Some);
    }
    if !m.keyboard.is_empty() {
        let rows = m
            .keyboard
            .iter()
            .map(|row| row.iter().map(|b| Button::new(b.text.clone(), ButtonAction::Text)).collect::<Result<Vec<_>, _>>())
            .collect::<Result<Vec<_>, _>>()?;
        let options = ReplyOptions {
            resize: m.resize_keyboard,
            one_time: m.one_time_keyboard,
            persistent: m.is_persistent,
            placeholder: m.input_field_placeholder.clone(),
            selective: m.selective,
        };
        return Keyboard::reply(rows, options);
    }
    let mut rows = Vec::with_capacity(m.inline_keyboard.len());
    for row in &m.inline_keyboard {
        let mut out = Vec::with_capacity(row.len());
        for b in row {
            let action = match (&b.callback_data, &b.url) {
                (Some(d), None) => ButtonAction::Callback(d.clone()),
                (None, Some(u)) => ButtonAction::Url(u.clone()),
                _ => return Err(InvalidMarkup::ButtonAction),
            };
            out.push(Button::new(b.text.clone(), action)?);
        }
        rows.push(out);
    }
    Keyboard::new(rows)
}

pub fn content(c: &heliograph_core::Content) -> proto::Content {
    match c {
        heliograph_core::Content::Text(t) => proto::Content::Text { text: t.as_str().to_string() },
        heliograph_core::Content::Media(m) => proto::Content::Media(proto::Media {
            kind: media_kind(m.kind),
            file_id: m.file.0,
            name: m.name.clone(),
            mime: m.mime.clone(),
            size: m.size,
            width: m.width,
            height: m.height,
            thumb_file_id: m.thumb.map(|t| t.0),
            caption: m.caption.as_ref().map(|c| c.as_str().to_string()),
        }),
    }
}

pub fn message(m: &store::Message) -> proto::Message {
    proto::Message {
        id: m.id.0,
        chat_id: m.chat.0,
        from: m.from.0,
        date: m.date,
        content: content(&m.content),
        entities: m.entities.iter().map(entity).collect(),
        reply_markup: m.keyboard.as_ref().map(reply_markup),
        reply_to: m.reply_to.map(|r| r.0),
        forward: m.forward.map(|f| proto::ForwardInfo {
            from_user: f.from_user.0,
            from_chat: f.from_chat.0,
            message_id: f.message.0,
            date: f.date,
        }),
        edit_date: m.edit_date,
        reactions: None,
    }
}

pub fn reaction(r: &Reaction) -> proto::ReactionType {
    match r {
        Reaction::Emoji(emoji) => proto::ReactionType::Emoji { emoji: emoji.clone() },
        Reaction::CustomEmoji(id) => proto::ReactionType::CustomEmoji { custom_emoji_id: id.clone() },
    }
}

pub fn reaction_from_wire(r: &proto::ReactionType) -> Result<Reaction, InvalidValue> {
    match r {
        proto::ReactionType::Emoji { emoji } => Reaction::emoji(emoji),
        proto::ReactionType::CustomEmoji { custom_emoji_id } => Reaction::custom_emoji(custom_emoji_id),
    }
}

pub fn reactions(r: &store::Reactions) -> proto::MessageReactions {
    proto::MessageReactions {
        results: r
            .counts
            .iter()
            .map(|c| proto::ReactionCount { reaction: reaction(&c.reaction), count: c.count, chosen: c.chosen })
            .collect(),
        recent: r.recent.iter().map(|(u, x)| proto::RecentReaction { user_id: u.0, reaction: reaction(x) }).collect(),
    }
}

pub fn draft(d: &store::SavedDraft) -> proto::DraftMessage {
    proto::DraftMessage { text: d.text.as_str().to_string(), reply_to: d.reply_to.map(|r| r.0), date: d.date }
}

/// A chat without a particular viewer (in a chat's own log): no role, no peer.
pub fn chat_public(c: &store::Chat) -> proto::Chat {
    proto::Chat {
        id: c.id.0,
        kind: kind(c.kind),
        title: c.title.clone(),
        username: c.username.clone(),
        peer: None,
        member_count: c.member_count,
        role: None,
        pinned_message_id: c.pinned.map(|p| p.0),
        chat_pts: c.own_log.then_some(c.pts),
        top_message_id: c.top_message.0,
    }
}

/// A chat as a member sees it; `peer` is the other person of a private chat, rendered.
pub fn chat(view: &store::View, peer: Option<proto::User>) -> proto::Chat {
    let mut chat = chat_public(&view.chat);
    chat.role = Some(role(view.membership.role));
    if let Some(peer) = peer {
        chat.title = peer.name.clone();
        chat.peer = Some(peer);
    }
    chat
}

/// What an event is rendered with that the store reads when it renders it, as the log's
/// owner sees it now.
#[derive(Debug, Default)]
pub enum ReadNow {
    /// The event carries all it shows.
    #[default]
    Nothing,
    /// `ChatChanged`: the chat.
    Chat(proto::Chat),
    /// `Reactions`: the message's reactions.
    Reactions(proto::MessageReactions),
    /// `DraftChanged`: the draft (`None`: cleared).
    Draft(Option<proto::DraftMessage>),
}

/// A logged event as a wire update. What the event names is read now and passed in by the
/// caller (`ReadNow::Nothing` where it was needed skips the event).
pub fn update(logged: &Logged, now: ReadNow) -> Option<proto::Update> {
    use proto::UpdateKind as K;
    let kind = match &logged.event {
        Event::NewMessage(m) => K::NewMessage { message: message(m) },
        Event::EditMessage(m) => K::EditMessage { message: message(m) },
        Event::DeleteMessages { chat, ids } => K::DeleteMessages { chat_id: chat.0, ids: ids.iter().map(|i| i.0).collect() },
        Event::ReadInbox { chat, max_id } => K::ReadInbox { chat_id: chat.0, max_id: max_id.0 },
        Event::ReadOutbox { chat, max_id } => K::ReadOutbox { chat_id: chat.0, max_id: max_id.0 },
        Event::Pinned { chat, id } => K::PinnedMessage { chat_id: chat.0, id: id.map(|i| i.0) },
        Event::Participant { chat, user, role: r, by } => K::Participant { chat_id: chat.0, user_id: user.0, role: r.map(role), by: by.0 },
        Event::ChatChanged { .. } => match now {
            ReadNow::Chat(chat) => K::Chat { chat },
            _ => return None,
        },
        Event::Reactions { chat, message, .. } => match now {
            ReadNow::Reactions(reactions) => K::MessageReactions { chat_id: chat.0, id: message.0, reactions },
            _ => return None,
        },
        Event::DraftChanged { chat } => match now {
            ReadNow::Draft(draft) => K::Draft { chat_id: chat.0, draft },
            _ => return None,
        },
        // Only in a bot's log, for the Bot API; the wire protocol has no update for it.
        Event::CallbackQuery { .. } => return None,
        Event::Mls(m) => K::SecretMessage { message: secret_message(m) },
    };
    Some(proto::Update {
        log: match logged.log {
            Log::User(_) => None,
            Log::Chat(c) => Some(c.0),
        },
        pts: logged.pts,
        pts_count: 1,
        date: logged.date,
        kind,
    })
}

pub fn media_kind(k: heliograph_core::MediaKind) -> proto::MediaKind {
    use heliograph_core::MediaKind as K;
    match k {
        K::Photo => proto::MediaKind::Photo,
        K::Video => proto::MediaKind::Video,
        K::Audio => proto::MediaKind::Audio,
        K::Voice => proto::MediaKind::Voice,
        K::Document => proto::MediaKind::Document,
    }
}

pub fn phone_privacy(p: heliograph_core::PhonePrivacy) -> proto::PhonePrivacy {
    use heliograph_core::PhonePrivacy as P;
    match p {
        P::Everybody => proto::PhonePrivacy::Everybody,
        P::Contacts => proto::PhonePrivacy::Contacts,
        P::Nobody => proto::PhonePrivacy::Nobody,
    }
}

pub fn phone_privacy_from_wire(p: proto::PhonePrivacy) -> heliograph_core::PhonePrivacy {
    use heliograph_core::PhonePrivacy as P;
    match p {
        proto::PhonePrivacy::Everybody => P::Everybody,
        proto::PhonePrivacy::Contacts => P::Contacts,
        proto::PhonePrivacy::Nobody => P::Nobody,
    }
}

pub fn media_kind_from_wire(k: proto::MediaKind) -> heliograph_core::MediaKind {
    use heliograph_core::MediaKind as K;
    match k {
        proto::MediaKind::Photo => K::Photo,
        proto::MediaKind::Video => K::Video,
        proto::MediaKind::Audio => K::Audio,
        proto::MediaKind::Voice => K::Voice,
        proto::MediaKind::Document => K::Document,
    }
}

// --- renderings that read the store ------------------------------------------------------

/// Renders users as `viewer` sees them.
pub async fn users_for(store: &dyn Store, viewer: UserId, users: &[store::User]) -> Result<Vec<proto::User>, store::Error> {
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    let relations = store.relations(viewer, &ids).await?;
    Ok(users.iter().zip(relations).map(|(u, r)| user(viewer, u, r)).collect())
}

/// Renders one user as `viewer` sees them (`UserNotFound` when there is none).
pub async fn user_for(store: &dyn Store, viewer: UserId, id: UserId) -> Result<proto::User, store::Error> {
    let users = store.users(&[id]).await?;
    users_for(store, viewer, &users).await?.pop().ok_or(store::Error::UserNotFound)
}

/// Renders a chat as the member in `view` sees it.
pub async fn chat_for(store: &dyn Store, viewer: UserId, view: &store::View) -> Result<proto::Chat, store::Error> {
    let peer = match view.peer {
        Some(p) => Some(user_for(store, viewer, p).await?),
        None => None,
    };
    Ok(chat(view, peer))
}

/// Renders the chat `id` for `viewer`, a member (`ChatNotFound` for anyone else).
pub async fn chat_of(store: &dyn Store, viewer: UserId, id: ChatId) -> Result<proto::Chat, store::Error> {
    let view = store.chat(viewer, id).await?;
    chat_for(store, viewer, &view).await
}

/// Renders a logged event for the owner of the log it sits in (`None`: a chat's own log).
pub async fn update_for(store: &dyn Store, owner: Option<UserId>, logged: &store::Logged) -> Option<proto::Update> {
    let public_chat = |chat| async move { store.chat_info(chat).await.ok().flatten().map(|c| ReadNow::Chat(chat_public(&c))) };
    let now = match (&logged.event, owner) {
        // A former member gets the chat without a role: the sign that they are out.
        (store::Event::ChatChanged { chat }, Some(user)) => match chat_of(store, user, *chat).await {
            Ok(c) => Some(ReadNow::Chat(c)),
            Err(_) => public_chat(*chat).await,
        },
        (store::Event::ChatChanged { chat }, None) => public_chat(*chat).await,
        // A former member has none to show: the event is skipped.
        (store::Event::Reactions { chat, message, .. }, Some(user)) => {
            let got = store.reactions(user, *chat, &[*message]).await.ok();
            got.map(|mut r| ReadNow::Reactions(r.pop().map_or_else(proto::MessageReactions::default, |r| reactions(&r))))
        }
        (store::Event::Reactions { chat, message, .. }, None) => {
            store.public_reactions(*chat, *message).await.ok().map(|r| ReadNow::Reactions(reactions(&r)))
        }
        (store::Event::DraftChanged { chat }, Some(user)) => {
            store.draft(user, *chat).await.ok().map(|d| ReadNow::Draft(d.as_ref().map(draft)))
        }
        _ => None,
    };
    update(logged, now.unwrap_or_default())
}

/// Renders a difference for the owner of its log, as [`update_for`] renders live updates.
pub async fn difference(store: &dyn Store, owner: Option<UserId>, diff: store::Difference) -> proto::Difference {
    let render = |events: Vec<store::Logged>| async move {
        let mut out = Vec::with_capacity(events.len());
        for e in &events {
            if let Some(u) = update_for(store, owner, e).await {
                out.push(u);
            }
        }
        out
    };
    match diff {
        store::Difference::Empty { pts } => proto::Difference::Empty { pts },
        store::Difference::TooLong { pts } => proto::Difference::TooLong { pts },
        store::Difference::Complete { events, pts } => proto::Difference::Complete { updates: render(events).await, pts },
        store::Difference::Slice { events, pts } => proto::Difference::Slice { updates: render(events).await, pts },
    }
}

// --- account (#16): reports and moderation -------------------------------------------------

fn reported(m: &store::ReportedMessage) -> proto::ReportedMessage {
    proto::ReportedMessage { id: m.id.0, from_id: m.from.0, date: m.date, text: m.text.clone() }
}

pub fn report(r: &store::Report) -> proto::Report {
    proto::Report {
        id: r.id,
        reporter_id: r.reporter.0,
        chat_id: r.chat.0,
        message: reported(&r.message),
        reason: r.reason.as_str().to_string(),
        comment: r.comment.clone(),
        context: r.context.iter().map(reported).collect(),
        date: r.created,
        resolution: r.resolution.map(|a| a.as_str().to_string()),
    }
}

pub fn sanction(s: &store::Sanction) -> proto::Sanction {
    proto::Sanction { kind: s.kind.as_str().to_string(), until: s.until, reason: s.reason.clone() }
}

pub fn audit_entry(e: &store::AuditEntry, notified: bool) -> proto::AuditEntry {
    proto::AuditEntry {
        id: e.id,
        date: e.date,
        operator_id: e.operator.0,
        action: e.kind.as_str().to_string(),
        user_id: e.user.map(|u| u.0),
        chat_id: e.chat.map(|c| c.0),
        message_id: e.message.map(|m| m.0),
        report_id: e.report,
        until: e.until,
        reason: e.reason.clone(),
        notified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_and_keyboards_round_trip() {
        let entities = [
            Entity { kind: EntityKind::Bold, offset: 0, length: 2 },
            Entity { kind: EntityKind::Pre { language: Some("rust".into()) }, offset: 1, length: 3 },
            Entity { kind: EntityKind::TextLink { url: "https://example.org".into() }, offset: 0, length: 1 },
            Entity { kind: EntityKind::TextMention { user: UserId(7) }, offset: 0, length: 1 },
            Entity { kind: EntityKind::CustomEmoji { id: "5".into() }, offset: 0, length: 2 },
        ];
        for e in &entities {
            let wire = entity(e);
            assert_eq!(entity_from_wire(&wire).as_ref(), Some(e), "{wire:?}");
        }
        let wire = serde_json::to_value(entity(&entities[2])).unwrap();
        assert_eq!(wire, serde_json::json!({"type": "text_link", "offset": 0, "length": 1, "url": "https://example.org"}));
        let bad = proto::MessageEntity {
            kind: "text_link".into(),
            offset: 0,
            length: 1,
            url: None,
            user_id: None,
            language: None,
            custom_emoji_id: None,
        };
        assert_eq!(entity_from_wire(&bad), None);

        let k = Keyboard::new(vec![vec![
            Button::new("Yes".into(), ButtonAction::Callback("y".into())).unwrap(),
            Button::new("Site".into(), ButtonAction::Url("https://example.org".into())).unwrap(),
        ]])
        .unwrap()
        .unwrap();
        let wire = reply_markup(&k);
        assert_eq!(
            serde_json::to_value(&wire).unwrap(),
            serde_json::json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}, {"text": "Site", "url": "https://example.org"}]]})
        );
        assert_eq!(keyboard_from_wire(&wire), Ok(Some(k)));
        let both = proto::ReplyMarkup {
            inline_keyboard: vec![vec![proto::InlineButton {
                text: "x".into(),
                callback_data: Some("a".into()),
                url: Some("https://a.b".into()),
            }]],
            ..proto::ReplyMarkup::default()
        };
        assert_eq!(keyboard_from_wire(&both), Err(InvalidMarkup::ButtonAction));

        // The other kinds, in the Bot API's shapes.
        let text = |t: &str| Button::new(t.into(), ButtonAction::Text).unwrap();
        let options = ReplyOptions { resize: true, one_time: true, persistent: false, placeholder: Some("Pick".into()), selective: false };
        let cases = [
            (
                Keyboard::reply(vec![vec![text("Red"), text("Blue")]], options).unwrap().unwrap(),
                serde_json::json!({"keyboard": [[{"text": "Red"}, {"text": "Blue"}]], "resize_keyboard": true, "one_time_keyboard": true, "input_field_placeholder": "Pick"}),
            ),
            (Keyboard::remove(true), serde_json::json!({"remove_keyboard": true, "selective": true})),
            (Keyboard::force_reply(None, false).unwrap(), serde_json::json!({"force_reply": true})),
        ];
        for (k, json) in cases {
            let wire = reply_markup(&k);
            assert_eq!(serde_json::to_value(&wire).unwrap(), json);
            assert_eq!(keyboard_from_wire(&wire), Ok(Some(k)));
        }
    }
}

/// An MLS message of a secret chat, its bytes as base64.
pub fn secret_message(m: &store::MlsMessage) -> proto::SecretMessage {
    use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
    proto::SecretMessage {
        chat_id: m.chat.0,
        id: m.id.0,
        from_id: m.from.0,
        device_id: m.device.0,
        date: m.date,
        kind: match m.kind {
            store::MlsKind::Commit => proto::SecretKind::Commit,
            store::MlsKind::Application => proto::SecretKind::Application,
            store::MlsKind::Welcome => proto::SecretKind::Welcome,
        },
        epoch: m.epoch,
        data: B64.encode(&m.data),
    }
}
