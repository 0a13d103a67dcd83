//! The TUI's state ([`Model`]) and its one pure transition, [`Model::update`]: every
//! [`Input`] (a key, an SDK event, the answer to a request) changes the state and returns the
//! [`Effect`]s for the runner to carry out. No I/O and no clock here: the caller passes `now`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use heliograph_client::proto::{
    CallbackAnswer, Chat, Dialog, InlineButton, Message, MessageReactions, ReactionType, SearchResult, SearchResults, UpdateKind, User,
};
use heliograph_client::Event;

/// Messages asked for per history request.
pub const PAGE: u32 = 100;
/// Back at the newest message, a chat keeps at most this many loaded; older pages are dropped
/// and fetched again when scrolled to.
pub const KEEP: usize = 300;
/// An older page is requested when the selection comes this close to the oldest loaded message.
const PREFETCH: usize = 40;
/// How long "X is typing…" stays after a typing event.
pub const TYPING_SHOWN: Duration = Duration::from_secs(5);
/// At most one `messages.typing` per chat in this interval while typing.
pub const TYPING_EVERY: Duration = Duration::from_secs(4);
/// PageUp / PageDown step, in messages.
const SCROLL_STEP: usize = 10;
/// Search results asked for per request; the next page loads when the selection reaches the end.
pub const SEARCH_PAGE: u32 = 20;

/// Where keys go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The dialog list: Up/Down choose a chat.
    Dialogs,
    /// The open chat: keys type into the input line; Up/Down select messages.
    Chat,
    /// The search prompt (Ctrl-F): keys type the query, Up/Down choose a result, Enter opens it.
    Search,
}

/// The search prompt and its results (`messages.search`).
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// The chat searched, or every chat.
    pub chat: Option<i64>,
    pub query: String,
    /// The query the results answer; `None` before the first Enter.
    pub asked: Option<String>,
    pub results: Vec<SearchResult>,
    /// Chat titles of the results, as the server sent them.
    pub titles: HashMap<i64, String>,
    pub next_offset: Option<u32>,
    pub selected: usize,
    pub loading: bool,
    /// Where Esc goes back to.
    pub back: Focus,
}

/// What Enter does with the input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compose {
    New,
    Reply(i64),
    Edit(i64),
}

/// Choosing among the buttons under a bot's message (Ctrl-B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Picking {
    pub chat_id: i64,
    pub message_id: i64,
    /// The chosen button, counted row by row from 0.
    pub index: usize,
}

/// The buttons under `m`, row by row, left to right.
pub fn buttons(m: &Message) -> Vec<&InlineButton> {
    m.reply_markup.iter().flat_map(|k| k.buttons()).collect()
}

/// One row of the dialog list.
#[derive(Debug, Clone, PartialEq)]
pub struct DialogRow {
    pub chat: Chat,
    pub unread: u64,
    /// The newest message, as far as this client knows.
    pub last: Option<Message>,
    /// The others have read your messages up to this id.
    pub read_outbox: i64,
}

/// The loaded part of one chat's history: a contiguous window, ending at the newest message
/// unless a search result opened it further back (`more_newer`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct History {
    /// Oldest first. Only a window is kept (see [`KEEP`]); the server has the rest.
    pub messages: Vec<Message>,
    /// The server has messages older than `messages[0]`.
    pub more_older: bool,
    /// The server has messages newer than the last loaded one: the window was opened at a
    /// search result, live messages wait for the newer pages.
    pub more_newer: bool,
    /// A page request is in flight (never two at once for one chat).
    pub loading: bool,
    /// The newest page has arrived.
    pub loaded: bool,
    /// The selected message counted from the newest (0 = newest); `None` = following the
    /// newest, nothing selected. Counting from the newest keeps the selection on the same
    /// message when older pages are prepended.
    pub cursor: Option<usize>,
}

impl History {
    /// The loaded message `id`.
    pub fn message(&self, id: i64) -> Option<&Message> {
        self.messages.binary_search_by_key(&id, |m| m.id).ok().map(|i| &self.messages[i])
    }

    fn message_mut(&mut self, id: i64) -> Option<&mut Message> {
        self.messages.binary_search_by_key(&id, |m| m.id).ok().map(|i| &mut self.messages[i])
    }

    /// The selected message.
    pub fn selected(&self) -> Option<&Message> {
        let c = self.cursor?;
        self.messages.len().checked_sub(c + 1).map(|i| &self.messages[i])
    }

    /// Inserts or replaces `m` in id order. Returns false when it is older than the loaded
    /// window (the server will give it with that page).
    fn upsert(&mut self, m: Message) -> bool {
        match self.messages.binary_search_by_key(&m.id, |x| x.id) {
            Ok(i) => {
                // An edit carries no reactions: they change by their own updates.
                let reactions = self.messages[i].reactions.take();
                self.messages[i] = Message { reactions: m.reactions.or(reactions), ..m };
                true
            }
            Err(0) if self.more_older && !self.messages.is_empty() => false,
            Err(i) if i == self.messages.len() && self.more_newer => false,
            Err(i) => {
                let selected = self.cursor.map(|c| self.messages.len() - 1 - c);
                self.messages.insert(i, m);
                if let (Some(c), Some(s)) = (self.cursor.as_mut(), selected) {
                    if i > s {
                        *c += 1;
                    }
                }
                true
            }
        }
    }

    fn remove(&mut self, ids: &[i64]) {
        let selected = self.selected().map(|m| m.id);
        self.messages.retain(|m| !ids.contains(&m.id));
        self.cursor = match selected {
            _ if self.messages.is_empty() => None,
            Some(id) => Some(match self.messages.binary_search_by_key(&id, |x| x.id) {
                Ok(i) | Err(i) => self.messages.len().saturating_sub(i + 1),
            }),
            None => None,
        };
    }

    /// Back at the newest message: forget all but the newest [`KEEP`].
    fn trim(&mut self) {
        if self.cursor.is_none() && !self.more_newer && self.messages.len() > KEEP {
            self.messages.drain(..self.messages.len() - KEEP);
            self.more_older = true;
        }
    }
}

/// Something that happened, for [`Model::update`].
#[derive(Debug, Clone)]
pub enum Input {
    Key(KeyEvent),
    /// From the SDK's update stream.
    Event(Event),
    /// The whole dialog list (answer to [`Effect::LoadDialogs`]).
    Dialogs(Vec<Dialog>),
    /// A page of history, oldest to newest (answer to [`Effect::LoadHistory`]).
    History {
        chat_id: i64,
        before: Option<i64>,
        messages: Vec<Message>,
    },
    /// A page of history newer than `after`, oldest to newest (answer to [`Effect::LoadNewer`]).
    Newer {
        chat_id: i64,
        after: i64,
        messages: Vec<Message>,
    },
    /// The messages around `id`, oldest to newest (answer to [`Effect::LoadAround`]):
    /// `older` ends with `id` (if it still exists), `newer` follows it.
    Around {
        chat_id: i64,
        id: i64,
        older: Vec<Message>,
        newer: Vec<Message>,
    },
    /// A page of search results (answer to [`Effect::Search`]).
    Found {
        chat: Option<i64>,
        query: String,
        offset: u32,
        results: SearchResults,
    },
    Users(Vec<User>),
    /// A chat's fresh details (answer to [`Effect::LoadChat`]).
    Chat(Chat),
    /// The server stored our message.
    Sent(Message),
    Edited(Message),
    /// The bot's answer to a press (answer to [`Effect::Press`]).
    Pressed {
        answer: CallbackAnswer,
    },
    /// The server took our report (answer to [`Effect::Report`]).
    Reported {
        report_id: i64,
    },
    /// A request failed; `chat_id` names the chat whose history request failed.
    Failed {
        chat_id: Option<i64>,
        error: String,
    },
    /// A send failed: its text goes back into an empty input line.
    SendFailed {
        text: String,
        error: String,
    },
    /// Once a second: expires typing indicators.
    Tick,
}

/// What the runner must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    LoadDialogs,
    /// A page older than `before`, or the newest page without it.
    LoadHistory {
        chat_id: i64,
        before: Option<i64>,
    },
    /// A page newer than `after` (a window opened at a search result, scrolled forward).
    LoadNewer {
        chat_id: i64,
        after: i64,
    },
    /// The messages around `id`, to open the chat at it.
    LoadAround {
        chat_id: i64,
        id: i64,
    },
    /// `messages.search` for `query` in `chat` (or everywhere), from `offset`.
    Search {
        chat: Option<i64>,
        query: String,
        offset: u32,
    },
    LoadUsers(Vec<i64>),
    LoadChat(i64),
    Send {
        chat_id: i64,
        text: String,
        reply_to: Option<i64>,
    },
    Edit {
        chat_id: i64,
        id: i64,
        text: String,
    },
    Delete {
        chat_id: i64,
        id: i64,
    },
    Read {
        chat_id: i64,
        max_id: i64,
    },
    Typing {
        chat_id: i64,
    },
    /// Set your reactions on a message to exactly `reactions`.
    React {
        chat_id: i64,
        id: i64,
        reactions: Vec<ReactionType>,
    },
    /// Press the callback button carrying `data` (`messages.press_button`); the answer comes
    /// back as [`Input::Pressed`].
    Press {
        chat_id: i64,
        message_id: i64,
        data: String,
    },
    /// Report a message to the server's operators as spam (`messages.report`, account #16).
    Report {
        chat_id: i64,
        id: i64,
    },
}

/// Everything the screen shows.
#[derive(Debug, Clone)]
pub struct Model {
    pub me: i64,
    /// Most recent activity first.
    pub dialogs: Vec<DialogRow>,
    /// The chosen dialog's chat id.
    pub open: Option<i64>,
    pub focus: Focus,
    pub histories: HashMap<i64, History>,
    pub names: HashMap<i64, String>,
    /// Names asked for already (so a busy group does not ask again per message).
    asked: HashSet<i64>,
    pub input: String,
    pub compose: Compose,
    /// The search prompt, while open.
    pub search: Option<Search>,
    /// Choosing a button (Ctrl-B): keys move among the buttons, Enter presses.
    pub picking: Option<Picking>,
    /// Choosing a key of the chat's reply keyboard (Ctrl-K): (chat, key counted row by row).
    pub keying: Option<(i64, usize)>,
    /// (chat, user) → until when "typing…" shows.
    pub typing: HashMap<(i64, i64), Instant>,
    /// When we last told the server we type, and in which chat.
    typing_sent: Option<(i64, Instant)>,
    pub help: bool,
    /// One line for connection state and errors.
    pub status: String,
    pub dialogs_loaded: bool,
    /// Set when the SDK's sync state moved: the runner saves it to the profile.
    pub state_dirty: bool,
    pub quit: bool,
    /// Why the TUI stopped, when it was not the user's choice (signed out).
    pub exit_error: Option<String>,
}

impl Model {
    pub fn new(me: i64) -> Model {
        Model {
            me,
            dialogs: Vec::new(),
            open: None,
            focus: Focus::Dialogs,
            histories: HashMap::new(),
            names: HashMap::new(),
            asked: HashSet::from([me]),
            input: String::new(),
            compose: Compose::New,
            search: None,
            picking: None,
            keying: None,
            typing: HashMap::new(),
            typing_sent: None,
            help: false,
            status: "connecting…".into(),
            dialogs_loaded: false,
            state_dirty: false,
            quit: false,
            exit_error: None,
        }
    }

    /// Index of the open dialog in the list.
    pub fn selected(&self) -> Option<usize> {
        let open = self.open?;
        self.dialogs.iter().position(|d| d.chat.id == open)
    }

    pub fn open_row(&self) -> Option<&DialogRow> {
        self.selected().map(|i| &self.dialogs[i])
    }

    pub fn open_history(&self) -> Option<&History> {
        self.histories.get(&self.open?)
    }

    pub fn name(&self, user: i64) -> String {
        if user == self.me {
            return "you".into();
        }
        self.names.get(&user).cloned().unwrap_or_else(|| format!("user {user}"))
    }

    /// "Bob is typing…" for `chat`, or nothing.
    pub fn typing_line(&self, chat: i64, now: Instant) -> Option<String> {
        let mut who: Vec<String> =
            self.typing.iter().filter(|((c, _), until)| *c == chat && **until > now).map(|((_, u), _)| self.name(*u)).collect();
        who.sort();
        match who.as_slice() {
            [] => None,
            [one] => Some(format!("{one} is typing…")),
            [first @ .., last] => Some(format!("{} and {last} are typing…", first.join(", "))),
        }
    }

    /// The one transition.
    pub fn update(&mut self, input: Input, now: Instant) -> Vec<Effect> {
        match input {
            Input::Key(key) => self.key(key, now),
            Input::Event(event) => self.event(event, now),
            Input::Dialogs(dialogs) => self.dialogs(dialogs),
            Input::History { chat_id, before, messages } => self.history(chat_id, before, messages),
            Input::Newer { chat_id, after, messages } => self.newer(chat_id, after, messages),
            Input::Around { chat_id, id, older, newer } => self.around(chat_id, id, older, newer),
            Input::Found { chat, query, offset, results } => {
                self.found(chat, query, offset, results);
                Vec::new()
            }
            Input::Users(users) => {
                self.names.extend(users.into_iter().map(|u| (u.id, if u.bot { format!("{} (bot)", u.name) } else { u.name })));
                Vec::new()
            }
            Input::Chat(chat) => {
                if let Some(row) = self.dialogs.iter_mut().find(|d| d.chat.id == chat.id) {
                    row.chat = chat;
                }
                Vec::new()
            }
            Input::Sent(m) => self.message(m),
            Input::Edited(m) => {
                self.edited(m);
                Vec::new()
            }
            Input::Pressed { answer } => {
                let text = answer.text.filter(|t| !t.is_empty());
                self.status = match (text, answer.url) {
                    (Some(t), _) if answer.alert => format!("⚠ {t}"),
                    (Some(t), None) => t,
                    (Some(t), Some(url)) => format!("{t} ({url})"),
                    (None, Some(url)) => format!("the bot points to {url}"),
                    (None, None) => "(no answer)".into(),
                };
                Vec::new()
            }
            Input::Reported { report_id } => {
                self.status = format!("reported to this server's operators (report {report_id})");
                Vec::new()
            }
            Input::Failed { chat_id, error } => {
                if let Some(h) = chat_id.and_then(|c| self.histories.get_mut(&c)) {
                    h.loading = false;
                }
                if let Some(s) = self.search.as_mut() {
                    s.loading = false;
                }
                self.status = error;
                Vec::new()
            }
            Input::SendFailed { text, error } => {
                if self.input.is_empty() {
                    self.input = text;
                }
                self.status = format!("not sent: {error}");
                Vec::new()
            }
            Input::Tick => {
                self.typing.retain(|_, until| *until > now);
                Vec::new()
            }
        }
    }

    fn key(&mut self, key: KeyEvent, now: Instant) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if key.modifiers.contains(KeyModifiers::ALT) {
            // Alt-combinations are unbound; they are also what a terminal's escape sequence
            // split across reads looks like, which must not end up as text.
            return Vec::new();
        }
        match key.code {
            KeyCode::Char('c') if ctrl => {
                self.quit = true;
                return Vec::new();
            }
            KeyCode::F(1) => {
                self.help = !self.help;
                return Vec::new();
            }
            _ if self.help => {
                // Any key closes the help.
                self.help = false;
                return Vec::new();
            }
            KeyCode::Char('f') if ctrl && self.focus != Focus::Search => {
                let chat = if self.focus == Focus::Chat { self.open } else { None };
                self.search = Some(Search {
                    chat,
                    query: String::new(),
                    asked: None,
                    results: Vec::new(),
                    titles: HashMap::new(),
                    next_offset: None,
                    selected: 0,
                    loading: false,
                    back: self.focus,
                });
                self.focus = Focus::Search;
                return Vec::new();
            }
            _ if self.focus == Focus::Search => return self.search_key(key, ctrl),
            KeyCode::Char('n') if ctrl => return self.move_dialog(1),
            KeyCode::Char('p') if ctrl => return self.move_dialog(-1),
            KeyCode::Tab | KeyCode::BackTab => {
                return match self.focus {
                    Focus::Dialogs => self.enter_chat(),
                    Focus::Chat => {
                        self.focus = Focus::Dialogs;
                        Vec::new()
                    }
                    // Taken by the prompt above.
                    Focus::Search => Vec::new(),
                };
            }
            _ => {}
        }
        match self.focus {
            Focus::Dialogs => match key.code {
                KeyCode::Up | KeyCode::Char('k') => self.move_dialog(-1),
                KeyCode::Down | KeyCode::Char('j') => self.move_dialog(1),
                KeyCode::Home => self.move_dialog(isize::MIN / 2),
                KeyCode::End => self.move_dialog(isize::MAX / 2),
                KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => self.enter_chat(),
                KeyCode::Esc | KeyCode::Char('q') => {
                    self.quit = true;
                    Vec::new()
                }
                KeyCode::Char('?') => {
                    self.help = true;
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Focus::Chat => self.chat_key(key, ctrl, now),
            Focus::Search => self.search_key(key, ctrl),
        }
    }

    /// A key in the search prompt: typing edits the query, Enter asks for it (or, once its
    /// results are in, opens the chosen one), Up/Down choose, Ctrl-F switches between this
    /// chat and all chats, Esc closes.
    fn search_key(&mut self, key: KeyEvent, ctrl: bool) -> Vec<Effect> {
        let open = self.open;
        if key.code == KeyCode::Esc {
            let back = self.search.take().map_or(Focus::Dialogs, |s| s.back);
            self.focus = if back == Focus::Chat && open.is_some() { Focus::Chat } else { Focus::Dialogs };
            return Vec::new();
        }
        let Some(s) = self.search.as_mut() else {
            self.focus = Focus::Dialogs;
            return Vec::new();
        };
        match key.code {
            KeyCode::Char('f') if ctrl => {
                s.chat = match s.chat {
                    Some(_) => None,
                    None => open,
                };
                s.asked = None;
                self.ask_search(0)
            }
            KeyCode::Char(c) if !ctrl => {
                s.query.push(c);
                Vec::new()
            }
            KeyCode::Backspace => {
                s.query.pop();
                Vec::new()
            }
            KeyCode::Up => {
                s.selected = s.selected.saturating_sub(1);
                Vec::new()
            }
            KeyCode::Down => {
                s.selected = (s.selected + 1).min(s.results.len().saturating_sub(1));
                match s.next_offset {
                    Some(offset) if s.selected + 1 >= s.results.len() && !s.loading => self.ask_search(offset),
                    _ => Vec::new(),
                }
            }
            KeyCode::Enter if s.asked.as_deref() == Some(s.query.trim()) && !s.loading => match s.results.get(s.selected) {
                Some(hit) => {
                    let (chat_id, id) = (hit.message.chat_id, hit.message.id);
                    self.open_at(chat_id, id)
                }
                None => Vec::new(),
            },
            KeyCode::Enter => self.ask_search(0),
            _ => Vec::new(),
        }
    }

    /// Asks for the search prompt's query from `offset` (0: a new search).
    fn ask_search(&mut self, offset: u32) -> Vec<Effect> {
        let Some(s) = self.search.as_mut() else { return Vec::new() };
        let query = s.query.trim().to_owned();
        if query.is_empty() {
            return Vec::new();
        }
        if offset == 0 {
            s.results.clear();
            s.selected = 0;
            s.next_offset = None;
        }
        s.asked = Some(query.clone());
        s.loading = true;
        vec![Effect::Search { chat: s.chat, query, offset }]
    }

    /// A page of results for the prompt; one for a query or scope no longer shown is dropped.
    fn found(&mut self, chat: Option<i64>, query: String, offset: u32, page: SearchResults) {
        for u in page.users {
            self.names.entry(u.id).or_insert(if u.bot { format!("{} (bot)", u.name) } else { u.name });
        }
        let Some(s) = self.search.as_mut() else { return };
        if s.chat != chat || s.asked.as_deref() != Some(query.as_str()) || offset as usize != s.results.len() {
            return;
        }
        s.loading = false;
        s.titles.extend(page.chats.into_iter().map(|c| (c.id, c.title)));
        s.results.extend(page.results);
        s.next_offset = page.next_offset;
    }

    /// Opens `chat_id` with message `id` selected: from what is loaded, or by loading the
    /// messages around it.
    fn open_at(&mut self, chat_id: i64, id: i64) -> Vec<Effect> {
        self.search = None;
        if !self.dialogs.iter().any(|d| d.chat.id == chat_id) {
            self.focus = Focus::Dialogs;
            self.status = "that chat is not in your list any more".into();
            return self.reload_dialogs();
        }
        self.open = Some(chat_id);
        self.focus = Focus::Chat;
        self.picking = None;
        self.keying = None;
        self.compose = Compose::New;
        self.typing_sent = None;
        let h = self.histories.entry(chat_id).or_default();
        if let Ok(i) = h.messages.binary_search_by_key(&id, |m| m.id) {
            if h.loaded {
                h.cursor = Some(h.messages.len() - 1 - i);
                return Vec::new();
            }
        }
        *h = History { loading: true, ..History::default() };
        vec![Effect::LoadAround { chat_id, id }]
    }

    fn chat_key(&mut self, key: KeyEvent, ctrl: bool, now: Instant) -> Vec<Effect> {
        let Some(chat_id) = self.open else {
            self.focus = Focus::Dialogs;
            return Vec::new();
        };
        if let Some(p) = self.picking.filter(|p| p.chat_id == chat_id) {
            return self.pick_key(key, ctrl, p);
        }
        self.picking = None;
        if let Some((_, index)) = self.keying.filter(|(c, _)| *c == chat_id) {
            return self.key_key(key, ctrl, chat_id, index);
        }
        self.keying = None;
        match key.code {
            KeyCode::Char('k') if ctrl => {
                match self.reply_keys(chat_id) {
                    Some(_) => self.keying = Some((chat_id, 0)),
                    None => self.status = "no reply keyboard here (bots send them)".into(),
                }
                Vec::new()
            }
            KeyCode::Char('b') if ctrl => {
                self.start_picking(chat_id);
                Vec::new()
            }
            KeyCode::Esc => {
                if self.compose != Compose::New {
                    if matches!(self.compose, Compose::Edit(_)) {
                        self.input.clear();
                    }
                    self.compose = Compose::New;
                } else if self.histories.get(&chat_id).is_some_and(|h| h.cursor.is_some()) {
                    self.scroll(chat_id, isize::MIN / 2);
                } else {
                    self.focus = Focus::Dialogs;
                }
                Vec::new()
            }
            KeyCode::Enter => self.submit(chat_id),
            KeyCode::Backspace => {
                self.input.pop();
                Vec::new()
            }
            KeyCode::Up => self.scroll(chat_id, 1),
            KeyCode::Down => self.scroll(chat_id, -1),
            KeyCode::PageUp => self.scroll(chat_id, SCROLL_STEP as isize),
            KeyCode::PageDown => self.scroll(chat_id, -(SCROLL_STEP as isize)),
            KeyCode::End => self.scroll(chat_id, isize::MIN / 2),
            KeyCode::Char('r') if ctrl => {
                match self.selected_message(chat_id) {
                    Some(m) => self.compose = Compose::Reply(m.id),
                    None => self.status = "select a message first (Up)".into(),
                }
                Vec::new()
            }
            KeyCode::Char('e') if ctrl => {
                match self.selected_message(chat_id).cloned() {
                    Some(m) if m.from == self.me => {
                        self.compose = Compose::Edit(m.id);
                        self.input = m.content.text().unwrap_or("").to_owned();
                    }
                    Some(_) => self.status = "you can edit only your own messages".into(),
                    None => self.status = "select a message first (Up)".into(),
                }
                Vec::new()
            }
            KeyCode::Char('t') if ctrl => match self.selected_message(chat_id) {
                Some(m) => vec![toggle_reaction(m, THUMBS_UP)],
                None => {
                    self.status = "select a message first (Up)".into();
                    Vec::new()
                }
            },
            KeyCode::Char('d') if ctrl => match self.selected_message(chat_id) {
                Some(m) if m.from == self.me => vec![Effect::Delete { chat_id, id: m.id }],
                Some(_) => {
                    self.status = "you can delete only your own messages".into();
                    Vec::new()
                }
                None => {
                    self.status = "select a message first (Up)".into();
                    Vec::new()
                }
            },
            KeyCode::Char('x') if ctrl => match self.selected_message(chat_id).map(|m| (m.id, m.from)) {
                Some((id, from)) if from != self.me => {
                    self.status = "reporting…".into();
                    vec![Effect::Report { chat_id, id }]
                }
                Some(_) => {
                    self.status = "you cannot report your own message".into();
                    Vec::new()
                }
                None => {
                    self.status = "select a message first (Up)".into();
                    Vec::new()
                }
            },
            KeyCode::Char(c) if !ctrl => {
                self.input.push(c);
                let due = match self.typing_sent {
                    Some((chat, at)) => chat != chat_id || now.duration_since(at) >= TYPING_EVERY,
                    None => true,
                };
                if due && !matches!(self.compose, Compose::Edit(_)) {
                    self.typing_sent = Some((chat_id, now));
                    vec![Effect::Typing { chat_id }]
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }

    /// Ctrl-B: the buttons of the selected message, or else of the newest message that has
    /// some; that message becomes the selected one, so it is on screen.
    fn start_picking(&mut self, chat_id: i64) {
        let Some(h) = self.histories.get_mut(&chat_id) else { return };
        let selected = h.cursor.and_then(|c| h.messages.len().checked_sub(c + 1)).filter(|&i| !buttons(&h.messages[i]).is_empty());
        let Some(at) = selected.or_else(|| h.messages.iter().rposition(|m| !buttons(m).is_empty())) else {
            self.status = "no message with buttons here (bots add them)".into();
            return;
        };
        h.cursor = Some(h.messages.len() - 1 - at);
        self.picking = Some(Picking { chat_id, message_id: h.messages[at].id, index: 0 });
    }

    /// The reply keyboard up in `chat_id` for this person ([`heliograph_client::keyboard`]).
    pub fn reply_keys(&self, chat_id: i64) -> Option<&Message> {
        heliograph_client::keyboard::reply_keyboard(&self.histories.get(&chat_id)?.messages, self.me)
    }

    /// The keys of [`Model::reply_keys`], row by row.
    fn keys(&self, chat_id: i64) -> Vec<String> {
        let Some(m) = self.reply_keys(chat_id) else { return Vec::new() };
        m.reply_markup.iter().flat_map(|k| k.keyboard.iter().flatten()).map(|b| b.text.clone()).collect()
    }

    /// A key while choosing on the reply keyboard: arrows move, digits and Enter send the
    /// key's text as this person's message, Esc cancels.
    fn key_key(&mut self, key: KeyEvent, ctrl: bool, chat_id: i64, index: usize) -> Vec<Effect> {
        let keys = self.keys(chat_id);
        if keys.is_empty() {
            self.keying = None;
            self.status = "the keyboard is gone".into();
            return Vec::new();
        }
        let index = index.min(keys.len() - 1);
        let mut send = None;
        match key.code {
            KeyCode::Esc => self.keying = None,
            KeyCode::Char('k') if ctrl => self.keying = None,
            KeyCode::Left | KeyCode::Up | KeyCode::BackTab => self.keying = Some((chat_id, index.saturating_sub(1))),
            KeyCode::Right | KeyCode::Down | KeyCode::Tab => self.keying = Some((chat_id, (index + 1).min(keys.len() - 1))),
            KeyCode::Enter => send = Some(index),
            KeyCode::Char(c @ '1'..='9') if !ctrl => {
                let n = c as usize - '1' as usize;
                if n < keys.len() {
                    send = Some(n);
                } else {
                    self.status = format!("there are only {} keys", keys.len());
                }
            }
            _ => {}
        }
        let Some(n) = send else { return Vec::new() };
        self.keying = None;
        self.scroll(chat_id, isize::MIN / 2);
        vec![Effect::Send { chat_id, text: keys[n].clone(), reply_to: None }]
    }

    /// The newest message when it is a bot's reply request meant for this person: what a
    /// new message answers (Telegram opens the reply by itself).
    fn reply_requested(&self, chat_id: i64) -> Option<i64> {
        let h = self.histories.get(&chat_id)?;
        let m = h.messages.last()?;
        let markup = m.reply_markup.as_ref().filter(|k| k.force_reply)?;
        let mentioned: Vec<i64> = m.entities.iter().filter_map(|e| e.user_id).collect();
        let replied = m.reply_to.and_then(|id| h.message(id)).map(|r| r.from);
        markup.is_for(self.me, &mentioned, replied).then_some(m.id)
    }

    /// A key while choosing a button: arrows move, digits and Enter press, Esc cancels.
    fn pick_key(&mut self, key: KeyEvent, ctrl: bool, p: Picking) -> Vec<Effect> {
        let count = self.histories.get(&p.chat_id).and_then(|h| h.message(p.message_id)).map_or(0, |m| buttons(m).len());
        if count == 0 {
            self.picking = None;
            self.status = "the buttons are gone".into();
            return Vec::new();
        }
        let index = p.index.min(count - 1);
        let moved = |to: usize| Some(Picking { index: to, ..p });
        match key.code {
            KeyCode::Esc => self.picking = None,
            KeyCode::Char('b') if ctrl => self.picking = None,
            KeyCode::Left | KeyCode::Up | KeyCode::BackTab => self.picking = moved(index.saturating_sub(1)),
            KeyCode::Right | KeyCode::Down | KeyCode::Tab => self.picking = moved((index + 1).min(count - 1)),
            KeyCode::Home => self.picking = moved(0),
            KeyCode::End => self.picking = moved(count - 1),
            KeyCode::Enter => return self.press(p.chat_id, p.message_id, index),
            KeyCode::Char(c @ '1'..='9') if !ctrl => {
                let n = c as usize - '1' as usize;
                if n < count {
                    return self.press(p.chat_id, p.message_id, n);
                }
                self.status = format!("there are only {count} buttons");
            }
            _ => {}
        }
        Vec::new()
    }

    fn press(&mut self, chat_id: i64, message_id: i64, index: usize) -> Vec<Effect> {
        self.picking = None;
        let Some(m) = self.histories.get(&chat_id).and_then(|h| h.message(message_id)) else {
            return Vec::new();
        };
        let Some(b) = buttons(m).get(index).copied() else { return Vec::new() };
        match (&b.callback_data, &b.url) {
            (Some(data), _) => {
                self.status = format!("[{}] pressed; waiting for {}…", b.text, self.name(m.from));
                vec![Effect::Press { chat_id, message_id, data: data.clone() }]
            }
            (None, Some(url)) => {
                self.status = format!("[{}] opens {url}", b.text);
                Vec::new()
            }
            (None, None) => Vec::new(),
        }
    }

    fn selected_message(&self, chat_id: i64) -> Option<&Message> {
        self.histories.get(&chat_id)?.selected()
    }

    fn submit(&mut self, chat_id: i64) -> Vec<Effect> {
        if self.input.trim().is_empty() {
            return Vec::new();
        }
        let text = std::mem::take(&mut self.input);
        let effect = match self.compose {
            Compose::New => Effect::Send { chat_id, text, reply_to: self.reply_requested(chat_id) },
            Compose::Reply(id) => Effect::Send { chat_id, text, reply_to: Some(id) },
            Compose::Edit(id) => Effect::Edit { chat_id, id, text },
        };
        if !matches!(self.compose, Compose::Edit(_)) {
            // Back to the newest, where the sent message will show.
            self.scroll(chat_id, isize::MIN / 2);
        }
        self.compose = Compose::New;
        self.typing_sent = None;
        vec![effect]
    }

    /// Moves the selection `delta` messages older (negative: newer); past the newest it
    /// deselects and follows the newest again.
    fn scroll(&mut self, chat_id: i64, delta: isize) -> Vec<Effect> {
        let Some(h) = self.histories.get_mut(&chat_id) else {
            return Vec::new();
        };
        let len = h.messages.len();
        if len == 0 {
            return Vec::new();
        }
        // Position 0 = following the newest, 1 = the newest selected, ...
        let pos = h.cursor.map_or(0, |c| c + 1) as isize;
        let wanted = pos.saturating_add(delta);
        if wanted <= 0 && h.more_newer && delta == isize::MIN / 2 {
            // Back to the newest from a window opened further back: start again from there.
            *h = History { loading: true, ..History::default() };
            return vec![Effect::LoadHistory { chat_id, before: None }];
        }
        // In a window short of the newest, the last loaded message stays selected.
        let lowest = if h.more_newer { 1 } else { 0 };
        let pos = wanted.clamp(lowest, len as isize) as usize;
        h.cursor = pos.checked_sub(1);
        h.trim();
        match h.cursor {
            Some(c) if c + PREFETCH >= h.messages.len() && h.more_older && !h.loading => {
                h.loading = true;
                vec![Effect::LoadHistory { chat_id, before: h.messages.first().map(|m| m.id) }]
            }
            Some(c) if c < PREFETCH && h.more_newer && !h.loading => {
                h.loading = true;
                vec![Effect::LoadNewer { chat_id, after: h.messages.last().map_or(0, |m| m.id) }]
            }
            _ => Vec::new(),
        }
    }

    fn move_dialog(&mut self, delta: isize) -> Vec<Effect> {
        if self.dialogs.is_empty() {
            return Vec::new();
        }
        let at = self.selected().unwrap_or(0) as isize;
        let to = at.saturating_add(delta).clamp(0, self.dialogs.len() as isize - 1) as usize;
        self.choose(to)
    }

    /// Opens dialog `index`: loads its history the first time.
    fn choose(&mut self, index: usize) -> Vec<Effect> {
        let chat_id = self.dialogs[index].chat.id;
        if self.open != Some(chat_id) {
            self.open = Some(chat_id);
            self.picking = None;
            self.compose = Compose::New;
            self.typing_sent = None;
        }
        let mut effects = Vec::new();
        let h = self.histories.entry(chat_id).or_default();
        if !h.loaded && !h.loading {
            h.loading = true;
            effects.push(Effect::LoadHistory { chat_id, before: None });
        }
        if self.focus == Focus::Chat {
            effects.extend(self.mark_read(index));
        }
        effects
    }

    fn enter_chat(&mut self) -> Vec<Effect> {
        let Some(index) = self.selected() else {
            return Vec::new();
        };
        self.focus = Focus::Chat;
        self.choose(index)
    }

    fn mark_read(&mut self, index: usize) -> Vec<Effect> {
        let row = &mut self.dialogs[index];
        match &row.last {
            Some(last) if row.unread > 0 => {
                row.unread = 0;
                vec![Effect::Read { chat_id: row.chat.id, max_id: last.id }]
            }
            _ => Vec::new(),
        }
    }

    fn dialogs(&mut self, dialogs: Vec<Dialog>) -> Vec<Effect> {
        self.dialogs_loaded = true;
        self.dialogs = dialogs
            .into_iter()
            .map(|d| {
                if let Some(peer) = &d.chat.peer {
                    let name = if peer.bot { format!("{} (bot)", peer.name) } else { peer.name.clone() };
                    self.names.insert(peer.id, name);
                }
                DialogRow { unread: d.unread_count, last: d.last_message, read_outbox: d.read_outbox_max_id, chat: d.chat }
            })
            .collect();
        let mut effects = self.ask_names(self.dialogs.iter().filter_map(|d| d.last.as_ref().map(|m| m.from)).collect());
        match self.selected() {
            Some(i) if self.focus == Focus::Chat => effects.extend(self.mark_read(i)),
            Some(_) => {}
            None if self.dialogs.is_empty() => {
                self.open = None;
                self.focus = Focus::Dialogs;
            }
            None => {
                self.focus = Focus::Dialogs;
                effects.extend(self.choose(0));
            }
        }
        effects
    }

    fn history(&mut self, chat_id: i64, before: Option<i64>, page: Vec<Message>) -> Vec<Effect> {
        let h = self.histories.entry(chat_id).or_default();
        h.loading = false;
        let full = page.len() >= PAGE as usize;
        let authors: Vec<i64> = page.iter().map(|m| m.from).collect();
        match before {
            None => {
                // Live messages that arrived while the page was on its way stay.
                let newest = page.last().map_or(0, |m| m.id);
                let live: Vec<Message> = h.messages.drain(..).filter(|m| m.id > newest).collect();
                h.messages = page;
                h.messages.extend(live);
                h.more_older = full;
                h.more_newer = false;
                h.loaded = true;
                h.cursor = None;
            }
            Some(_) => {
                let oldest = h.messages.first().map_or(i64::MAX, |m| m.id);
                let mut older: Vec<Message> = page.into_iter().filter(|m| m.id < oldest).collect();
                older.append(&mut h.messages);
                h.messages = older;
                h.more_older = full;
            }
        }
        self.ask_names(authors)
    }

    /// A newer page for a window opened further back; the selection stays on its message.
    fn newer(&mut self, chat_id: i64, after: i64, page: Vec<Message>) -> Vec<Effect> {
        let Some(h) = self.histories.get_mut(&chat_id) else { return Vec::new() };
        h.loading = false;
        if h.messages.last().map(|m| m.id) != Some(after) {
            // The window moved meanwhile (back to the newest): this page is stale.
            return Vec::new();
        }
        h.more_newer = page.len() >= PAGE as usize;
        let authors: Vec<i64> = page.iter().map(|m| m.from).collect();
        let added = page.len();
        h.messages.extend(page.into_iter().filter(|m| m.id > after));
        if let Some(c) = h.cursor.as_mut() {
            *c += added;
        }
        self.ask_names(authors)
    }

    /// The window around a search result: the result is selected.
    fn around(&mut self, chat_id: i64, id: i64, older: Vec<Message>, newer: Vec<Message>) -> Vec<Effect> {
        let h = self.histories.entry(chat_id).or_default();
        let half = (PAGE / 2) as usize;
        h.more_older = older.len() >= half;
        h.more_newer = newer.len() >= half;
        h.loading = false;
        h.loaded = true;
        h.messages = older;
        h.messages.extend(newer);
        let authors: Vec<i64> = h.messages.iter().map(|m| m.from).collect();
        let len = h.messages.len();
        // Deleted since it was found: the message after it is selected instead.
        let at = h.messages.binary_search_by_key(&id, |m| m.id).map_err(|i| i.min(len.saturating_sub(1)));
        h.cursor = (len > 0).then(|| len - 1 - at.unwrap_or_else(|i| i));
        if at.is_err() {
            self.status = "that message is gone".into();
        }
        self.ask_names(authors)
    }

    fn ask_names(&mut self, mut ids: Vec<i64>) -> Vec<Effect> {
        ids.retain(|id| !self.names.contains_key(id) && self.asked.insert(*id));
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            Vec::new()
        } else {
            vec![Effect::LoadUsers(ids)]
        }
    }

    fn event(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        match event {
            Event::Update(u) => {
                self.state_dirty = true;
                match u.kind {
                    // Secret chats are read with `helio secret read` (the TUI does not decrypt yet).
                    UpdateKind::SecretMessage { .. } => Vec::new(),
                    UpdateKind::NewMessage { message } => self.message(message),
                    UpdateKind::EditMessage { message } => {
                        self.edited(message);
                        Vec::new()
                    }
                    UpdateKind::DeleteMessages { chat_id, ids } => {
                        if let Some(h) = self.histories.get_mut(&chat_id) {
                            h.remove(&ids);
                        }
                        let newest = self.histories.get(&chat_id).and_then(|h| h.messages.last().cloned());
                        if let Some(row) = self.dialogs.iter_mut().find(|d| d.chat.id == chat_id) {
                            if row.last.as_ref().is_some_and(|l| ids.contains(&l.id)) {
                                row.last = newest;
                            }
                        }
                        Vec::new()
                    }
                    UpdateKind::ReadInbox { chat_id, max_id } => {
                        if let Some(row) = self.dialogs.iter_mut().find(|d| d.chat.id == chat_id) {
                            if row.last.as_ref().is_none_or(|l| l.id <= max_id) {
                                row.unread = 0;
                            } else if let Some(h) = self.histories.get(&chat_id) {
                                if h.messages.first().is_some_and(|m| m.id <= max_id + 1) {
                                    row.unread = h.messages.iter().filter(|m| m.id > max_id && m.from != self.me).count() as u64;
                                }
                            }
                        }
                        Vec::new()
                    }
                    UpdateKind::ReadOutbox { chat_id, max_id } => {
                        if let Some(row) = self.dialogs.iter_mut().find(|d| d.chat.id == chat_id) {
                            row.read_outbox = row.read_outbox.max(max_id);
                        }
                        Vec::new()
                    }
                    UpdateKind::PinnedMessage { chat_id, id } => {
                        if let Some(row) = self.dialogs.iter_mut().find(|d| d.chat.id == chat_id) {
                            row.chat.pinned_message_id = id;
                        }
                        Vec::new()
                    }
                    UpdateKind::Participant { chat_id, user_id, role, .. } => {
                        let known = self.dialogs.iter().any(|d| d.chat.id == chat_id);
                        if user_id == self.me && role.is_none() {
                            self.forget(chat_id);
                            Vec::new()
                        } else if !known {
                            self.reload_dialogs()
                        } else {
                            vec![Effect::LoadChat(chat_id)]
                        }
                    }
                    UpdateKind::MessageReactions { chat_id, id, reactions } => {
                        let from_chat_log = u.log.is_some();
                        if let Some(m) = self.histories.get_mut(&chat_id).and_then(|h| h.message_mut(id)) {
                            m.reactions = merge_reactions(m.reactions.take(), reactions, from_chat_log);
                        }
                        Vec::new()
                    }
                    // The TUI keeps its own input line; drafts are the web client's and `helio draft`'s.
                    UpdateKind::Draft { .. } => Vec::new(),
                    UpdateKind::Chat { chat } => {
                        match self.dialogs.iter_mut().find(|d| d.chat.id == chat.id) {
                            Some(row) => {
                                let role = row.chat.role;
                                row.chat = chat;
                                // An update from a chat's own log carries no role.
                                row.chat.role = row.chat.role.or(role);
                                Vec::new()
                            }
                            None if chat.role.is_some() => self.reload_dialogs(),
                            None => Vec::new(),
                        }
                    }
                }
            }
            Event::Typing { chat_id, user_id } => {
                if user_id == self.me {
                    return Vec::new();
                }
                self.typing.insert((chat_id, user_id), now + TYPING_SHOWN);
                self.ask_names(vec![user_id])
            }
            Event::TooLong { .. } => {
                // Something was skipped: reload everything shown.
                self.histories.clear();
                let mut effects = self.reload_dialogs();
                if let Some(i) = self.selected() {
                    effects.extend(self.choose(i));
                }
                effects
            }
            Event::Connected => {
                self.status = "connected".into();
                Vec::new()
            }
            Event::Disconnected => {
                self.status = "disconnected; reconnecting…".into();
                Vec::new()
            }
            Event::SignedOut { error } => {
                self.exit_error = Some(format!("{}: {}: log in again with `helio login PHONE`", error.code.as_str(), error.message));
                self.quit = true;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn reload_dialogs(&self) -> Vec<Effect> {
        if self.dialogs_loaded {
            vec![Effect::LoadDialogs]
        } else {
            // The first load is on its way and will include it.
            Vec::new()
        }
    }

    fn forget(&mut self, chat_id: i64) {
        self.dialogs.retain(|d| d.chat.id != chat_id);
        self.histories.remove(&chat_id);
        if self.open == Some(chat_id) {
            self.open = self.dialogs.first().map(|d| d.chat.id);
            self.focus = Focus::Dialogs;
        }
    }

    /// A new message (live, or our own just sent).
    fn message(&mut self, m: Message) -> Vec<Effect> {
        self.typing.remove(&(m.chat_id, m.from));
        let chat_id = m.chat_id;
        let mut effects = self.ask_names(vec![m.from]);
        if let Some(h) = self.histories.get_mut(&chat_id) {
            h.upsert(m.clone());
        }
        let Some(i) = self.dialogs.iter().position(|d| d.chat.id == chat_id) else {
            effects.extend(self.reload_dialogs());
            return effects;
        };
        let row = &mut self.dialogs[i];
        // Already counted when the dialog list was loaded after it (catch-up) or seen before.
        if row.last.as_ref().is_some_and(|l| l.id >= m.id) {
            return effects;
        }
        let viewing = self.open == Some(chat_id) && self.focus == Focus::Chat;
        if m.from != self.me {
            if viewing {
                effects.push(Effect::Read { chat_id, max_id: m.id });
            } else {
                row.unread += 1;
            }
        }
        row.chat.top_message_id = m.id;
        row.last = Some(m);
        let row = self.dialogs.remove(i);
        self.dialogs.insert(0, row);
        effects
    }

    fn edited(&mut self, m: Message) {
        if let Some(row) = self.dialogs.iter_mut().find(|d| d.chat.id == m.chat_id) {
            if row.last.as_ref().is_some_and(|l| l.id == m.id) {
                row.last = Some(m.clone());
            }
        }
        if let Some(h) = self.histories.get_mut(&m.chat_id) {
            if let Ok(i) = h.messages.binary_search_by_key(&m.id, |x| x.id) {
                // An edit carries no reactions: they change by their own updates.
                let reactions = h.messages[i].reactions.take();
                h.messages[i] = Message { reactions: m.reactions.or(reactions), ..m };
            }
        }
    }
}

/// The reaction Ctrl-T toggles on the selected message.
pub const THUMBS_UP: &str = "👍";

/// Sets or takes away `emoji` among your reactions on `m`, keeping your others.
pub fn toggle_reaction(m: &Message, emoji: &str) -> Effect {
    let wanted = ReactionType::Emoji { emoji: emoji.to_owned() };
    let mut mine: Vec<ReactionType> =
        m.reactions.iter().flat_map(|r| r.results.iter()).filter(|c| c.chosen).map(|c| c.reaction.clone()).collect();
    match mine.iter().position(|r| *r == wanted) {
        Some(i) => {
            mine.remove(i);
        }
        None => mine.push(wanted),
    }
    Effect::React { chat_id: m.chat_id, id: m.id, reactions: mine }
}

/// The reactions after an update. One from a chat's own log has no viewer, so which ones are
/// yours is kept from before.
pub fn merge_reactions(old: Option<MessageReactions>, mut new: MessageReactions, from_chat_log: bool) -> Option<MessageReactions> {
    if from_chat_log {
        let mine: Vec<ReactionType> = old.iter().flat_map(|r| r.results.iter()).filter(|c| c.chosen).map(|c| c.reaction.clone()).collect();
        for c in &mut new.results {
            c.chosen = mine.contains(&c.reaction);
        }
    }
    (!new.results.is_empty()).then_some(new)
}
