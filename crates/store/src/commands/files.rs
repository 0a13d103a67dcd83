//! Files: upload records, the quota, and who may download.

use heliograph_core::*;

use super::{exists, one, rows, sql, Tx};
use crate::model::*;
use crate::{Error, Result};

/// Bytes of the files `user` uploaded (what the quota counts).
pub async fn file_usage<X: Tx>(tx: &mut X, user: UserId) -> Result<u64> {
    let used = one(tx, sql!("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files WHERE owner = $1"), &[&user.0], super::int).await?;
    Ok(used.max(0) as u64)
}

/// File records with this content (no index: only asked when an upload is refused late).
pub async fn file_refs<X: Tx>(tx: &mut X, sha256: [u8; 32]) -> Result<u64> {
    let n = one(tx, sql!("SELECT COUNT(*) FROM files WHERE sha256 = $1"), &[&&sha256[..]], super::int).await?;
    Ok(n.max(0) as u64)
}

/// Records a file `owner` uploaded, unless it would take their files past `quota` bytes.
pub async fn create_file<X: Tx>(tx: &mut X, owner: UserId, f: &NewFile, quota: u64) -> Result<File> {
    // The owner's row serializes concurrent uploads of one user, so two cannot both pass the
    // quota check.
    tx.lock_users(&[owner]).await?;
    let used = file_usage(tx, owner).await?;
    if used.saturating_add(f.size) > quota {
        return Err(Error::QuotaExceeded { used, quota });
    }
    let created = now();
    let id = one(
        tx,
        sql!(
            "INSERT INTO files (owner, sha256, size, name, mime, width, height, thumb, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             RETURNING id"
        ),
        &[
            &owner.0,
            &&f.sha256[..],
            &(f.size as i64),
            &f.name,
            &f.mime,
            &f.width.map(i64::from),
            &f.height.map(i64::from),
            &f.thumb.map(|t| t.0),
            &created,
        ],
        super::int,
    )
    .await?;
    Ok(File {
        id: FileId(id),
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

/// The file, when `user` may see it: they uploaded it, or it (or its thumbnail) is in a live
/// message of a chat they are a member of. Otherwise `FileNotFound`, as for no file at all.
pub async fn file<X: Tx>(tx: &mut X, user: UserId, id: FileId) -> Result<File> {
    let Some(f) = tx.query_opt(sql!(concat!("SELECT ", file_cols!(), " FROM files WHERE id = $1")), &[&id.0], rows::file).await? else {
        return Err(Error::FileNotFound);
    };
    if f.owner == user {
        return Ok(f);
    }
    // Two arms, so each uses its own index.
    let shared = exists(
        tx,
        sql!(
            "SELECT 1 FROM messages m JOIN members mem ON mem.chat_id = m.chat_id AND mem.user_id = $2
             WHERE m.media_file = $1 AND NOT m.deleted
             UNION ALL
             SELECT 1 FROM messages m JOIN members mem ON mem.chat_id = m.chat_id AND mem.user_id = $2
             WHERE m.media_thumb = $1 AND NOT m.deleted
             LIMIT 1"
        ),
        &[&id.0, &user.0],
    )
    .await?;
    if shared {
        Ok(f)
    } else {
        Err(Error::FileNotFound)
    }
}
