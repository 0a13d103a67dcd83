//! Sign-in: login codes, accounts, sessions.

use heliograph_core::*;

use super::{one, rows, sql, Tx};
use crate::model::*;
use crate::{Error, Result};

/// Replaces any pending code for `phone`.
pub async fn save_login_code<X: Tx>(tx: &mut X, phone: &Phone, code: &LoginCodeHash) -> Result<()> {
    tx.execute(
        sql!(
            "INSERT INTO login_codes (phone, salt, hash, expires, attempts) VALUES ($1, $2, $3, $4, 0)
             ON CONFLICT (phone) DO UPDATE SET salt = excluded.salt, hash = excluded.hash, expires = excluded.expires, attempts = 0"
        ),
        &[&phone.as_str(), &code.salt, &code.hash, &code.expires],
    )
    .await?;
    Ok(())
}

pub async fn login_attempt<X: Tx>(tx: &mut X, phone: &Phone) -> Result<Option<LoginCodeHash>> {
    tx.query_opt(
        sql!("UPDATE login_codes SET attempts = attempts + 1 WHERE phone = $1 RETURNING salt, hash, expires, attempts"),
        &[&phone.as_str()],
        rows::login_code,
    )
    .await
}

pub async fn delete_login_code<X: Tx>(tx: &mut X, phone: &Phone) -> Result<()> {
    tx.execute(sql!("DELETE FROM login_codes WHERE phone = $1"), &[&phone.as_str()]).await?;
    Ok(())
}

pub async fn user_by_phone<X: Tx>(tx: &mut X, phone: &Phone) -> Result<Option<User>> {
    tx.query_opt(sql!(concat!("SELECT ", user_cols!(), " FROM users WHERE phone = $1")), &[&phone.as_str()], rows::user).await
}

/// Creates the account for `phone`; if it already exists, returns it unchanged. Two nodes
/// signing up one phone at once: the second waits on the phone's key and finds the first.
pub async fn create_user<X: Tx>(tx: &mut X, phone: &Phone, name: &DisplayName) -> Result<User> {
    if let Some(user) = user_by_phone(tx, phone).await? {
        return Ok(user);
    }
    let inserted = tx
        .query_opt(
            sql!(concat!(
                "INSERT INTO users (phone, name, created) VALUES ($1, $2, $3) ON CONFLICT (phone) DO NOTHING RETURNING ",
                user_cols!()
            )),
            &[&phone.as_str(), &name.as_str(), &now()],
            rows::user,
        )
        .await?;
    match inserted {
        Some(user) => Ok(user),
        None => user_by_phone(tx, phone).await?.ok_or_else(|| Error::internal("a user vanished while signing up")),
    }
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
