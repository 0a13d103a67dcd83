//! Bots: accounts with an owner, their tokens and Bot API settings, and button presses.

use heliograph_core::*;

use super::{accounts, chats, exists, log, messages, people, rows, sql, Tx};
use crate::model::*;
use crate::{Error, Result};

/// Creates a bot account owned by `owner`, with `username` and a first token (its one
/// session, device `"bot"`). A refusal rolls back the whole command: no user, no session,
/// no bot row.
pub async fn create_bot<X: Tx>(tx: &mut X, owner: UserId, name: &DisplayName, username: &Username, token_hash: &[u8]) -> Result<User> {
    if !people::user_exists(tx, owner).await? {
        return Err(Error::UserNotFound);
    }
    let id = super::one(
        tx,
        sql!("INSERT INTO users (phone, name, username, created, bot_owner) VALUES (NULL, $1, $2, $3, $4) RETURNING id"),
        &[&name.as_str(), &username.as_str(), &now(), &owner.0],
        super::int,
    )
    .await?;
    let id = UserId(id);
    people::claim_username(tx, username, Some(id), None).await?;
    tx.execute(sql!("INSERT INTO bots (user_id, owner) VALUES ($1, $2)"), &[&id.0, &owner.0]).await?;
    accounts::create_session(tx, id, token_hash, "bot").await?;
    people::user(tx, id).await
}

/// The bots `owner` made, oldest first.
pub async fn bots<X: Tx>(tx: &mut X, owner: UserId) -> Result<Vec<User>> {
    tx.query(sql!(concat!("SELECT ", user_cols!(), " FROM users WHERE bot_owner = $1 ORDER BY id")), &[&owner.0], rows::user).await
}

/// Ends every session of `owner`'s bot and gives it one new token.
pub async fn replace_bot_token<X: Tx>(tx: &mut X, owner: UserId, bot: UserId, token_hash: &[u8]) -> Result<()> {
    // The bot's row serializes two replacements racing: the second sees the first's session.
    tx.lock_users(&[bot]).await?;
    if !exists(tx, sql!("SELECT 1 FROM bots WHERE user_id = $1 AND owner = $2"), &[&bot.0, &owner.0]).await? {
        return Err(Error::UserNotFound);
    }
    tx.execute(sql!("DELETE FROM sessions WHERE user_id = $1"), &[&bot.0]).await?;
    accounts::create_session(tx, bot, token_hash, "bot").await?;
    Ok(())
}

/// The bots that have a webhook set.
pub async fn webhook_bots<X: Tx>(tx: &mut X) -> Result<Vec<UserId>> {
    tx.query(sql!("SELECT user_id FROM bots WHERE webhook_url IS NOT NULL ORDER BY user_id"), &[], super::user_id).await
}

/// A bot's settings; `None` when `id` is not a bot.
pub async fn bot<X: Tx>(tx: &mut X, id: UserId) -> Result<Option<Bot>> {
    let Some(settings) = tx.query_opt(sql!(concat!("SELECT ", bot_cols!(), " FROM bots WHERE user_id = $1")), &[&id.0], rows::bot).await?
    else {
        return Ok(None);
    };
    Ok(Some(settings.of(people::user(tx, id).await?)))
}

pub async fn update_bot<X: Tx>(tx: &mut X, id: UserId, change: &BotChange) -> Result<Bot> {
    let changed = match change {
        // Never moves down, even when two confirmations race; a bot already further along
        // changes nothing.
        BotChange::Confirm(pts) => {
            tx.execute(
                sql!("UPDATE bots SET confirmed = CASE WHEN confirmed < $2 THEN $2 ELSE confirmed END WHERE user_id = $1"),
                &[&id.0, pts],
            )
            .await?
        }
        BotChange::Webhook(Some(w)) => {
            tx.execute(
                sql!(
                    "UPDATE bots SET webhook_url = $2, webhook_secret = $3, webhook_max_connections = $4, webhook_set = $5,
                     webhook_error_date = NULL, webhook_error = NULL WHERE user_id = $1"
                ),
                &[&id.0, &w.url, &w.secret, &i64::from(w.max_connections), &w.set],
            )
            .await?
        }
        BotChange::Webhook(None) => {
            tx.execute(
                sql!(
                    "UPDATE bots SET webhook_url = NULL, webhook_secret = NULL, webhook_max_connections = NULL, webhook_set = NULL
                     WHERE user_id = $1"
                ),
                &[&id.0],
            )
            .await?
        }
        BotChange::WebhookError(error) => {
            let (date, text) = match error {
                Some((date, text)) => (Some(*date), Some(text.as_str())),
                None => (None, None),
            };
            tx.execute(sql!("UPDATE bots SET webhook_error_date = $2, webhook_error = $3 WHERE user_id = $1"), &[&id.0, &date, &text])
                .await?
        }
        BotChange::AllowedUpdates(allowed) => {
            tx.execute(sql!("UPDATE bots SET allowed_updates = $2 WHERE user_id = $1"), &[&id.0, allowed]).await?
        }
        BotChange::Commands(commands) => tx.execute(sql!("UPDATE bots SET commands = $2 WHERE user_id = $1"), &[&id.0, commands]).await?,
        BotChange::Setting(setting, value) => {
            if !exists(tx, sql!("SELECT 1 FROM bots WHERE user_id = $1"), &[&id.0]).await? {
                return Err(Error::UserNotFound);
            }
            let key = setting_key(setting);
            match value {
                Some(value) => {
                    tx.execute(
                        sql!(
                            "INSERT INTO bot_settings (user_id, setting, value) VALUES ($1, $2, $3)
                             ON CONFLICT (user_id, setting) DO UPDATE SET value = excluded.value"
                        ),
                        &[&id.0, &key, value],
                    )
                    .await?;
                }
                None => {
                    tx.execute(sql!("DELETE FROM bot_settings WHERE user_id = $1 AND setting = $2"), &[&id.0, &key]).await?;
                }
            }
            1
        }
    };
    if changed == 0 {
        return Err(Error::UserNotFound);
    }
    bot(tx, id).await?.ok_or(Error::UserNotFound)
}

/// How a setting is keyed in `bot_settings`.
fn setting_key(setting: &BotSetting) -> String {
    match setting {
        BotSetting::Name(language) => format!("name:{language}"),
        BotSetting::Description(language) => format!("description:{language}"),
        BotSetting::ShortDescription(language) => format!("short_description:{language}"),
        BotSetting::MenuButton(None) => "menu:".to_string(),
        BotSetting::MenuButton(Some(chat)) => format!("menu:{}", chat.0),
        BotSetting::DefaultRights { channels: false } => "rights:groups".to_string(),
        BotSetting::DefaultRights { channels: true } => "rights:channels".to_string(),
    }
}

/// One setting of a bot's profile; `None` when it was never set (or `id` is not a bot).
pub async fn bot_setting<X: Tx>(tx: &mut X, id: UserId, setting: &BotSetting) -> Result<Option<String>> {
    let key = setting_key(setting);
    tx.query_opt(sql!("SELECT value FROM bot_settings WHERE user_id = $1 AND setting = $2"), &[&id.0, &key], |r| r.get(0)).await
}

/// `user` pressed the callback button carrying `data` under `message`: logs the press in the
/// log of the bot that posted it. Authorized like every read of the chat; the only row locked
/// is the bot's (its log).
pub async fn press_button<X: Tx>(tx: &mut X, user: UserId, chat: ChatId, id: MessageId, data: &str) -> Result<(UserId, Pts)> {
    chats::view(tx, user, chat).await?;
    let message = messages::visible_message(tx, user, chat, id).await?;
    let pressable = message.keyboard.as_ref().is_some_and(|k| k.has_callback(data));
    if !pressable || !people::is_bot(tx, message.from).await? {
        return Err(Error::ButtonNotFound);
    }
    let pts = log::user(tx, message.from, Event::CallbackQuery { chat, message: id, from: user, data: data.to_string() }).await?;
    Ok((message.from, pts))
}
