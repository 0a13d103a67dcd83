//! Rate limits: how often one session may call, or one phone number or address may ask for a
//! login code.
//!
//! The algorithm is GCRA (the generic cell rate algorithm, a token bucket kept as one
//! timestamp per key): a key may make `burst` calls at once, then one call per interval.
//! Written here rather than taken from a crate because it is a dozen lines, and because it
//! must run on tokio's clock (so tests can pause time) and keep a hard cap on memory.
//!
//! - [`Bucket`]: one key's limit, owned by its caller without a lock (a connection's own).
//! - [`KeyedLimiter`]: many keys behind one lock, at most `max_keys` of them, idle keys
//!   forgotten. A key is idle once its bucket is full again, so forgetting it changes nothing.
//! - [`FailedAuth`]: wrong credentials (bot tokens, session tokens, login codes), counted
//!   per client address and per target, so guessing is slow and others are not slowed.
//!
//! And connection caps: [`ConnectionCaps`] (derived from the open-file limit) and
//! [`ConnectionsPerAddress`] (open connections per client address).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How often a [`KeyedLimiter`] forgets idle keys, at most.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// While a [`KeyedLimiter`] is full of active keys, how long it turns new keys away before
/// looking for a free slot again (so a full map is not scanned on every call).
const FULL_RECHECK: Duration = Duration::from_secs(1);

/// How fast something may happen: one call per `interval` on average, and up to `burst`
/// calls at once after a quiet spell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    interval: Duration,
    burst: u32,
}

impl Rate {
    /// `count` calls per `period`, all of which may come at once. A `count` of 0 is taken as 1.
    pub const fn new(count: u32, period: Duration) -> Rate {
        let count = if count == 0 { 1 } else { count };
        Rate { interval: Duration::from_nanos((period.as_nanos() / count as u128) as u64), burst: count }
    }

    pub fn per_second(count: u32) -> Rate {
        Rate::new(count, Duration::from_secs(1))
    }

    pub fn per_hour(count: u32) -> Rate {
        Rate::new(count, Duration::from_secs(3600))
    }

    /// The same average rate, allowing `burst` calls at once (at least 1).
    pub fn with_burst(self, burst: u32) -> Rate {
        Rate { burst: burst.max(1), ..self }
    }

    /// The time a key takes to go from empty back to a full burst.
    fn window(self) -> Duration {
        self.interval.saturating_mul(self.burst)
    }

    /// Admits a call at `now` for a key whose theoretical arrival time is `tat` (`now` for a
    /// fresh key), returning the key's new `tat`.
    fn admit(self, tat: Instant, now: Instant) -> Result<Instant, RetryAfter> {
        let new_tat = tat.max(now) + self.interval;
        let ahead = new_tat - now;
        if ahead > self.window() {
            Err(RetryAfter(ahead - self.window()))
        } else {
            Ok(new_tat)
        }
    }
}

/// A call was refused; it would be accepted after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds to wait, rounded up and at least 1: what `FLOOD_WAIT`'s `retry_after`
    /// carries.
    pub fn secs(self) -> u32 {
        let secs = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
    }
}

/// One key's limit.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: Rate,
    tat: Option<Instant>,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: Rate) -> Bucket {
        Bucket { rate, tat: None }
    }

    /// Takes one call now, or says how long to wait.
    pub fn check(&mut self) -> Result<(), RetryAfter> {
        self.check_at(Instant::now())
    }

    /// [`Bucket::check`] at a given time.
    pub fn check_at(&mut self, now: Instant) -> Result<(), RetryAfter> {
        let tat = self.rate.admit(self.tat.unwrap_or(now), now)?;
        self.tat = Some(tat);
        Ok(())
    }
}

/// Limits per key (session, phone number, client address), in bounded memory.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    rate: Rate,
    max_keys: usize,
    state: Mutex<KeyedState<K>>,
}

#[derive(Debug)]
struct KeyedState<K> {
    /// Each active key's theoretical arrival time; a key whose time has passed is idle.
    tats: HashMap<K, Instant>,
    next_sweep: Option<Instant>,
    /// The map was found full of active keys: new keys are refused until then.
    full_until: Option<Instant>,
}

impl<K: Hash + Eq> KeyedLimiter<K> {
    /// A limiter tracking at most `max_keys` active keys (at least 1). When that many keys are
    /// active at once, new keys are refused until one goes idle: the limiter fails closed
    /// rather than forget a key that is still limited.
    pub fn new(rate: Rate, max_keys: usize) -> KeyedLimiter<K> {
        KeyedLimiter {
            rate,
            max_keys: max_keys.max(1),
            state: Mutex::new(KeyedState { tats: HashMap::new(), next_sweep: None, full_until: None }),
        }
    }

    /// Takes one call for `key` now, or says how long to wait.
    pub fn check<Q>(&self, key: &Q) -> Result<(), RetryAfter>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.check_at(key, Instant::now())
    }

    /// [`KeyedLimiter::check`] at a given time.
    pub fn check_at<Q>(&self, key: &Q, now: Instant) -> Result<(), RetryAfter>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut state = lock(&self.state);
        if state.next_sweep.is_none_or(|at| now >= at) {
            state.sweep(now);
            state.next_sweep = Some(now + SWEEP_EVERY);
        }
        if let Some(tat) = state.tats.get_mut(key) {
            *tat = self.rate.admit(*tat, now)?;
            return Ok(());
        }
        if state.tats.len() >= self.max_keys {
            if let Some(until) = state.full_until.filter(|until| now < *until) {
                return Err(RetryAfter(until - now));
            }
            state.sweep(now);
            if state.tats.len() >= self.max_keys {
                let earliest_idle = state.tats.values().min().copied().unwrap_or(now);
                let until = earliest_idle.max(now + FULL_RECHECK);
                state.full_until = Some(until);
                return Err(RetryAfter(until - now));
            }
        }
        state.full_until = None;
        let tat = self.rate.admit(now, now)?;
        state.tats.insert(key.to_owned(), tat);
        Ok(())
    }

    /// Whether `key` could make a call now, without taking one: for limits that count only
    /// some outcomes (failures), checked before the call and taken after it.
    pub fn peek<Q>(&self, key: &Q) -> Result<(), RetryAfter>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = Instant::now();
        match lock(&self.state).tats.get(key) {
            Some(tat) => self.rate.admit(*tat, now).map(drop),
            None => Ok(()),
        }
    }

    /// How many keys are tracked now (active ones, and idle ones not yet forgotten).
    pub fn len(&self) -> usize {
        lock(&self.state).tats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Hash + Eq> KeyedState<K> {
    fn sweep(&mut self, now: Instant) {
        self.tats.retain(|_, tat| *tat > now);
    }
}

/// `[failed_auth]` in the configuration: how many wrong credentials (bot tokens, session
/// tokens, login codes) are checked before the sender has to wait.
///
/// ```toml
/// [failed_auth]
/// per_address_burst = 30        # wrong credentials one address may send at once,
/// per_address_every_ms = 2000   # then one per this long
/// per_target_burst = 10         # for one target (a bot, a phone number), from all addresses,
/// per_target_every_ms = 6000    # then one per this long
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailedAuthLimits {
    pub per_address_burst: u32,
    pub per_address_every_ms: u64,
    pub per_target_burst: u32,
    pub per_target_every_ms: u64,
}

impl Default for FailedAuthLimits {
    fn default() -> FailedAuthLimits {
        // A person mistyping is never near these; a guesser gets one try every few seconds.
        FailedAuthLimits { per_address_burst: 30, per_address_every_ms: 2000, per_target_burst: 10, per_target_every_ms: 6000 }
    }
}

/// Wrong credentials, per client address and per target (the bot a token names, the phone
/// number a code is for). [`FailedAuth::admit`] comes before a credential is checked, and
/// [`FailedAuth::failed`] after a wrong one: so right credentials cost nothing, and past the
/// burst a guesser waits between tries whatever it sends, while other addresses are not
/// affected.
#[derive(Debug)]
pub struct FailedAuth {
    per_address: KeyedLimiter<std::net::IpAddr>,
    per_target: KeyedLimiter<String>,
}

impl FailedAuth {
    pub fn new(limits: &FailedAuthLimits) -> FailedAuth {
        let rate = |burst: u32, every_ms: u64| Rate { interval: Duration::from_millis(every_ms), burst: burst.max(1) };
        FailedAuth {
            per_address: KeyedLimiter::new(rate(limits.per_address_burst, limits.per_address_every_ms), 100_000),
            per_target: KeyedLimiter::new(rate(limits.per_target_burst, limits.per_target_every_ms), 100_000),
        }
    }

    /// Whether a credential from `addr` (for `target`) may be checked now.
    pub fn admit(&self, addr: std::net::IpAddr, target: Option<&str>) -> Result<(), RetryAfter> {
        self.per_address.peek(&addr)?;
        match target {
            Some(target) => self.per_target.peek(target),
            None => Ok(()),
        }
    }

    /// A credential from `addr` (for `target`) was wrong.
    pub fn failed(&self, addr: std::net::IpAddr, target: Option<&str>) {
        let _ = self.per_address.check(&addr);
        if let Some(target) = target {
            let _ = self.per_target.check(target);
        }
    }
}

/// How many connections the server takes, all together and per client address, and how many
/// file descriptors it keeps for everything else. Every connection holds a descriptor, so a
/// cap above what the open-file limit allows would let a flood of idle connections take the
/// descriptors the database, the files being served and the health check need: then
/// everyone's requests fail, not only the flood's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCaps {
    /// The process's open-file limit (soft, after raising it to the hard one).
    pub open_files: u64,
    /// Descriptors never given to connections on the public port.
    pub reserve: usize,
    /// Connections on the public port (TCP, and WebSockets among them), all clients together.
    pub total: usize,
    /// Connections from one client address (an IPv4 address, an IPv6 /64).
    pub per_address: usize,
}

impl ConnectionCaps {
    /// Descriptors kept for the database, files, logs and the metrics listener, at least.
    pub const MIN_RESERVE: usize = 128;
    /// The per-address cap derived from the total is at most this.
    pub const MAX_DERIVED_PER_ADDRESS: usize = 1000;

    /// The caps for an open-file limit of `open_files`; explicit values (from the
    /// configuration) win over derived ones. Derived: a reserve of a tenth of the limit (at
    /// least [`Self::MIN_RESERVE`]), the rest for connections, and a quarter of those per
    /// address (at most [`Self::MAX_DERIVED_PER_ADDRESS`]), so no single address can take the
    /// whole cap.
    pub fn derive(open_files: u64, total: Option<usize>, per_address: Option<usize>, reserve: Option<usize>) -> ConnectionCaps {
        let limit = usize::try_from(open_files).unwrap_or(usize::MAX);
        let reserve = reserve.unwrap_or_else(|| (limit / 10).max(Self::MIN_RESERVE));
        let total = total.unwrap_or_else(|| limit.saturating_sub(reserve)).max(1);
        let per_address = per_address.unwrap_or_else(|| (total / 4).clamp(1, Self::MAX_DERIVED_PER_ADDRESS));
        ConnectionCaps { open_files, reserve, total, per_address }
    }
}

/// The key connections are counted under: an IPv4 address, or the /64 network of an IPv6
/// address (one host usually has a whole /64, so counting /128s would not limit it). IPv4
/// addresses mapped into IPv6 count as IPv4.
fn address_key(addr: std::net::IpAddr) -> std::net::IpAddr {
    match addr {
        std::net::IpAddr::V4(v4) => std::net::IpAddr::V4(v4),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => std::net::IpAddr::V6(std::net::Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// Open connections per client address, each held as an [`AddressPermit`], at most `max` at
/// once per address (see [`address_key`]).
#[derive(Debug)]
pub struct ConnectionsPerAddress {
    max: usize,
    open: Mutex<HashMap<std::net::IpAddr, usize>>,
}

impl ConnectionsPerAddress {
    pub fn new(max: usize) -> ConnectionsPerAddress {
        ConnectionsPerAddress { max, open: Mutex::default() }
    }

    /// Connections one address may have open at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// One more connection from `addr`, unless it already has [`Self::max`] open.
    pub fn try_acquire(self: &std::sync::Arc<Self>, addr: std::net::IpAddr) -> Option<AddressPermit> {
        let addr = address_key(addr);
        let mut open = lock(&self.open);
        let count = open.entry(addr).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressPermit { counts: self.clone(), addr })
    }

    /// Connections open from `addr` now.
    pub fn open(&self, addr: std::net::IpAddr) -> usize {
        lock(&self.open).get(&address_key(addr)).copied().unwrap_or(0)
    }
}

/// One open connection from an address; dropping it frees the slot (and forgets the address
/// once it has none, so the map holds only addresses with open connections).
#[derive(Debug)]
pub struct AddressPermit {
    counts: std::sync::Arc<ConnectionsPerAddress>,
    addr: std::net::IpAddr,
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut open = lock(&self.counts.open);
        if let Some(count) = open.get_mut(&self.addr) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

/// The state is a map of timestamps, consistent after any panic, so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Runs `calls` (milliseconds after start) against one bucket and compares each outcome:
    /// `None` for accepted, `Some(ms)` for "retry after ms".
    fn check(rate: Rate, calls: &[(u64, Option<u64>)]) {
        let start = Instant::now();
        let mut bucket = Bucket::new(rate);
        for &(at, expect) in calls {
            let got = bucket.check_at(start + MS * at as u32).err().map(|r| r.0.as_millis() as u64);
            assert_eq!(got, expect, "{rate:?} call at {at} ms");
        }
    }

    #[test]
    fn bucket_table() {
        // A burst of 3, then one call every 500 ms.
        check(
            Rate::per_second(2).with_burst(3),
            &[(0, None), (0, None), (0, None), (0, Some(500)), (100, Some(400)), (500, None), (500, Some(500)), (3000, None)],
        );
        // 50 per second with bursts of 100: the session default.
        let burst: Vec<_> = (0..100).map(|_| (0, None)).chain([(0, Some(20)), (20, None), (20, Some(20))]).collect();
        check(Rate::per_second(50).with_burst(100), &burst);
        // 5 codes per hour: five at once, then one every 12 minutes.
        let hour: Vec<_> = (0..5).map(|_| (0, None)).chain([(0, Some(720_000)), (720_000, None), (720_001, Some(719_999))]).collect();
        check(Rate::per_hour(5), &hour);
        // A quiet spell refills the bucket, but never beyond the burst.
        check(Rate::per_second(1), &[(0, None), (10_000, None), (10_000, Some(1000))]);
        // A zero count is one.
        check(Rate::new(0, Duration::from_secs(1)), &[(0, None), (0, Some(1000))]);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        for (wait, secs) in
            [(Duration::ZERO, 1), (MS, 1), (Duration::from_secs(1), 1), (Duration::from_millis(1001), 2), (Duration::from_secs(720), 720)]
        {
            assert_eq!(RetryAfter(wait).secs(), secs, "{wait:?}");
        }
    }

    #[test]
    fn keys_are_limited_independently() {
        let limiter = KeyedLimiter::<String>::new(Rate::per_hour(2), 100);
        let now = Instant::now();
        assert!(limiter.check_at("+14155550100", now).is_ok());
        assert!(limiter.check_at("+14155550100", now).is_ok());
        assert_eq!(limiter.check_at("+14155550100", now).map_err(RetryAfter::secs), Err(1800));
        assert!(limiter.check_at("+14155550101", now).is_ok());
    }

    #[test]
    fn a_full_limiter_refuses_new_keys_until_one_goes_idle() {
        let limiter = KeyedLimiter::<u64>::new(Rate::per_second(1), 2);
        let start = Instant::now();
        assert!(limiter.check_at(&1, start).is_ok());
        assert!(limiter.check_at(&2, start).is_ok());
        // Both keys are active for one more second: a third waits, and is not tracked.
        assert_eq!(limiter.check_at(&3, start), Err(RetryAfter(Duration::from_secs(1))));
        assert_eq!(limiter.check_at(&3, start + MS * 400), Err(RetryAfter(MS * 600)));
        assert_eq!(limiter.len(), 2);
        // Known keys keep their own limits meanwhile.
        assert!(limiter.check_at(&1, start).is_err());
        // Once key 2 is idle, it is forgotten and key 3 takes its place.
        assert!(limiter.check_at(&1, start + MS * 1000).is_ok());
        assert!(limiter.check_at(&3, start + MS * 1000).is_ok());
        assert_eq!(limiter.len(), 2);
    }

    #[test]
    fn idle_keys_are_forgotten_periodically() {
        let limiter = KeyedLimiter::<i64>::new(Rate::per_second(50).with_burst(100), 1000);
        let start = Instant::now();
        for session in 0..10 {
            assert!(limiter.check_at(&session, start).is_ok());
        }
        assert_eq!(limiter.len(), 10);
        assert!(limiter.check_at(&99, start + SWEEP_EVERY).is_ok());
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn connections_per_address_are_capped_and_freed() {
        let counts = std::sync::Arc::new(ConnectionsPerAddress::new(2));
        let (a, b): (std::net::IpAddr, std::net::IpAddr) = ("192.0.2.1".parse().expect("ip"), "192.0.2.2".parse().expect("ip"));
        let first = counts.try_acquire(a);
        let second = counts.try_acquire(a);
        assert!(first.is_some() && second.is_some());
        assert!(counts.try_acquire(a).is_none(), "a third from the same address is refused");
        assert!(counts.try_acquire(b).is_some(), "other addresses are not affected");
        drop(first);
        assert_eq!(counts.open(a), 1);
        assert!(counts.try_acquire(a).is_some(), "a closed connection frees its slot");
        drop(second);
        assert_eq!(counts.open(b), 0, "addresses without connections are forgotten");
    }

    #[test]
    fn ipv6_is_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let counts = std::sync::Arc::new(ConnectionsPerAddress::new(1));
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("ip");
        let _held = counts.try_acquire(ip("2001:db8:1:2::1")).expect("first");
        assert!(counts.try_acquire(ip("2001:db8:1:2:ffff::9")).is_none(), "same /64");
        assert!(counts.try_acquire(ip("2001:db8:1:3::1")).is_some(), "another /64");
        let _v4 = counts.try_acquire(ip("192.0.2.7")).expect("v4");
        assert!(counts.try_acquire(ip("::ffff:192.0.2.7")).is_none(), "mapped IPv4 is the same address");
    }

    #[test]
    fn caps_follow_the_open_file_limit_unless_set() {
        // (open files, explicit total, per address, reserve) -> (reserve, total, per address)
        type Explicit = (u64, Option<usize>, Option<usize>, Option<usize>);
        let table: &[(Explicit, (usize, usize, usize))] = &[
            ((1024, None, None, None), (128, 896, 224)),
            ((20_000, None, None, None), (2000, 18_000, 1000)),
            ((1_048_576, None, None, None), (104_857, 943_719, 1000)),
            ((100, None, None, None), (128, 1, 1)),
            ((1024, Some(5000), None, None), (128, 5000, 1000)),
            ((1024, None, Some(10), Some(24)), (24, 1000, 10)),
        ];
        for &((open_files, total, per_address, reserve), expect) in table {
            let caps = ConnectionCaps::derive(open_files, total, per_address, reserve);
            assert_eq!((caps.reserve, caps.total, caps.per_address), expect, "{open_files} {total:?} {per_address:?} {reserve:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failed_credentials_are_throttled_per_address_and_per_target() {
        let failed = FailedAuth::new(&FailedAuthLimits::default());
        let (a, b): (std::net::IpAddr, std::net::IpAddr) = ("192.0.2.1".parse().expect("ip"), "192.0.2.2".parse().expect("ip"));
        // Admitting is free: only failures count.
        for _ in 0..100 {
            assert!(failed.admit(a, Some("bot1")).is_ok());
        }
        for _ in 0..30 {
            assert!(failed.admit(a, None).is_ok());
            failed.failed(a, None);
        }
        assert_eq!(failed.admit(a, None).map_err(RetryAfter::secs), Err(2), "the 31st try waits");
        assert!(failed.admit(b, None).is_ok(), "another address is not slowed");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(failed.admit(a, None).is_ok(), "one more try every 2 s");
        // A target guessed from many addresses is throttled for all of them.
        for n in 0..10u8 {
            let addr = std::net::IpAddr::from([198, 51, 100, n]);
            assert!(failed.admit(addr, Some("bot7")).is_ok());
            failed.failed(addr, Some("bot7"));
        }
        assert!(failed.admit(b, Some("bot7")).is_err());
        assert!(failed.admit(b, Some("bot8")).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn limits_follow_tokios_clock() {
        let limiter = KeyedLimiter::<i64>::new(Rate::per_second(1), 10);
        let mut bucket = Bucket::new(Rate::per_second(1));
        assert!(limiter.check(&7).is_ok() && bucket.check().is_ok());
        assert!(limiter.check(&7).is_err() && bucket.check().is_err());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(limiter.check(&7).is_ok() && bucket.check().is_ok());
    }
}
