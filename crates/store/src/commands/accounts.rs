//! Sign-in: login codes, accounts, sessions.

use heliograph_core::*;

use super::{one, rows, sql, Tx};
use crate::model::*;
use crate::{Error, Result};

/// Replaces any pending code for the number hashed as `phone`.
pub async fn save_login_code<X: Tx>(tx: &mut X, phone: PhoneHash, code: &LoginCodeHash) -> Result<()> {
    tx.execute(
        sql!(
            "INSERT INTO login_codes (phone_hash, salt, hash, expires, attempts) VALUES ($1, $2, $3, $4, 0)
             ON CONFLICT (phone_hash) DO UPDATE SET salt = excluded.salt, hash = excluded.hash, expires = excluded.expires, attempts = 0"
        ),
        &[&phone.0.as_slice(), &code.salt, &code.hash, &code.expires],
    )
    .await?;
    Ok(())
}

pub async fn login_attempt<X: Tx>(tx: &mut X, phone: PhoneHash) -> Result<Option<LoginCodeHash>> {
    tx.query_opt(
        sql!("UPDATE login_codes SET attempts = attempts + 1 WHERE phone_hash = $1 RETURNING salt, hash, expires, attempts"),
        &[&phone.0.as_slice()],
        rows::login_code,
    )
    .await
}

pub async fn delete_login_code<X: Tx>(tx: &mut X, phone: PhoneHash) -> Result<()> {
    tx.execute(sql!("DELETE FROM login_codes WHERE phone_hash = $1"), &[&phone.0.as_slice()]).await?;
    Ok(())
}

pub async fn user_by_phone<X: Tx>(tx: &mut X, phone: PhoneHash) -> Result<Option<User>> {
    tx.query_opt(sql!(concat!("SELECT ", user_cols!(), " FROM users WHERE phone_hash = $1")), &[&phone.0.as_slice()], rows::user).await
}

/// Creates the account for the number `phone` holds; if it already exists, returns it
/// unchanged. Two nodes signing up one number at once: the second waits on the hash's key and
/// finds the first.
pub async fn create_user<X: Tx>(tx: &mut X, phone: &SealedPhone, name: &DisplayName) -> Result<User> {
    if let Some(user) = user_by_phone(tx, phone.hash).await? {
        return Ok(user);
    }
    let inserted = tx
        .query_opt(
            sql!(concat!(
                "INSERT INTO users (phone_hash, phone_sealed, name, created) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (phone_hash) DO NOTHING RETURNING ",
                user_cols!()
            )),
            &[&phone.hash.0.as_slice(), &phone.sealed, &name.as_str(), &now()],
            rows::user,
        )
        .await?;
    match inserted {
        Some(user) => Ok(user),
        None => user_by_phone(tx, phone.hash).await?.ok_or_else(|| Error::internal("a user vanished while signing up")),
    }
}

/// Accounts whose number is still held in clear (a database made before schema 6), at
/// most `limit`, lowest id first: the server seals each with [`seal_phone`] at start.
pub async fn phones_to_seal<X: Tx>(tx: &mut X, limit: u32) -> Result<Vec<(UserId, String)>> {
    tx.query(sql!("SELECT id, phone FROM users WHERE phone IS NOT NULL ORDER BY id LIMIT $1"), &[&i64::from(limit)], |r| {
        Ok((UserId(r.get(0)?), r.get(1)?))
    })
    .await
}

/// Replaces `user`'s clear number with its hash and sealed copy.
pub async fn seal_phone<X: Tx>(tx: &mut X, user: UserId, phone: &SealedPhone) -> Result<()> {
    tx.execute(
        sql!("UPDATE users SET phone = NULL, phone_hash = $2, phone_sealed = $3 WHERE id = $1"),
        &[&user.0, &phone.hash.0.as_slice(), &phone.sealed],
    )
    .await?;
    Ok(())
}

/// `user`'s number sealed to the disclosure key; `None` for bots (no number).
pub async fn sealed_phone<X: Tx>(tx: &mut X, user: UserId) -> Result<Option<Vec<u8>>> {
    let row = tx.query_opt(sql!("SELECT phone_sealed FROM users WHERE id = $1"), &[&user.0], |r| r.get::<Option<Vec<u8>>>(0)).await?;
    match row {
        None => Err(Error::UserNotFound),
        Some(sealed) => Ok(sealed),
    }
}

/// Records `value` under `key` the first time; afterwards answers whether it is the same.
pub async fn settle_setting<X: Tx>(tx: &mut X, key: &str, value: &[u8]) -> Result<bool> {
    tx.execute(sql!("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"), &[&key, &value]).await?;
    let stored = one(tx, sql!("SELECT value FROM settings WHERE key = $1"), &[&key], |r| r.get::<Vec<u8>>(0)).await?;
    Ok(stored == value)
}

pub async fn create_session<X: Tx>(tx: &mut X, user: UserId, token_hash: &[u8], device: &str) -> Result<Session> {
    let now = now();
    let id = one(
        tx,
        sql!("INSERT INTO sessions (user_id, token_hash, device, created, last_active) VALUES ($1, $2, $3, $4, $4) RETURNING id"),
        &[&user.0, &token_hash, &device, &now],
        super::int,
    )
    .await?;
    Ok(Session { id: SessionId(id), user, device: device.to_string(), created: now, last_active: now })
}

/// Finds a live session by its token's hash and marks it active.
pub async fn session_by_token<X: Tx>(tx: &mut X, token_hash: &[u8]) -> Result<Option<Session>> {
    tx.query_opt(
        sql!("UPDATE sessions SET last_active = $2 WHERE token_hash = $1 RETURNING id, user_id, device, created, last_active"),
        &[&token_hash, &now()],
        rows::session,
    )
    .await
}

pub async fn sessions<X: Tx>(tx: &mut X, user: UserId) -> Result<Vec<Session>> {
    tx.query(
        sql!("SELECT id, user_id, device, created, last_active FROM sessions WHERE user_id = $1 ORDER BY id"),
        &[&user.0],
        rows::session,
    )
    .await
}

pub async fn revoke_session<X: Tx>(tx: &mut X, user: UserId, session: SessionId) -> Result<bool> {
    Ok(tx.execute(sql!("DELETE FROM sessions WHERE id = $1 AND user_id = $2"), &[&session.0, &user.0]).await? > 0)
}
