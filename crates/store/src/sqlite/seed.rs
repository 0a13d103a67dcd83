//! Bulk seeding for benchmarks: a new database filled with one channel and many subscribers,
//! written offline (no server has the file open) in a few large transactions.
//!
//! Every row comes from the same commands the store runs (`create_user`, `create_session`,
//! `create_chat`, `join`, in `commands/`), in the order a sign-up, a channel creation and a
//! join by username run them, so a running server cannot tell a seeded account from one that
//! signed in and joined. Only the batching differs: thousands of commands share one
//! transaction instead of a group commit each, and the events they log are not fanned out
//! (nobody is connected; the update logs are the record). SQLite only: a PostgreSQL cluster is
//! seeded through the running server.

use std::path::Path;

use heliograph_core::*;
use rusqlite::Connection;

use super::tx::{finish, SqliteTx};
use super::{configure, in_use, migrate, Durability};
use crate::commands::{accounts, chats};
use crate::{Error, JoinBy, Limits, Result};

/// What to seed.
#[derive(Debug, Clone)]
pub struct ChannelSeed {
    pub title: Title,
    /// The channel's public name; subscribers join by it, as `channels.join` does.
    pub username: Username,
    /// Accounts made besides the owner, all joined to the channel.
    pub subscribers: u64,
    /// The owner's session (SHA-256 of its token, as `Store::create_session` takes it).
    pub owner_session: Vec<u8>,
    /// Sessions for subscribers 1, 2, … in order: `sessions[i]` belongs to subscriber `i + 1`.
    pub sessions: Vec<Vec<u8>>,
    /// The device name every seeded session gets.
    pub device: String,
    /// Subscribers per transaction.
    pub batch: u64,
}

/// What was seeded.
#[derive(Debug, Clone)]
pub struct SeededChannel {
    pub chat: ChatId,
    pub owner: UserId,
    /// The subscribers given a session, in the order of [`ChannelSeed::sessions`].
    pub with_session: Vec<UserId>,
}

/// The phone number of seeded account `n` (the owner is 0): `+9997` and nine digits. The
/// country code 999 is reserved (no real number has it), and at 13 digits these never meet
/// the 11-digit test numbers `+99966XYYYY`, so a seeded account cannot be signed into with a
/// test code.
pub fn seed_phone(n: u64) -> Result<Phone> {
    Phone::parse(&format!("+9997{n:09}")).map_err(|_| Error::Invalid(format!("no seed phone number for account {n}")))
}

/// Creates the database at `path` (which must not hold any account yet, and which no process
/// may have open) and seeds it: the owner (account 0) creates the channel, then subscribers
/// 1..=`subscribers` sign up and join it. `progress` is called after each transaction with
/// the subscribers written so far.
/// `seal` makes what the store keeps of a seeded number (its keyed hash and sealed copy),
/// as the server's sign-in does.
pub fn seed_channel(
    path: &Path,
    seed: &ChannelSeed,
    seal: impl Fn(&Phone) -> SealedPhone,
    mut progress: impl FnMut(u64),
) -> Result<SeededChannel> {
    if path.exists() && in_use(path)? {
        return Err(Error::Invalid(format!("{} is open in another process (a running server?)", path.display())));
    }
    if seed.sessions.len() as u64 > seed.subscribers {
        return Err(Error::Invalid(format!("{} sessions for {} subscribers", seed.sessions.len(), seed.subscribers)));
    }
    let mut conn = Connection::open(path)?;
    configure(&conn, Durability::Full)?;
    migrate(&conn)?;
    let accounts: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
    if accounts > 0 {
        return Err(Error::Invalid(format!(
            "{} already holds {accounts} accounts: seeding writes only into a new database",
            path.display()
        )));
    }
    let limits = Limits::default();
    // Events are logged into the tables by the commands; the copies meant for the live
    // fan-out are dropped with each transaction (no server is running to publish them).
    let mut events = Vec::new();
    conn.execute_batch("BEGIN")?;
    let chat = {
        let mut tx = SqliteTx::new(&mut conn, &limits, &mut events);
        let owner = sign_up(&mut tx, 0, &seal)?;
        finish(accounts::create_session(&mut tx, owner, &seed.owner_session, &seed.device))?;
        let chat = finish(chats::create_chat(&mut tx, owner, ChatKind::Channel, &seed.title, Some(&seed.username), &[]))?;
        (owner, chat.id)
    };
    conn.execute_batch("COMMIT")?;
    let (owner, chat) = chat;
    let how = JoinBy::Username(seed.username.clone());
    let mut with_session = Vec::with_capacity(seed.sessions.len());
    let mut n = 1;
    while n <= seed.subscribers {
        let end = (n + seed.batch.max(1)).min(seed.subscribers + 1);
        conn.execute_batch("BEGIN")?;
        for i in n..end {
            events.clear();
            let mut tx = SqliteTx::new(&mut conn, &limits, &mut events);
            let user = sign_up(&mut tx, i, &seal)?;
            if let Some(hash) = seed.sessions.get(i as usize - 1) {
                finish(accounts::create_session(&mut tx, user, hash, &seed.device))?;
                with_session.push(user);
            }
            finish(chats::join(&mut tx, user, &how))?;
        }
        conn.execute_batch("COMMIT")?;
        progress(end - 1);
        n = end;
    }
    // Leave one self-contained file: the server starts without replaying a large WAL.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(SeededChannel { chat, owner, with_session })
}

/// What `auth.sign_in` stores for a new account (the login code it saves and deletes leaves
/// no row).
fn sign_up(tx: &mut SqliteTx<'_>, n: u64, seal: &impl Fn(&Phone) -> SealedPhone) -> Result<UserId> {
    let name = DisplayName::parse(&format!("bench {n}")).map_err(|_| Error::Invalid("a seed name is not a valid name".into()))?;
    Ok(finish(accounts::create_user(tx, &seal(&seed_phone(n)?), &name))?.id)
}
