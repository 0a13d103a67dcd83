//! How entities and keyboards are stored: JSON text in one column each, shared by every
//! engine so a database moved between engines (or read by an older build) means the same.
//!
//! The encoding follows the Bot API's own field names (`type`, `offset`, `length`, `url`,
//! `language`, `user_id`, `custom_emoji_id`; `text` and `callback_data` or `url` per button)
//! so a stored row reads like what a bot sent. Nothing (`NULL`) stands for no entities and no
//! keyboard. Values were checked before they were stored ([`heliograph_core::check_entities`],
//! [`Keyboard::new`]); what cannot be read back is dropped rather than failing the read.

use heliograph_core::*;
use serde_json::{json, Map, Value};

/// `None` (stored as `NULL`) for no entities.
pub(crate) fn encode_entities(entities: &[Entity]) -> Option<String> {
    if entities.is_empty() {
        return None;
    }
    let list: Vec<Value> = entities
        .iter()
        .map(|e| {
            let mut o = Map::new();
            o.insert("type".into(), json!(e.kind.as_str()));
            o.insert("offset".into(), json!(e.offset));
            o.insert("length".into(), json!(e.length));
            match &e.kind {
                EntityKind::Pre { language: Some(l) } => {
                    o.insert("language".into(), json!(l));
                }
                EntityKind::TextLink { url } => {
                    o.insert("url".into(), json!(url));
                }
                EntityKind::TextMention { user } => {
                    o.insert("user_id".into(), json!(user.0));
                }
                EntityKind::CustomEmoji { id } => {
                    o.insert("custom_emoji_id".into(), json!(id));
                }
                _ => {}
            }
            Value::Object(o)
        })
        .collect();
    Some(Value::Array(list).to_string())
}

pub(crate) fn decode_entities(stored: Option<&str>) -> Vec<Entity> {
    let Some(Value::Array(list)) = stored.filter(|s| !s.is_empty()).and_then(|s| serde_json::from_str(s).ok()) else {
        return Vec::new();
    };
    list.iter().filter_map(decode_entity).collect()
}

fn decode_entity(v: &Value) -> Option<Entity> {
    let name = v.get("type")?.as_str()?;
    let string = |field: &str| v.get(field).and_then(Value::as_str).map(str::to_string);
    let kind = match name {
        "pre" => EntityKind::Pre { language: string("language") },
        "text_link" => EntityKind::TextLink { url: string("url")? },
        "text_mention" => EntityKind::TextMention { user: UserId(v.get("user_id")?.as_i64()?) },
        "custom_emoji" => EntityKind::CustomEmoji { id: string("custom_emoji_id")? },
        other => EntityKind::simple(other)?,
    };
    let number = |field: &str| v.get(field).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok());
    Some(Entity { kind, offset: number("offset")?, length: number("length")? })
}

/// `None` (stored as `NULL`) for no keyboard. An inline keyboard is its rows (an array);
/// the other kinds are the Bot API's objects (`{"keyboard":…,"resize_keyboard":true}`,
/// `{"remove_keyboard":true}`, `{"force_reply":true}`).
pub(crate) fn encode_keyboard(keyboard: Option<&Keyboard>) -> Option<String> {
    let keyboard = keyboard?;
    let rows = || -> Value {
        Value::Array(
            keyboard
                .rows()
                .iter()
                .map(|row| {
                    Value::Array(
                        row.iter()
                            .map(|b| match &b.action {
                                ButtonAction::Callback(data) => json!({ "text": b.text, "callback_data": data }),
                                ButtonAction::Url(url) => json!({ "text": b.text, "url": url }),
                                ButtonAction::Text => json!({ "text": b.text }),
                            })
                            .collect(),
                    )
                })
                .collect(),
        )
    };
    let value = match keyboard.kind() {
        KeyboardKind::Inline => rows(),
        KeyboardKind::Reply(o) => json!({
            "keyboard": rows(), "resize_keyboard": o.resize, "one_time_keyboard": o.one_time, "is_persistent": o.persistent,
            "input_field_placeholder": o.placeholder, "selective": o.selective,
        }),
        KeyboardKind::Remove { selective } => json!({ "remove_keyboard": true, "selective": selective }),
        KeyboardKind::ForceReply { placeholder, selective } => {
            json!({ "force_reply": true, "input_field_placeholder": placeholder, "selective": selective })
        }
    };
    Some(value.to_string())
}

pub(crate) fn decode_keyboard(stored: Option<&str>) -> Option<Keyboard> {
    let value: Value = serde_json::from_str(stored.filter(|s| !s.is_empty())?).ok()?;
    let rows = |v: &Value| -> Vec<Vec<Button>> {
        v.as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| row.as_array().map(|buttons| buttons.iter().filter_map(decode_button).collect()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    };
    let flag = |name: &str| value.get(name).and_then(Value::as_bool).unwrap_or(false);
    let placeholder = value.get("input_field_placeholder").and_then(Value::as_str).map(str::to_string);
    match &value {
        // A button without an action cannot be pressed under a message: dropped.
        Value::Array(_) => {
            let rows = rows(&value).into_iter().map(|row| row.into_iter().filter(|b| b.action != ButtonAction::Text).collect()).collect();
            Keyboard::new(rows).ok().flatten()
        }
        _ if value.get("keyboard").is_some() => {
            let options = ReplyOptions {
                resize: flag("resize_keyboard"),
                one_time: flag("one_time_keyboard"),
                persistent: flag("is_persistent"),
                placeholder,
                selective: flag("selective"),
            };
            Keyboard::reply(rows(&value["keyboard"]), options).ok().flatten()
        }
        _ if flag("remove_keyboard") => Some(Keyboard::remove(flag("selective"))),
        _ if flag("force_reply") => Keyboard::force_reply(placeholder, flag("selective")).ok(),
        _ => None,
    }
}

fn decode_button(v: &Value) -> Option<Button> {
    let text = v.get("text")?.as_str()?.to_string();
    let action = match (v.get("callback_data").and_then(Value::as_str), v.get("url").and_then(Value::as_str)) {
        (Some(data), _) => ButtonAction::Callback(data.to_string()),
        (None, Some(url)) => ButtonAction::Url(url.to_string()),
        (None, None) => ButtonAction::Text,
    };
    Some(Button { text, action })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(kind: EntityKind, offset: u32, length: u32) -> Entity {
        Entity { kind, offset, length }
    }

    #[test]
    fn entities_round_trip() {
        let cases: Vec<Vec<Entity>> = vec![
            vec![],
            vec![e(EntityKind::Bold, 0, 5)],
            vec![
                e(EntityKind::Pre { language: None }, 0, 1),
                e(EntityKind::Pre { language: Some("rust".into()) }, 1, 2),
                e(EntityKind::TextLink { url: "https://example.org/?a=\"b\"".into() }, 2, 3),
                e(EntityKind::TextMention { user: UserId(42) }, 3, 4),
                e(EntityKind::CustomEmoji { id: "5368324170671202286".into() }, 4, 2),
                e(EntityKind::ExpandableBlockquote, 0, 9),
                e(EntityKind::BotCommand, 0, 6),
            ],
        ];
        for entities in cases {
            let stored = encode_entities(&entities);
            assert_eq!(stored.is_none(), entities.is_empty());
            assert_eq!(decode_entities(stored.as_deref()), entities);
        }
        assert_eq!(decode_entities(None), vec![]);
        assert_eq!(decode_entities(Some("")), vec![]);
        assert_eq!(decode_entities(Some("not json")), vec![]);
        // An unknown kind is dropped, the rest kept.
        assert_eq!(
            decode_entities(Some(r#"[{"type":"sparkle","offset":0,"length":1},{"type":"bold","offset":1,"length":1}]"#)),
            vec![e(EntityKind::Bold, 1, 1)]
        );
    }

    #[test]
    fn keyboards_round_trip() {
        let b = |t: &str, a: ButtonAction| Button::new(t.into(), a).expect("button");
        let keyboards = [
            None,
            Keyboard::new(vec![vec![b("Yes ✅", ButtonAction::Callback("y".into()))]]).expect("keyboard"),
            Keyboard::new(vec![
                vec![b("a", ButtonAction::Callback("1".into())), b("b", ButtonAction::Url("https://example.org".into()))],
                vec![b("c", ButtonAction::Callback("{\"x\":1}".into()))],
            ])
            .expect("keyboard"),
            Keyboard::reply(vec![vec![b("Red", ButtonAction::Text)], vec![b("Blue", ButtonAction::Text)]], ReplyOptions::default())
                .expect("keyboard"),
            Keyboard::reply(
                vec![vec![b("Red", ButtonAction::Text)]],
                ReplyOptions { resize: true, one_time: true, persistent: true, placeholder: Some("Pick".into()), selective: true },
            )
            .expect("keyboard"),
            Some(Keyboard::remove(false)),
            Some(Keyboard::remove(true)),
            Some(Keyboard::force_reply(None, false).expect("force reply")),
            Some(Keyboard::force_reply(Some("Your name".into()), true).expect("force reply")),
        ];
        for k in keyboards {
            let stored = encode_keyboard(k.as_ref());
            assert_eq!(stored.is_none(), k.is_none());
            assert_eq!(decode_keyboard(stored.as_deref()), k);
        }
        assert_eq!(decode_keyboard(Some("")), None);
        assert_eq!(decode_keyboard(Some("[[]]")), None);
        assert_eq!(decode_keyboard(Some("{")), None);
    }
}
