//! Which reply keyboard a chat shows its reader: what bots' `reply_markup` of kind
//! `keyboard` / `remove_keyboard` (Telegram's `ReplyKeyboardMarkup` / `ReplyKeyboardRemove`)
//! mean for one person, decided from the chat's history alone so every client agrees.
//!
//! A reply keyboard stays up from the message that sent it until a later message meant for
//! the reader removes or replaces it; a `one_time_keyboard` goes once the reader pressed one
//! of its buttons (sent its text). `selective` ones are meant for the users the message
//! mentions (`text_mention`) and the author of the message it replies to.

use heliograph_proto::Message;

/// The message whose reply keyboard `reader` sees, given the chat's latest messages oldest
/// first (as `messages.get_history` answers); `None` when no keyboard is up.
pub fn reply_keyboard(history: &[Message], reader: i64) -> Option<&Message> {
    for (i, m) in history.iter().enumerate().rev() {
        let Some(markup) = &m.reply_markup else { continue };
        if markup.keyboard.is_empty() && !markup.remove_keyboard {
            continue;
        }
        let mentioned: Vec<i64> = m.entities.iter().filter_map(|e| e.user_id).collect();
        let replied = m.reply_to.and_then(|id| history.iter().find(|r| r.id == id)).map(|r| r.from);
        if !markup.is_for(reader, &mentioned, replied) {
            continue;
        }
        if markup.remove_keyboard {
            return None;
        }
        let pressed = history[i + 1..].iter().any(|later| {
            later.from == reader && later.content.text().is_some_and(|t| markup.keyboard.iter().flatten().any(|b| b.text == t))
        });
        return (!(markup.one_time_keyboard && pressed)).then_some(m);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use heliograph_proto::{Content, KeyboardButton, MessageEntity, ReplyMarkup};

    const BOT: i64 = 9;
    const ME: i64 = 1;

    fn msg(id: i64, from: i64, text: &str, markup: Option<ReplyMarkup>) -> Message {
        Message {
            id,
            chat_id: 5,
            from,
            date: 0,
            content: Content::Text { text: text.into() },
            entities: Vec::new(),
            reply_markup: markup,
            reply_to: None,
            forward: None,
            edit_date: None,
            reactions: None,
        }
    }

    fn keys(one_time: bool, selective: bool) -> Option<ReplyMarkup> {
        Some(ReplyMarkup {
            keyboard: vec![vec![KeyboardButton { text: "Red".into() }, KeyboardButton { text: "Blue".into() }]],
            one_time_keyboard: one_time,
            selective,
            ..ReplyMarkup::default()
        })
    }

    fn remove() -> Option<ReplyMarkup> {
        Some(ReplyMarkup { remove_keyboard: true, ..ReplyMarkup::default() })
    }

    #[test]
    fn the_latest_keyboard_meant_for_the_reader_is_up() {
        // (history oldest first, the id of the keyboard message up, or none)
        let mut mention = msg(2, BOT, "you", keys(false, true));
        mention.entities.push(MessageEntity {
            kind: "text_mention".into(),
            offset: 0,
            length: 3,
            url: None,
            user_id: Some(ME),
            language: None,
            custom_emoji_id: None,
        });
        let cases: Vec<(Vec<Message>, Option<i64>, &str)> = vec![
            (vec![msg(1, BOT, "hi", None)], None, "no keyboard sent"),
            (vec![msg(1, BOT, "pick", keys(false, false)), msg(2, ME, "Red", None)], Some(1), "stays up after a press"),
            (vec![msg(1, BOT, "pick", keys(true, false)), msg(2, ME, "Red", None)], None, "a one-time keyboard goes on a press"),
            (vec![msg(1, BOT, "pick", keys(true, false)), msg(2, ME, "Green", None)], Some(1), "text that is no button"),
            (vec![msg(1, BOT, "pick", keys(false, false)), msg(2, BOT, "done", remove())], None, "removed"),
            (vec![msg(1, BOT, "pick", keys(false, false)), msg(2, BOT, "others", keys(false, true))], Some(1), "selective, not for me"),
            (vec![msg(1, BOT, "pick", keys(false, false)), mention], Some(2), "selective, mentions me"),
            (vec![msg(1, ME, "q", None), Message { reply_to: Some(1), ..msg(2, BOT, "a", keys(false, true)) }], Some(2), "replies to me"),
        ];
        for (history, up, what) in cases {
            assert_eq!(reply_keyboard(&history, ME).map(|m| m.id), up, "{what}");
        }
    }
}
