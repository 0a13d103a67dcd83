//! The transparency log (accountability, #16): a public, append-only Merkle tree with RFC 6962
//! hashing in the C2SP tlog-tiles layout, the tree math from `tlog_tiles` (a port of Go's
//! `golang.org/x/mod/sumdb/tlog`).
//!
//! Entry `n` is a row of `tlog_entries`; the tree is kept as its *stored hashes* (each entry's
//! record hash and the hash of every completed subtree, at `stored_hash_index(level, k)`) in
//! `tlog_hashes`, so a tile, a proof or the root costs a handful of point reads. An entry is
//! appended in the transaction of what it records (a moderation action, a step of a
//! disclosure): the log never says less than what happened. Appends take a lock
//! (`pg_advisory_xact_lock` on PostgreSQL; SQLite's one writer on the embedded engine), so
//! entries are numbered without gaps whichever node writes them.
//!
//! `tlog_tiles` reads hashes through a synchronous [`HashReader`], and our transactions are
//! asynchronous, so [`with_hashes`] runs the computation against the hashes read so far,
//! notes what it asked for when one is missing, reads those and runs it again: each round
//! costs one query, and a computation needs at most a few (the indexes it asks for depend
//! only on the tree's size).

use std::cell::RefCell;
use std::collections::HashMap;

use tlog_tiles::{stored_hash_index, Hash, HashReader, Tile};

use super::dialect::{sql, Ids};
use super::{int, one, Tx};
use crate::{Error, Result};

/// Bytes per entry at most.
pub const MAX_ENTRY: usize = 16 * 1024;

/// A hash reader over the hashes read so far; it notes those it was asked for and lacks.
struct Known {
    hashes: HashMap<u64, Hash>,
    missing: RefCell<Vec<u64>>,
}

impl HashReader for Known {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, tlog_tiles::Error> {
        let mut out = Vec::with_capacity(indexes.len());
        for i in indexes {
            match self.hashes.get(i) {
                Some(h) => out.push(*h),
                None => self.missing.borrow_mut().push(*i),
            }
        }
        if self.missing.borrow().is_empty() {
            Ok(out)
        } else {
            Err(tlog_tiles::Error::IndexesNotInTree)
        }
    }
}

/// Runs `f` with the stored hashes it needs (see the module's documentation).
async fn with_hashes<X: Tx, T>(tx: &mut X, f: impl Fn(&Known) -> std::result::Result<T, tlog_tiles::Error>) -> Result<T> {
    let mut known = Known { hashes: HashMap::new(), missing: RefCell::new(Vec::new()) };
    for _ in 0..64 {
        match f(&known) {
            Ok(v) => return Ok(v),
            Err(_) if !known.missing.borrow().is_empty() => {
                let wanted: Vec<u64> = known.missing.take();
                let found = read(tx, &wanted).await?;
                if found.len() != wanted.len() {
                    return Err(Error::internal("the transparency log lacks a hash its size says it holds"));
                }
                known.hashes.extend(found);
            }
            Err(e) => return Err(Error::Invalid(format!("transparency log: {e}"))),
        }
    }
    Err(Error::internal("the transparency log computation asked for hashes without end"))
}

async fn read<X: Tx>(tx: &mut X, indexes: &[u64]) -> Result<Vec<(u64, Hash)>> {
    let ids = Ids::of(indexes.iter().map(|&i| i as i64).collect());
    tx.query(
        sql!(
            sqlite: "SELECT idx, hash FROM tlog_hashes WHERE idx IN (SELECT value FROM json_each(?1))",
            postgres: "SELECT idx, hash FROM tlog_hashes WHERE idx = ANY($1)",
        ),
        &[&ids],
        |r| {
            let bytes: Vec<u8> = r.get(1)?;
            let hash: [u8; 32] = bytes.try_into().map_err(|_| Error::internal("a transparency log hash is not 32 bytes"))?;
            Ok((r.get::<i64>(0)? as u64, Hash(hash)))
        },
    )
    .await
}

/// Entries in the log.
pub async fn size<X: Tx>(tx: &mut X) -> Result<u64> {
    Ok(one(tx, sql!("SELECT COUNT(*) FROM tlog_entries"), &[], int).await? as u64)
}

/// Appends `entry` (one line of JSON, without its newline); returns its number.
pub async fn append<X: Tx>(tx: &mut X, entry: &[u8]) -> Result<u64> {
    if entry.len() > MAX_ENTRY || entry.contains(&b'\n') {
        return Err(Error::Invalid(format!("a transparency log entry is one line of at most {MAX_ENTRY} bytes")));
    }
    // SQLite's one writer already serializes appends; the statement there is a no-op.
    tx.query(sql!(sqlite: "SELECT 1", postgres: "SELECT pg_advisory_xact_lock(7362187)"), &[], |_| Ok(())).await?;
    let n = size(tx).await?;
    let record = tlog_tiles::record_hash(entry);
    let hashes = with_hashes(tx, |known| tlog_tiles::stored_hashes_for_record_hash(n, record, known)).await?;
    tx.execute(sql!("INSERT INTO tlog_entries (n, data) VALUES ($1, $2)"), &[&(n as i64), &entry.to_vec()]).await?;
    let first = stored_hash_index(0, n);
    for (k, h) in hashes.iter().enumerate() {
        tx.execute(sql!("INSERT INTO tlog_hashes (idx, hash) VALUES ($1, $2)"), &[&((first + k as u64) as i64), &h.0.to_vec()]).await?;
    }
    Ok(n)
}

/// The root hash of the tree of the first `size` entries.
pub async fn root<X: Tx>(tx: &mut X, size: u64) -> Result<[u8; 32]> {
    Ok(with_hashes(tx, |known| tlog_tiles::tree_hash(size, known)).await?.0)
}

/// Entries `from..from + limit`, in order.
pub async fn entries<X: Tx>(tx: &mut X, from: u64, limit: u32) -> Result<Vec<Vec<u8>>> {
    tx.query(sql!("SELECT data FROM tlog_entries WHERE n >= $1 ORDER BY n LIMIT $2"), &[&(from as i64), &i64::from(limit)], |r| {
        r.get::<Vec<u8>>(0)
    })
    .await
}

/// The hashes of the tile at `path` (`tile/8/<L>/<N>[.p/<W>]`, the tiles of Go's sumdb
/// that `tlog_tiles` names), for a tree of `size` entries; `None` when the tile is not in
/// that tree.
pub async fn tile<X: Tx>(tx: &mut X, path: &str, size: u64) -> Result<Option<Vec<u8>>> {
    let Ok(tile) = Tile::from_path(path) else { return Ok(None) };
    if tile.height() != 8 || tile.is_data() || !within(&tile, size) {
        return Ok(None);
    }
    with_hashes(tx, |known| tile.read_data(known)).await.map(Some)
}

/// Whether `tile` is a full tile of the tree of `size` entries, or its partial edge.
pub fn within(tile: &Tile, size: u64) -> bool {
    let level = u32::from(tile.level()) * u32::from(tile.height());
    let Some(at_level) = size.checked_shr(level) else { return false };
    let width = u64::from(tile.width());
    let end = tile.level_index().checked_mul(1 << tile.height()).and_then(|s| s.checked_add(width));
    match end {
        Some(end) if width == 1 << tile.height() => end <= at_level,
        Some(end) => end == at_level,
        None => false,
    }
}

/// A proof that entry `n` is in the tree of `size` entries.
pub async fn prove_entry<X: Tx>(tx: &mut X, size: u64, n: u64) -> Result<Vec<[u8; 32]>> {
    Ok(with_hashes(tx, |known| tlog_tiles::prove_record(size, n, known)).await?.into_iter().map(|h| h.0).collect())
}

/// A proof that the tree of `old` entries is a prefix of the tree of `size` entries.
pub async fn prove_consistency<X: Tx>(tx: &mut X, size: u64, old: u64) -> Result<Vec<[u8; 32]>> {
    Ok(with_hashes(tx, |known| tlog_tiles::prove_tree(size, old, known)).await?.into_iter().map(|h| h.0).collect())
}
