//! Reactions to messages, Telegram's model: a reaction is a standard emoji or a custom emoji
//! (by its id); each person may set a few at once on a message (at most
//! [`MAX_REACTIONS_PER_USER`]), and a message shows a count per reaction.

use crate::InvalidValue;

/// How many reactions one person may set on one message.
pub const MAX_REACTIONS_PER_USER: usize = 3;

/// The reactions clients offer first (any other emoji may be set too).
pub const DEFAULT_REACTIONS: &[&str] = &["👍", "👎", "❤️", "🔥", "🎉", "😁", "😢", "🤔", "👏", "🙏"];

/// Longest custom emoji id, in digits (Telegram's are 64-bit numbers).
const MAX_CUSTOM_EMOJI_ID: usize = 20;

/// One reaction: Telegram's `ReactionType` (`emoji` or `custom_emoji`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reaction {
    /// One emoji as Unicode defines it (with its skin tone, if any).
    Emoji(String),
    /// A custom emoji, by its id (digits).
    CustomEmoji(String),
}

impl Reaction {
    /// A standard emoji: exactly one emoji of Unicode's list, nothing around it.
    pub fn emoji(input: &str) -> Result<Reaction, InvalidValue> {
        match emojis::get(input) {
            Some(e) => Ok(Reaction::Emoji(e.as_str().to_string())),
            None => Err(InvalidValue::Reaction),
        }
    }

    /// A custom emoji id: 1 to 20 ASCII digits.
    pub fn custom_emoji(id: &str) -> Result<Reaction, InvalidValue> {
        if id.is_empty() || id.len() > MAX_CUSTOM_EMOJI_ID || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue::Reaction);
        }
        Ok(Reaction::CustomEmoji(id.to_string()))
    }

    /// The stored form: `e:` or `c:` before the emoji or id.
    pub fn encode(&self) -> String {
        match self {
            Reaction::Emoji(e) => format!("e:{e}"),
            Reaction::CustomEmoji(id) => format!("c:{id}"),
        }
    }

    /// Reads the stored form back (`None` for anything [`Reaction::encode`] does not make).
    pub fn decode(stored: &str) -> Option<Reaction> {
        match stored.split_at_checked(2)? {
            ("e:", e) => Reaction::emoji(e).ok(),
            ("c:", id) => Reaction::custom_emoji(id).ok(),
            _ => None,
        }
    }
}

/// The reactions one person sets on one message, in the order chosen: no repeats, at most
/// [`MAX_REACTIONS_PER_USER`]. Empty takes every reaction of theirs away.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReactionSet(Vec<Reaction>);

impl ReactionSet {
    pub fn parse(reactions: Vec<Reaction>) -> Result<ReactionSet, InvalidValue> {
        let mut out: Vec<Reaction> = Vec::with_capacity(reactions.len());
        for r in reactions {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        if out.len() > MAX_REACTIONS_PER_USER {
            return Err(InvalidValue::TooManyReactions { len: out.len(), max: MAX_REACTIONS_PER_USER });
        }
        Ok(ReactionSet(out))
    }
    pub fn as_slice(&self) -> &[Reaction] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emoji(input: &str, expect: Result<&str, InvalidValue>) {
        let got = Reaction::emoji(input);
        assert_eq!(got, expect.map(|e| Reaction::Emoji(e.to_string())), "{input:?}");
    }

    #[test]
    fn emoji_table() {
        emoji("👍", Ok("👍"));
        emoji("👍🏽", Ok("👍🏽"));
        emoji("❤️", Ok("❤️"));
        emoji("🏳️‍🌈", Ok("🏳️‍🌈"));
        emoji("👨‍👩‍👧", Ok("👨‍👩‍👧"));
        emoji("", Err(InvalidValue::Reaction));
        emoji("a", Err(InvalidValue::Reaction));
        emoji("👍👍", Err(InvalidValue::Reaction));
        emoji(" 👍", Err(InvalidValue::Reaction));
        emoji("👍\u{202E}", Err(InvalidValue::Reaction));
        emoji(":+1:", Err(InvalidValue::Reaction));
    }

    #[test]
    fn custom_emoji_ids_are_digits() {
        assert!(Reaction::custom_emoji("5368324170671202286").is_ok());
        for bad in ["", "12a", "-1", "123456789012345678901", " 1"] {
            assert_eq!(Reaction::custom_emoji(bad), Err(InvalidValue::Reaction), "{bad:?}");
        }
    }

    #[test]
    fn every_default_is_an_emoji_and_round_trips() {
        for e in DEFAULT_REACTIONS {
            let r = Reaction::emoji(e).unwrap();
            assert_eq!(Reaction::decode(&r.encode()), Some(r));
        }
        let c = Reaction::custom_emoji("42").unwrap();
        assert_eq!(Reaction::decode(&c.encode()), Some(c));
        assert_eq!(Reaction::decode("x:1"), None);
        assert_eq!(Reaction::decode("e:nope"), None);
    }

    #[test]
    fn sets_drop_repeats_and_refuse_too_many() {
        let r = |e: &str| Reaction::emoji(e).unwrap();
        assert_eq!(ReactionSet::parse(vec![r("👍"), r("👍")]).unwrap().as_slice(), &[r("👍")]);
        assert_eq!(ReactionSet::parse(vec![]).unwrap().as_slice(), &[] as &[Reaction]);
        assert_eq!(
            ReactionSet::parse(vec![r("👍"), r("🔥"), r("🎉"), r("😢")]),
            Err(InvalidValue::TooManyReactions { len: 4, max: MAX_REACTIONS_PER_USER })
        );
    }
}
