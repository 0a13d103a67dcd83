//! `pts` bookkeeping: which updates to hand to the application, which to drop as duplicates,
//! and when to ask the server for a difference. Pure: no I/O, no clock, no channels.
//!
//! The connection task feeds `Sync` what arrives (live updates, difference answers, chats
//! seen in results) and carries out the actions it returns, in order: deliver an event
//! to the application, or fetch a difference for one log.
//!
//! The rule, per log (the user's own log, or one chat's own log):
//! - `pts <= local`: already seen, dropped;
//! - `pts == local + pts_count`: the next one, delivered and `local = pts`;
//! - anything else is a gap: the update is buffered and the log's difference is fetched from
//!   `local`. While a log's difference is being fetched, its live updates are buffered too, and
//!   replayed through the same rule once the difference is applied, so an update that is both
//!   in the difference and live comes out once.
//!
//! Architecture Invariant: at most one difference request per log is outstanding. A log enters
//! `fetching` together with exactly one `Action::Fetch`, leaves it only when that fetch is
//! answered (a `Slice` asks again while staying in it), and `Sync::stop` voids all of them
//! when the connection goes.

use std::collections::{BTreeMap, HashMap};

use heliograph_proto::{Chat, Difference, Update, UpdateKind};
use serde::{Deserialize, Serialize};

use crate::event::Event;

/// Where the application stands in each update log it follows: persist it (serde) and hand it
/// back in [`crate::Config::state`] to resume with no gap and no duplicate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// `pts` of the user's own log (private chats, small groups, the account).
    #[serde(default)]
    pub pts: i64,
    /// `pts` of each followed chat that keeps its own log (channels, large groups), by chat id.
    #[serde(default)]
    pub chats: BTreeMap<i64, i64>,
}

impl SyncState {
    /// A state that has seen nothing: the first catch-up fetches the whole user log.
    pub fn new() -> Self {
        SyncState::default()
    }

    /// The `pts` of `log` (`None` = the user's own log), or `None` for a chat not followed.
    pub fn pts_of(&self, log: Option<i64>) -> Option<i64> {
        match log {
            None => Some(self.pts),
            Some(chat_id) => self.chats.get(&chat_id).copied(),
        }
    }

    /// Records one change, as [`Sync`] decided it.
    pub(crate) fn apply(&mut self, change: &StateChange) {
        match *change {
            StateChange::Pts { log: None, pts } => self.pts = pts,
            StateChange::Pts { log: Some(chat_id), pts } => {
                self.chats.insert(chat_id, pts);
            }
            StateChange::Untrack { chat_id } => {
                self.chats.remove(&chat_id);
            }
        }
    }
}

/// One step of a [`SyncState`], carried with the event it belongs to so that the state the
/// application can persist never runs ahead of the events it has received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StateChange {
    /// `log` now stands at `pts` (for a chat not followed yet: start following it).
    Pts { log: Option<i64>, pts: i64 },
    /// Stop following a chat's log.
    Untrack { chat_id: i64 },
}

/// What goes to the application, in order: an event, a state change, or both.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Delivery {
    pub event: Option<Event>,
    pub change: Option<StateChange>,
}

/// What [`Sync`] asks its caller to do.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant, reason = "made and consumed at once, never stored in bulk")]
pub(crate) enum Action {
    /// Hand this to the application.
    Deliver(Delivery),
    /// Request the difference of this log from [`Sync::local`] (`updates.get_difference` for
    /// `None`, `updates.get_chat_difference` for a chat), and pass the answer to
    /// [`Sync::on_difference`].
    Fetch { log: Option<i64> },
}

/// How one update relates to the local `pts` of its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Already applied.
    Duplicate,
    /// The very next one.
    Next,
    /// Something is missing in between.
    Gap,
}

/// The `pts` rule of the protocol.
pub(crate) fn verdict(local: i64, pts: i64, pts_count: i64) -> Verdict {
    if pts <= local {
        Verdict::Duplicate
    } else if local.checked_add(pts_count) == Some(pts) {
        Verdict::Next
    } else {
        Verdict::Gap
    }
}

/// The sync state machine of one client, across connections.
#[derive(Debug)]
pub(crate) struct Sync {
    /// How far this machine has delivered (ahead of what the application has consumed while
    /// events wait in the channel).
    state: SyncState,
    /// Logs whose difference is being fetched.
    fetching: HashMap<Option<i64>, Fetch>,
    /// Signed in on a live connection with catch-up begun: only then are fetches issued.
    online: bool,
}

/// One log's difference being fetched.
#[derive(Debug, Default)]
struct Fetch {
    /// Live updates that arrived meanwhile, replayed through the `pts` rule once the
    /// difference is applied.
    buffer: Vec<Update>,
    /// A resync came while the request was out: the answer may predate what the server
    /// dropped, so fetch once more before replaying the buffer.
    again: bool,
}

impl Sync {
    pub fn new(state: SyncState) -> Self {
        Sync { state, fetching: HashMap::new(), online: false }
    }

    #[cfg(test)]
    pub fn state(&self) -> &SyncState {
        &self.state
    }

    /// The local `pts` of `log`, `None` for a chat not followed.
    pub fn local(&self, log: Option<i64>) -> Option<i64> {
        self.state.pts_of(log)
    }

    #[cfg(test)]
    pub fn is_fetching(&self, log: Option<i64>) -> bool {
        self.fetching.contains_key(&log)
    }

    /// Signed in on a fresh connection: catch up on the user log, then on every followed chat.
    pub fn start(&mut self) -> Vec<Action> {
        self.online = true;
        let mut logs = vec![None];
        logs.extend(self.state.chats.keys().map(|&chat_id| Some(chat_id)));
        logs.into_iter().filter_map(|log| self.begin_fetch(log)).collect()
    }

    /// The connection is gone: outstanding fetches will never be answered, and live updates
    /// buffered behind them will come again in the next catch-up.
    pub fn stop(&mut self) {
        self.online = false;
        self.fetching.clear();
    }

    /// The server dropped live updates for this connection: catch up on every log.
    pub fn resync(&mut self) -> Vec<Action> {
        if !self.online {
            return Vec::new();
        }
        for fetch in self.fetching.values_mut() {
            fetch.again = true;
        }
        self.start()
    }

    /// A live update.
    pub fn on_update(&mut self, update: Update) -> Vec<Action> {
        let log = update.log;
        if let Some(fetch) = self.fetching.get_mut(&log) {
            fetch.buffer.push(update);
            return Vec::new();
        }
        let local = match self.local(log) {
            Some(local) => local,
            // A chat log we did not know we follow (we never saw the chat with its `chat_pts`):
            // the server pushes it to us, so we do follow it, from here.
            None => update.pts.saturating_sub(update.pts_count),
        };
        match verdict(local, update.pts, update.pts_count) {
            Verdict::Duplicate => Vec::new(),
            Verdict::Next => self.deliver(log, update),
            Verdict::Gap => {
                let mut actions = Vec::new();
                if self.online {
                    actions.extend(self.begin_fetch(log));
                }
                // Not online (not expected: the server pushes only to signed-in connections)
                // the update is dropped; the next catch-up brings it.
                if let Some(fetch) = self.fetching.get_mut(&log) {
                    fetch.buffer.push(update);
                }
                actions
            }
        }
    }

    /// The answer to the [`Action::Fetch`] of `log`.
    pub fn on_difference(&mut self, log: Option<i64>, difference: Difference) -> Vec<Action> {
        if !self.fetching.contains_key(&log) {
            // Voided by `stop` or `untrack` after it was asked.
            return Vec::new();
        }
        let mut actions = Vec::new();
        match difference {
            Difference::Empty { pts } => {
                actions.extend(self.set_local(log, pts));
                actions.extend(self.end_fetch(log));
            }
            Difference::Complete { updates, pts } => {
                actions.extend(self.apply_difference(log, updates));
                actions.extend(self.set_local(log, pts));
                actions.extend(self.end_fetch(log));
            }
            Difference::Slice { updates, pts } => {
                actions.extend(self.apply_difference(log, updates));
                actions.extend(self.set_local(log, pts));
                // Still fetching: the same (single) fetch goes on from the new `pts`.
                actions.push(Action::Fetch { log });
            }
            Difference::TooLong { pts } => {
                self.state.apply(&StateChange::Pts { log, pts });
                actions
                    .push(Action::Deliver(Delivery { event: Some(Event::TooLong { log }), change: Some(StateChange::Pts { log, pts }) }));
                actions.extend(self.end_fetch(log));
            }
        }
        actions
    }

    /// A chat seen in a result (`chats.get`, `chats.dialogs`, `chats.join`, ...): follow its
    /// own log if it has one and we are a member, and catch up if it is ahead of us.
    pub fn observe_chat(&mut self, chat: &Chat) -> Vec<Action> {
        let Some(chat_pts) = chat.chat_pts else { return Vec::new() };
        let log = Some(chat.id);
        match self.local(log) {
            None if chat.role.is_some() => {
                let change = StateChange::Pts { log, pts: chat_pts };
                self.state.apply(&change);
                vec![Action::Deliver(Delivery { event: None, change: Some(change) })]
            }
            None => Vec::new(),
            Some(local) if chat_pts > local && self.online => self.begin_fetch(log).into_iter().collect(),
            Some(_) => Vec::new(),
        }
    }

    /// The application asks to follow a chat's log from `pts`. No-op if already followed.
    pub fn track(&mut self, chat_id: i64, pts: i64) -> Vec<Action> {
        let log = Some(chat_id);
        if self.local(log).is_some() {
            return Vec::new();
        }
        let change = StateChange::Pts { log, pts };
        self.state.apply(&change);
        let mut actions = vec![Action::Deliver(Delivery { event: None, change: Some(change) })];
        if self.online {
            actions.extend(self.begin_fetch(log));
        }
        actions
    }

    /// Stop following a chat's log (left it, lost access, or the application asked).
    pub fn untrack(&mut self, chat_id: i64) -> Vec<Action> {
        self.fetching.remove(&Some(chat_id));
        if self.state.chats.remove(&chat_id).is_none() {
            return Vec::new();
        }
        vec![Action::Deliver(Delivery { event: None, change: Some(StateChange::Untrack { chat_id }) })]
    }

    /// Marks `log` as fetching and asks for its difference, unless already fetching.
    fn begin_fetch(&mut self, log: Option<i64>) -> Option<Action> {
        if self.fetching.contains_key(&log) {
            return None;
        }
        self.fetching.insert(log, Fetch::default());
        Some(Action::Fetch { log })
    }

    /// The fetch of `log` is complete: replay the live updates buffered behind it.
    fn end_fetch(&mut self, log: Option<i64>) -> Vec<Action> {
        let Some(fetch) = self.fetching.remove(&log) else { return Vec::new() };
        if fetch.again {
            self.fetching.insert(log, Fetch { buffer: fetch.buffer, again: false });
            return vec![Action::Fetch { log }];
        }
        let mut buffered = fetch.buffer;
        buffered.sort_by_key(|update| update.pts);
        buffered.into_iter().flat_map(|update| self.on_update(update)).collect()
    }

    /// Updates from a difference of `log`: in order and authoritative, so only duplicates are
    /// dropped (the server's log has no holes to check for).
    fn apply_difference(&mut self, log: Option<i64>, updates: Vec<Update>) -> Vec<Action> {
        let mut actions = Vec::new();
        for update in updates {
            let local = self.local(log).unwrap_or(0);
            if update.pts > local {
                actions.extend(self.deliver(log, update));
            }
        }
        actions
    }

    /// Moves `log` to `pts` as the server says it stands (no event).
    fn set_local(&mut self, log: Option<i64>, pts: i64) -> Option<Action> {
        if self.local(log) == Some(pts) {
            return None;
        }
        let change = StateChange::Pts { log, pts };
        self.state.apply(&change);
        Some(Action::Deliver(Delivery { event: None, change: Some(change) }))
    }

    /// Applies one update of `log` and delivers it, then follows what it says about chats.
    fn deliver(&mut self, log: Option<i64>, update: Update) -> Vec<Action> {
        let change = StateChange::Pts { log, pts: update.pts };
        self.state.apply(&change);
        let chat = match &update.kind {
            UpdateKind::Chat { chat } => Some(chat.clone()),
            _ => None,
        };
        let mut actions = vec![Action::Deliver(Delivery { event: Some(Event::Update(update)), change: Some(change) })];
        match chat {
            // No role in our own log: we left, or were removed.
            Some(chat) if chat.role.is_none() && log.is_none() => actions.extend(self.untrack(chat.id)),
            // A chat's own log shows the chat to every member alike, without a role.
            Some(_) if log.is_some() => {}
            Some(chat) => {
                // A `Chat` in the log may be a snapshot from when it was written: when it makes
                // us follow a new chat, catch up on that chat rather than trust its `chat_pts`.
                let log = Some(chat.id);
                let followed = self.local(log).is_some();
                actions.extend(self.observe_chat(&chat));
                if !followed && self.local(log).is_some() && self.online {
                    actions.extend(self.begin_fetch(log));
                }
            }
            None => {}
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use heliograph_proto::{ChatKind, Role};

    use super::*;

    /// A plain update of `log` (`None` = user log) at `pts` covering `count` entries.
    fn up(log: Option<i64>, pts: i64, count: i64) -> Update {
        Update { log, pts, pts_count: count, date: 0, kind: UpdateKind::ReadInbox { chat_id: log.unwrap_or(1), max_id: pts } }
    }

    fn chat(id: i64, chat_pts: Option<i64>, role: Option<Role>) -> Chat {
        Chat {
            id,
            kind: ChatKind::Channel,
            title: "c".into(),
            username: None,
            peer: None,
            member_count: 1,
            role,
            pinned_message_id: None,
            chat_pts,
            top_message_id: 0,
        }
    }

    /// An `UpdateKind::Chat` at `pts` of `log` about `about`.
    fn chat_up(log: Option<i64>, pts: i64, about: Chat) -> Update {
        Update { log, pts, pts_count: 1, date: 0, kind: UpdateKind::Chat { chat: about } }
    }

    fn log_name(log: Option<i64>) -> String {
        match log {
            None => "u".into(),
            Some(id) => format!("c{id}"),
        }
    }

    /// Actions as short strings, so tables read like a transcript.
    fn render(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .map(|action| match action {
                Action::Fetch { log } => format!("fetch {}", log_name(*log)),
                Action::Deliver(Delivery { event: Some(Event::Update(u)), .. }) => {
                    format!("update {}:{}", log_name(u.log), u.pts)
                }
                Action::Deliver(Delivery { event: Some(Event::TooLong { log }), change: Some(StateChange::Pts { pts, .. }) }) => {
                    format!("too_long {}:{pts}", log_name(*log))
                }
                Action::Deliver(Delivery { event: None, change: Some(StateChange::Pts { log, pts }) }) => {
                    format!("at {}:{pts}", log_name(*log))
                }
                Action::Deliver(Delivery { event: None, change: Some(StateChange::Untrack { chat_id }) }) => {
                    format!("untrack c{chat_id}")
                }
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[allow(clippy::large_enum_variant, reason = "test input")]
    enum Step {
        Start,
        Stop,
        Resync,
        Live(Update),
        Diff(Option<i64>, Difference),
        Observe(Chat),
        Track(i64, i64),
        Untrack(i64),
    }
    use Step::*;

    fn complete(updates: Vec<Update>, pts: i64) -> Difference {
        Difference::Complete { updates, pts }
    }

    /// Runs `steps` from `initial`, checking each step's actions, then that the state rebuilt
    /// from the delivered changes (what the application would persist) equals the machine's.
    fn check(initial: SyncState, steps: Vec<(Step, &[&str])>) -> Sync {
        let mut sync = Sync::new(initial.clone());
        let mut consumed = initial;
        for (n, (step, expect)) in steps.into_iter().enumerate() {
            let actions = match step {
                Start => sync.start(),
                Stop => {
                    sync.stop();
                    Vec::new()
                }
                Resync => sync.resync(),
                Live(u) => sync.on_update(u),
                Diff(log, d) => sync.on_difference(log, d),
                Observe(c) => sync.observe_chat(&c),
                Track(id, pts) => sync.track(id, pts),
                Untrack(id) => sync.untrack(id),
            };
            for action in &actions {
                if let Action::Deliver(Delivery { change: Some(change), .. }) = action {
                    consumed.apply(change);
                }
            }
            assert_eq!(render(&actions), expect.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "step {n}");
        }
        assert_eq!(&consumed, sync.state(), "consumed state matches the machine");
        sync
    }

    fn state(pts: i64, chats: &[(i64, i64)]) -> SyncState {
        SyncState { pts, chats: chats.iter().copied().collect() }
    }

    #[test]
    fn verdict_table() {
        // (local, pts, pts_count, expected)
        let table = [
            (0, 1, 1, Verdict::Next),
            (5, 6, 1, Verdict::Next),
            (5, 8, 3, Verdict::Next),
            (5, 5, 1, Verdict::Duplicate),
            (5, 3, 1, Verdict::Duplicate),
            (5, 5, 0, Verdict::Duplicate),
            (5, 7, 1, Verdict::Gap),
            (5, 8, 2, Verdict::Gap),
            // Overlaps what we have: not contiguous, so it is a gap to resolve by difference.
            (5, 7, 3, Verdict::Gap),
            (i64::MAX - 1, i64::MAX, i64::MAX, Verdict::Gap),
        ];
        for (local, pts, count, expect) in table {
            assert_eq!(verdict(local, pts, count), expect, "local={local} pts={pts} count={count}");
        }
    }

    #[test]
    fn in_order_updates_apply_and_duplicates_drop() {
        check(
            state(10, &[]),
            vec![
                (Start, &["fetch u"]),
                (Diff(None, Difference::Empty { pts: 10 }), &[]),
                (Live(up(None, 11, 1)), &["update u:11"]),
                (Live(up(None, 11, 1)), &[]),
                (Live(up(None, 9, 1)), &[]),
                (Live(up(None, 13, 2)), &["update u:13"]),
            ],
        );
    }

    #[test]
    fn gap_fetches_once_and_buffers_until_the_difference() {
        let sync = check(
            state(10, &[]),
            vec![
                (Start, &["fetch u"]),
                (Diff(None, Difference::Empty { pts: 10 }), &[]),
                (Live(up(None, 12, 1)), &["fetch u"]),
                // More live updates while fetching: buffered, no second fetch.
                (Live(up(None, 13, 1)), &[]),
                (Live(up(None, 14, 1)), &[]),
                // The difference covers 11..=13; 14 comes from the buffer, 12 and 13 once.
                (
                    Diff(None, complete(vec![up(None, 11, 1), up(None, 12, 1), up(None, 13, 1)], 13)),
                    &["update u:11", "update u:12", "update u:13", "update u:14"],
                ),
            ],
        );
        assert!(!sync.is_fetching(None));
    }

    #[test]
    fn live_updates_during_catch_up_are_neither_lost_nor_duplicated() {
        check(
            state(0, &[]),
            vec![
                (Start, &["fetch u"]),
                (Live(up(None, 3, 1)), &[]),
                (Live(up(None, 4, 1)), &[]),
                (
                    Diff(None, complete(vec![up(None, 1, 1), up(None, 2, 1), up(None, 3, 1)], 3)),
                    &["update u:1", "update u:2", "update u:3", "update u:4"],
                ),
                (Live(up(None, 4, 1)), &[]),
                (Live(up(None, 5, 1)), &["update u:5"]),
            ],
        );
    }

    #[test]
    fn buffered_update_past_a_new_gap_fetches_again() {
        check(
            state(0, &[]),
            vec![
                (Start, &["fetch u"]),
                (Live(up(None, 7, 1)), &[]),
                (Diff(None, complete(vec![up(None, 1, 1)], 1)), &["update u:1", "fetch u"]),
                (Diff(None, complete(vec![up(None, 2, 5)], 6)), &["update u:2", "at u:6", "update u:7"]),
            ],
        );
    }

    #[test]
    fn slices_ask_again_from_the_returned_pts() {
        check(
            state(0, &[]),
            vec![
                (Start, &["fetch u"]),
                (Live(up(None, 5, 1)), &[]),
                (
                    Diff(None, Difference::Slice { updates: vec![up(None, 1, 1), up(None, 2, 1)], pts: 2 }),
                    &["update u:1", "update u:2", "fetch u"],
                ),
                (Diff(None, Difference::Slice { updates: vec![up(None, 3, 1)], pts: 3 }), &["update u:3", "fetch u"]),
                (Diff(None, complete(vec![up(None, 4, 1), up(None, 5, 1)], 5)), &["update u:4", "update u:5"]),
            ],
        );
    }

    #[test]
    fn difference_duplicates_are_dropped_and_empty_moves_pts() {
        check(
            state(5, &[]),
            vec![
                (Start, &["fetch u"]),
                (Diff(None, complete(vec![up(None, 4, 1), up(None, 5, 1), up(None, 6, 1)], 6)), &["update u:6"]),
                (Resync, &["fetch u"]),
                // Nothing new, but the log moved (e.g. entries this device does not see).
                (Diff(None, Difference::Empty { pts: 9 }), &["at u:9"]),
                (Live(up(None, 10, 1)), &["update u:10"]),
            ],
        );
    }

    #[test]
    fn resync_during_a_fetch_fetches_once_more() {
        check(
            state(0, &[]),
            vec![
                (Start, &["fetch u"]),
                (Live(up(None, 2, 1)), &[]),
                (Resync, &[]),
                (Diff(None, complete(vec![up(None, 1, 1)], 1)), &["update u:1", "fetch u"]),
                (Diff(None, complete(vec![up(None, 2, 1), up(None, 3, 1)], 3)), &["update u:2", "update u:3"]),
            ],
        );
    }

    #[test]
    fn too_long_jumps_and_tells_the_application() {
        check(
            state(5, &[]),
            vec![
                (Start, &["fetch u"]),
                (Live(up(None, 1001, 1)), &[]),
                (Live(up(None, 1002, 1)), &[]),
                (Diff(None, Difference::TooLong { pts: 1001 }), &["too_long u:1001", "update u:1002"]),
            ],
        );
    }

    #[test]
    fn chat_logs_are_independent_of_the_user_log() {
        check(
            state(10, &[(7, 100)]),
            vec![
                (Start, &["fetch u", "fetch c7"]),
                (Diff(Some(7), Difference::Empty { pts: 100 }), &[]),
                // The user log is still fetching; chat 7 is not.
                (Live(up(Some(7), 101, 1)), &["update c7:101"]),
                (Live(up(None, 11, 1)), &[]),
                (Live(up(Some(7), 103, 1)), &["fetch c7"]),
                (Diff(None, Difference::Empty { pts: 10 }), &["update u:11"]),
                (Diff(Some(7), complete(vec![up(Some(7), 102, 1), up(Some(7), 103, 1)], 103)), &["update c7:102", "update c7:103"]),
            ],
        );
    }

    #[test]
    fn chats_are_followed_when_seen() {
        let sync = check(
            state(0, &[]),
            vec![
                (Start, &["fetch u"]),
                (Diff(None, Difference::Empty { pts: 0 }), &[]),
                // A channel we are in (from chats.dialogs, chats.get, chats.join ...).
                (Observe(chat(7, Some(50), Some(Role::Member))), &["at c7:50"]),
                // A chat without its own log, and a public channel we only looked at.
                (Observe(chat(8, None, Some(Role::Member))), &[]),
                (Observe(chat(9, Some(5), None)), &[]),
                // Seen again, ahead of us: catch up.
                (Observe(chat(7, Some(52), Some(Role::Member))), &["fetch c7"]),
                (Observe(chat(7, Some(53), Some(Role::Member))), &[]),
                (Diff(Some(7), complete(vec![up(Some(7), 51, 1), up(Some(7), 52, 1)], 52)), &["update c7:51", "update c7:52"]),
                // Seen again, behind or equal: nothing.
                (Observe(chat(7, Some(40), Some(Role::Member))), &[]),
                // Joined through an update of the user log.
                (Live(chat_up(None, 1, chat(11, Some(3), Some(Role::Member)))), &["update u:1", "at c11:3", "fetch c11"]),
                (Live(up(Some(11), 4, 1)), &[]),
                (Diff(Some(11), Difference::Empty { pts: 3 }), &["update c11:4"]),
                // Removed: the Chat update without a role stops following it.
                // A title change in the chat's own log carries no role: still followed.
                (Live(chat_up(Some(11), 5, chat(11, Some(5), None))), &["update c11:5"]),
                (Live(chat_up(None, 2, chat(11, Some(5), None))), &["update u:2", "untrack c11"]),
            ],
        );
        assert_eq!(sync.state(), &state(2, &[(7, 52)]));
    }

    #[test]
    fn unknown_chat_log_is_adopted_from_its_first_update() {
        check(
            state(0, &[]),
            vec![(Start, &["fetch u"]), (Live(up(Some(5), 20, 1)), &["update c5:20"]), (Live(up(Some(5), 21, 1)), &["update c5:21"])],
        );
    }

    #[test]
    fn track_and_untrack() {
        check(
            state(0, &[]),
            vec![
                // Offline: recorded, fetched when catch-up starts.
                (Track(3, 10), &["at c3:10"]),
                (Track(3, 1), &[]),
                (Start, &["fetch u", "fetch c3"]),
                (Track(4, 0), &["at c4:0", "fetch c4"]),
                (Untrack(4), &["untrack c4"]),
                // The answer to a voided fetch is ignored.
                (Diff(Some(4), complete(vec![up(Some(4), 1, 1)], 1)), &[]),
                (Untrack(4), &[]),
            ],
        );
    }

    #[test]
    fn reconnect_voids_fetches_and_refetches_everything() {
        check(
            state(3, &[(7, 1)]),
            vec![
                (Start, &["fetch u", "fetch c7"]),
                (Live(up(None, 5, 1)), &[]),
                (Stop, &[]),
                (Diff(None, complete(vec![up(None, 4, 1)], 4)), &[]),
                (Start, &["fetch u", "fetch c7"]),
                (Diff(None, complete(vec![up(None, 4, 1), up(None, 5, 1)], 5)), &["update u:4", "update u:5"]),
                (Diff(Some(7), Difference::Empty { pts: 1 }), &[]),
                // A resync frame while nothing is fetching: both logs again.
                (Resync, &["fetch u", "fetch c7"]),
                // A resync while offline does nothing.
                (Stop, &[]),
                (Resync, &[]),
            ],
        );
    }

    #[test]
    fn chat_update_in_a_difference_follows_the_chat() {
        check(
            state(0, &[]),
            vec![
                (Start, &["fetch u"]),
                (
                    Diff(None, complete(vec![chat_up(None, 1, chat(9, Some(4), Some(Role::Admin))), up(None, 2, 1)], 2)),
                    &["update u:1", "at c9:4", "fetch c9", "update u:2"],
                ),
            ],
        );
    }

    #[test]
    fn sync_state_round_trips_through_json() {
        let s = state(42, &[(7, 3), (-100, 9)]);
        let json = serde_json::to_string(&s).expect("serializes");
        assert_eq!(serde_json::from_str::<SyncState>(&json).expect("parses"), s);
        assert_eq!(serde_json::from_str::<SyncState>("{}").expect("parses"), SyncState::new());
    }
}
