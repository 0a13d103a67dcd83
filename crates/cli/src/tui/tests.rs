//! The TUI's logic without a terminal: `update` on plain inputs, `view` into a `TestBackend`.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use heliograph_client::proto::{
    CallbackAnswer, Chat, ChatKind, Content, Dialog, InlineButton, Message, ReplyMarkup, Role, SearchResult, SearchResults, Update,
    UpdateKind,
};
use heliograph_client::Event;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::model::{Compose, Effect, Focus, Input, Model, KEEP, PAGE, TYPING_EVERY};
use super::view;

const ME: i64 = 1;
const BOB: i64 = 2;

fn msg(chat: i64, id: i64, from: i64, text: &str) -> Message {
    Message {
        id,
        chat_id: chat,
        from,
        date: 1_764_466_752 + id,
        content: Content::Text { text: text.into() },
        entities: Vec::new(),
        reply_markup: None,
        reply_to: None,
        forward: None,
        edit_date: None,
        reactions: None,
    }
}

fn chat(id: i64, title: &str) -> Chat {
    Chat {
        id,
        kind: ChatKind::Private,
        title: title.into(),
        username: None,
        peer: None,
        member_count: 2,
        role: Some(Role::Member),
        pinned_message_id: None,
        chat_pts: None,
        top_message_id: 0,
    }
}

fn dialog(id: i64, title: &str, unread: u64, last: Option<Message>) -> Dialog {
    Dialog { chat: chat(id, title), last_message: last, unread_count: unread, read_inbox_max_id: 0, read_outbox_max_id: 0, draft: None }
}

fn key(code: KeyCode) -> Input {
    Input::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Input {
    Input::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn update(kind: UpdateKind) -> Input {
    Input::Event(Event::Update(Update { log: None, pts: 1, pts_count: 1, date: 0, kind }))
}

/// A model with chats 10 ("Bob", 2 unread) and 20 ("Carol"), chat 10 open with `n` messages
/// (odd ids Bob's, even ids mine).
fn model_with(n: i64) -> (Model, Instant) {
    let now = Instant::now();
    let mut m = Model::new(ME);
    let last = (n > 0).then(|| msg(10, n, BOB, "last"));
    let fx = m.update(Input::Dialogs(vec![dialog(10, "Bob", 2, last), dialog(20, "Carol", 0, Some(msg(20, 1, 3, "hi")))]), now);
    assert!(fx.contains(&Effect::LoadHistory { chat_id: 10, before: None }));
    let first = (n - i64::from(PAGE) + 1).max(1);
    let page = (first..=n).map(|id| msg(10, id, if id % 2 == 1 { BOB } else { ME }, &format!("message {id}"))).collect();
    m.update(Input::History { chat_id: 10, before: None, messages: page }, now);
    (m, now)
}

fn run(m: &mut Model, inputs: impl IntoIterator<Item = Input>, now: Instant) -> Vec<Effect> {
    inputs.into_iter().flat_map(|i| m.update(i, now)).collect()
}

#[test]
fn keys_move_between_chats_and_focus() {
    // (keys, open chat, focus, quit)
    let cases: Vec<(Vec<Input>, i64, Focus, bool)> = vec![
        (vec![], 10, Focus::Dialogs, false),
        (vec![key(KeyCode::Down)], 20, Focus::Dialogs, false),
        (vec![key(KeyCode::Down), key(KeyCode::Down)], 20, Focus::Dialogs, false),
        (vec![key(KeyCode::Down), key(KeyCode::Up)], 10, Focus::Dialogs, false),
        (vec![key(KeyCode::Char('j'))], 20, Focus::Dialogs, false),
        (vec![key(KeyCode::Enter)], 10, Focus::Chat, false),
        (vec![key(KeyCode::Tab)], 10, Focus::Chat, false),
        (vec![key(KeyCode::Tab), key(KeyCode::Tab)], 10, Focus::Dialogs, false),
        (vec![key(KeyCode::Enter), ctrl('n')], 20, Focus::Chat, false),
        (vec![key(KeyCode::Enter), ctrl('n'), ctrl('p')], 10, Focus::Chat, false),
        (vec![key(KeyCode::Enter), key(KeyCode::Esc)], 10, Focus::Dialogs, false),
        (vec![key(KeyCode::Esc)], 10, Focus::Dialogs, true),
        (vec![key(KeyCode::Char('q'))], 10, Focus::Dialogs, true),
        (vec![key(KeyCode::Enter), ctrl('c')], 10, Focus::Chat, true),
        // In the chat, q is text, not quit.
        (vec![key(KeyCode::Enter), key(KeyCode::Char('q'))], 10, Focus::Chat, false),
        // Help swallows the next key.
        (vec![key(KeyCode::F(1)), key(KeyCode::Esc)], 10, Focus::Dialogs, false),
        (vec![key(KeyCode::Char('?')), key(KeyCode::Char('q'))], 10, Focus::Dialogs, false),
    ];
    for (i, (keys, open, focus, quit)) in cases.into_iter().enumerate() {
        let (mut m, now) = model_with(5);
        run(&mut m, keys, now);
        assert_eq!((m.open, m.focus, m.quit), (Some(open), focus, quit), "case {i}");
        assert!(!m.help, "case {i}: help stays closed");
    }
}

#[test]
fn opening_a_chat_marks_it_read_and_loads_its_history_once() {
    let (mut m, now) = model_with(5);
    let fx = m.update(key(KeyCode::Enter), now);
    assert_eq!(fx, [Effect::Read { chat_id: 10, max_id: 5 }]);
    assert_eq!(m.dialogs[0].unread, 0);
    let fx = m.update(ctrl('n'), now);
    assert_eq!(fx, [Effect::LoadHistory { chat_id: 20, before: None }]);
    let fx = run(&mut m, [ctrl('p'), ctrl('n')], now);
    assert!(fx.is_empty(), "{fx:?}: chat 20 is already loading");
}

#[test]
fn new_messages_count_as_unread_unless_the_chat_is_in_view() {
    // (focus the chat first?, chat of the new message, from, expected unread of 10/20, read effect)
    let cases = [
        (false, 10, BOB, (3, 0), false),
        (true, 10, BOB, (0, 0), true),
        (true, 20, 3, (0, 1), false),
        (true, 10, ME, (0, 0), false),
        (false, 10, ME, (2, 0), false),
    ];
    for (i, (focus, chat_id, from, (u10, u20), read)) in cases.into_iter().enumerate() {
        let (mut m, now) = model_with(5);
        if focus {
            m.update(key(KeyCode::Enter), now);
        }
        let fx = m.update(update(UpdateKind::NewMessage { message: msg(chat_id, 6, from, "new") }), now);
        let unread = |id| m.dialogs.iter().find(|d| d.chat.id == id).map(|d| d.unread);
        assert_eq!((unread(10), unread(20)), (Some(u10), Some(u20)), "case {i}");
        assert_eq!(fx.contains(&Effect::Read { chat_id, max_id: 6 }), read, "case {i}: {fx:?}");
        assert_eq!(m.dialogs[0].chat.id, chat_id, "case {i}: most recent first");
        assert!(m.state_dirty);
    }
}

#[test]
fn a_replayed_message_is_not_counted_twice() {
    let (mut m, now) = model_with(5);
    // Catch-up delivers #5 again, which the dialog list already counted.
    m.update(update(UpdateKind::NewMessage { message: msg(10, 5, BOB, "last") }), now);
    assert_eq!(m.dialogs[0].unread, 2);
    assert_eq!(m.open_history().map(|h| h.messages.len()), Some(5));
}

#[test]
fn live_edit_delete_and_read_marks() {
    let (mut m, now) = model_with(5);
    let mut edited = msg(10, 4, BOB, "changed");
    edited.edit_date = Some(1);
    m.update(update(UpdateKind::EditMessage { message: edited }), now);
    m.update(update(UpdateKind::DeleteMessages { chat_id: 10, ids: vec![5] }), now);
    m.update(update(UpdateKind::ReadOutbox { chat_id: 10, max_id: 3 }), now);
    m.update(update(UpdateKind::ReadInbox { chat_id: 10, max_id: 4 }), now);
    let h = m.open_history().expect("history");
    let texts: Vec<_> = h.messages.iter().filter_map(|m| m.content.text()).collect();
    assert_eq!(texts, ["message 1", "message 2", "message 3", "changed"]);
    let row = &m.dialogs[0];
    assert_eq!((row.read_outbox, row.unread), (3, 0));
    assert_eq!(row.last.as_ref().map(|l| l.id), Some(4));
}

#[test]
fn a_message_in_an_unknown_chat_reloads_the_dialogs() {
    let (mut m, now) = model_with(5);
    let fx = m.update(update(UpdateKind::NewMessage { message: msg(30, 1, 4, "hello") }), now);
    assert!(fx.contains(&Effect::LoadDialogs), "{fx:?}");
    assert!(fx.contains(&Effect::LoadUsers(vec![4])), "{fx:?}");
}

#[test]
fn send_reply_edit_and_delete() {
    let (mut m, now) = model_with(5);
    let type_text = |text: &str| text.chars().map(|c| key(KeyCode::Char(c))).collect::<Vec<_>>();
    m.update(key(KeyCode::Enter), now);
    run(&mut m, type_text("hi"), now);
    let fx = m.update(key(KeyCode::Enter), now);
    assert_eq!(fx, [Effect::Send { chat_id: 10, text: "hi".into(), reply_to: None }]);
    assert_eq!(m.input, "");

    // Up selects the newest (#5, Bob's); Ctrl-R replies to it.
    run(&mut m, [key(KeyCode::Up), ctrl('r')], now);
    assert_eq!(m.compose, Compose::Reply(5));
    run(&mut m, type_text("yes"), now);
    let fx = m.update(key(KeyCode::Enter), now);
    assert_eq!(fx, [Effect::Send { chat_id: 10, text: "yes".into(), reply_to: Some(5) }]);
    assert_eq!(m.compose, Compose::New);

    // Bob's message (#5) can be neither edited nor deleted; mine (#4) can.
    run(&mut m, [key(KeyCode::Up), ctrl('e')], now);
    assert_eq!(m.compose, Compose::New);
    assert!(m.status.contains("only your own"), "{}", m.status);
    assert_eq!(m.update(ctrl('d'), now), []);
    // Bob's message can be reported (account, #16); mine (below) cannot.
    assert_eq!(m.update(ctrl('x'), now), [Effect::Report { chat_id: 10, id: 5 }]);
    m.update(Input::Reported { report_id: 7 }, now);
    assert!(m.status.contains("report 7"), "{}", m.status);
    run(&mut m, [key(KeyCode::Up), ctrl('e')], now);
    assert_eq!((m.compose, m.input.as_str()), (Compose::Edit(4), "message 4"));
    run(&mut m, [key(KeyCode::Backspace), key(KeyCode::Char('!'))], now);
    let fx = m.update(key(KeyCode::Enter), now);
    assert_eq!(fx, [Effect::Edit { chat_id: 10, id: 4, text: "message !".into() }]);
    let fx = m.update(ctrl('d'), now);
    assert_eq!(fx, [Effect::Delete { chat_id: 10, id: 4 }]);
    assert_eq!(m.update(ctrl('x'), now), [], "one's own message is not reported");
    assert!(m.status.contains("your own"), "{}", m.status);

    // Esc cancels a reply, then leaves the selection, then goes back to the list.
    run(&mut m, [ctrl('r')], now);
    run(&mut m, [key(KeyCode::Esc)], now);
    assert_eq!(m.compose, Compose::New);
    run(&mut m, [key(KeyCode::Esc)], now);
    assert_eq!(m.open_history().and_then(|h| h.cursor), None);
    run(&mut m, [key(KeyCode::Esc)], now);
    assert_eq!(m.focus, Focus::Dialogs);

    // A failed send puts the text back.
    m.update(Input::SendFailed { text: "lost?".into(), error: "DISCONNECTED".into() }, now);
    assert_eq!(m.input, "lost?");
}

#[test]
fn typing_is_sent_at_most_every_few_seconds_and_shown_for_five() {
    let (mut m, t0) = model_with(5);
    m.update(key(KeyCode::Enter), t0);
    let typing = Effect::Typing { chat_id: 10 };
    // (seconds after t0, effects expected)
    for (secs, sent) in [(0, true), (1, false), (3, false), (4, true), (5, false), (9, true)] {
        let fx = m.update(key(KeyCode::Char('x')), t0 + Duration::from_secs(secs));
        assert_eq!(fx.contains(&typing), sent, "at {secs} s");
    }

    m.update(Input::Event(Event::Typing { chat_id: 10, user_id: BOB }), t0);
    m.names.insert(BOB, "Bob".into());
    // (seconds after the event, what the status line shows)
    for (secs, want) in [(0, Some("Bob is typing…")), (4, Some("Bob is typing…")), (5, None)] {
        let at = t0 + Duration::from_secs(secs);
        m.update(Input::Tick, at);
        assert_eq!(m.typing_line(10, at).as_deref(), want, "at {secs} s");
    }
    // A message from them ends it at once.
    m.update(Input::Event(Event::Typing { chat_id: 10, user_id: BOB }), t0);
    m.update(update(UpdateKind::NewMessage { message: msg(10, 6, BOB, "done") }), t0);
    assert_eq!(m.typing_line(10, t0), None);
    assert!(TYPING_EVERY < Duration::from_secs(5));
}

#[test]
fn scrolling_back_loads_older_pages_and_returning_drops_them() {
    let (mut m, now) = model_with(10_000);
    m.update(key(KeyCode::Enter), now);
    assert_eq!(m.open_history().map(|h| h.messages.len()), Some(PAGE as usize));
    // Scroll up to near the oldest loaded: one request, not one per key.
    let mut fx = Vec::new();
    for _ in 0..8 {
        fx.extend(m.update(key(KeyCode::PageUp), now));
    }
    assert_eq!(fx, [Effect::LoadHistory { chat_id: 10, before: Some(9_901) }]);
    let older: Vec<Message> = (9_801..9_901).map(|id| msg(10, id, BOB, "old")).collect();
    m.update(Input::History { chat_id: 10, before: Some(9_901), messages: older }, now);
    let h = m.open_history().expect("history");
    assert_eq!(h.messages.len(), 200);
    assert_eq!(h.selected().map(|s| s.id), Some(10_000 - 79), "selection stays put");
    assert!(h.more_older);

    // Keep going back: many pages, then End returns to the newest and keeps KEEP of them.
    for page in 0..5 {
        let before = m.open_history().and_then(|h| h.messages.first()).map(|x| x.id).expect("id");
        let older = (before - 100..before).map(|id| msg(10, id, BOB, "old")).collect();
        m.update(Input::History { chat_id: 10, before: Some(before), messages: older }, now);
        assert_eq!(m.open_history().map(|h| h.messages.len()), Some(300 + page * 100));
    }
    m.update(key(KeyCode::End), now);
    let h = m.open_history().expect("history");
    assert_eq!((h.messages.len(), h.cursor, h.more_older), (KEEP, None, true));
    assert_eq!(h.messages.last().map(|x| x.id), Some(10_000));
}

#[test]
fn a_new_message_keeps_the_selection_on_the_same_message() {
    let (mut m, now) = model_with(5);
    run(&mut m, [key(KeyCode::Enter), key(KeyCode::Up), key(KeyCode::Up)], now);
    assert_eq!(m.open_history().and_then(|h| h.selected()).map(|s| s.id), Some(4));
    m.update(update(UpdateKind::NewMessage { message: msg(10, 6, BOB, "new") }), now);
    assert_eq!(m.open_history().and_then(|h| h.selected()).map(|s| s.id), Some(4));
}

#[test]
fn wrap_breaks_at_spaces_and_newlines() {
    let cases: &[(&str, usize, &[&str])] = &[
        ("", 10, &[""]),
        ("hello", 10, &["hello"]),
        ("hello world", 5, &["hello", "world"]),
        ("hello world", 8, &["hello", "world"]),
        ("a b c d", 3, &["a b", "c d"]),
        ("abcdefgh", 3, &["abc", "def", "gh"]),
        ("one\ntwo", 10, &["one", "two"]),
        ("日本語テキスト", 6, &["日本語", "テキス", "ト"]),
    ];
    for (text, width, want) in cases {
        assert_eq!(view::wrap(text, *width), *want, "{text:?} at {width}");
    }
}

fn screen(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn draws_dialogs_history_and_input_and_redraws_on_resize() {
    let (mut m, now) = model_with(5);
    m.names.insert(BOB, "Bob".into());
    run(&mut m, [key(KeyCode::Enter), key(KeyCode::Char('h')), key(KeyCode::Char('i'))], now);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    terminal.draw(|f| view::draw(f, &m, now)).expect("draw");
    let text = screen(&terminal);
    for want in ["Chats", "Bob", "Carol", "Bob: message 5", "you ✓: message 4", "Message", "hi"] {
        assert!(text.contains(want), "{want:?} missing in\n{text}");
    }
    terminal.backend_mut().resize(40, 12);
    terminal.draw(|f| view::draw(f, &m, now)).expect("draw");
    let text = screen(&terminal);
    assert_eq!(text.lines().count(), 12);
    assert!(text.lines().all(|l| l.chars().count() == 40));
    assert!(text.contains("message 5"), "{text}");

    m.update(key(KeyCode::F(1)), now);
    terminal.backend_mut().resize(80, 24);
    terminal.draw(|f| view::draw(f, &m, now)).expect("draw");
    assert!(screen(&terminal).contains("Help: helio tui"));
}

#[test]
fn a_frame_of_a_ten_thousand_message_chat_takes_milliseconds() {
    // All 10,000 loaded at once (worse than the TUI ever keeps) and scrolled to the middle.
    let now = Instant::now();
    let mut m = Model::new(ME);
    m.update(Input::Dialogs(vec![dialog(10, "Bob", 0, Some(msg(10, 10_000, BOB, "last")))]), now);
    let all = (1..=10_000).map(|id| msg(10, id, BOB, &"a fairly long message that wraps over lines ".repeat(3))).collect();
    m.update(Input::History { chat_id: 10, before: None, messages: all }, now);
    m.update(key(KeyCode::Enter), now);
    for _ in 0..500 {
        m.update(key(KeyCode::PageUp), now);
    }
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    terminal.draw(|f| view::draw(f, &m, now)).expect("warm-up");
    let frames = 50;
    let start = Instant::now();
    for _ in 0..frames {
        terminal.draw(|f| view::draw(f, &m, now)).expect("draw");
    }
    let per_frame = start.elapsed() / frames;
    assert!(screen(&terminal).contains("a fairly long"));
    assert!(per_frame < Duration::from_millis(5), "{per_frame:?} per frame");

    // A live message into it, and a keystroke, stay cheap too.
    let start = Instant::now();
    for id in 10_001..10_101 {
        m.update(update(UpdateKind::NewMessage { message: msg(10, id, BOB, "x") }), now);
    }
    assert!(start.elapsed() < Duration::from_millis(50), "{:?}", start.elapsed());
}

#[test]
fn membership_chat_changes_and_resyncs() {
    use heliograph_client::proto::{Error, ErrorCode};
    // (event, check) over a fresh model with chat 10 open in the chat pane.
    type Check = fn(&Model, &[Effect]);
    let mut renamed = chat(10, "Bobby");
    renamed.role = None;
    let cases: Vec<(&str, Input, Check)> = vec![
        (
            "removed from the open chat: it leaves the list",
            update(UpdateKind::Participant { chat_id: 10, user_id: ME, role: None, by: BOB }),
            |m, _| {
                assert_eq!(m.dialogs.len(), 1);
                assert_eq!((m.open, m.focus), (Some(20), Focus::Dialogs));
            },
        ),
        (
            "someone else joins: the chat is fetched again",
            update(UpdateKind::Participant { chat_id: 10, user_id: 5, role: Some(Role::Member), by: BOB }),
            |_, fx| assert_eq!(fx, [Effect::LoadChat(10)]),
        ),
        ("a chat update without a role keeps ours", update(UpdateKind::Chat { chat: renamed }), |m, _| {
            assert_eq!(m.dialogs[0].chat.title, "Bobby");
            assert_eq!(m.dialogs[0].chat.role, Some(Role::Member));
        }),
        ("pinned", update(UpdateKind::PinnedMessage { chat_id: 10, id: Some(2) }), |m, _| {
            assert_eq!(m.dialogs[0].chat.pinned_message_id, Some(2))
        }),
        ("too long: reload the list and the open chat", Input::Event(Event::TooLong { log: None }), |_, fx| {
            assert!(fx.contains(&Effect::LoadDialogs), "{fx:?}");
            assert!(fx.contains(&Effect::LoadHistory { chat_id: 10, before: None }), "{fx:?}");
        }),
        (
            "signed out: quit with a reason",
            Input::Event(Event::SignedOut { error: Error::new(ErrorCode::SessionRevoked, "revoked") }),
            |m, _| {
                assert!(m.quit);
                assert!(m.exit_error.as_deref().is_some_and(|e| e.contains("log in again")));
            },
        ),
        ("disconnected", Input::Event(Event::Disconnected), |m, _| assert!(m.status.contains("reconnecting"), "{}", m.status)),
    ];
    for (what, input, check) in cases {
        let (mut m, now) = model_with(5);
        m.update(key(KeyCode::Enter), now);
        let fx = m.update(input, now);
        check(&m, &fx);
        assert!(!m.quit || what.starts_with("signed out"), "{what}");
    }
}

// --- a bot's buttons ---

const BOT: i64 = 9;

/// A message from the bot with `[Yes] [No]` and `[Docs ↗]` under it.
fn menu(chat: i64, id: i64) -> Message {
    let b = |text: &str, data: Option<&str>, url: Option<&str>| InlineButton {
        text: text.into(),
        callback_data: data.map(Into::into),
        url: url.map(Into::into),
    };
    Message {
        reply_markup: Some(ReplyMarkup {
            inline_keyboard: vec![
                vec![b("Yes", Some("yes"), None), b("No", Some("no"), None)],
                vec![b("Docs", None, Some("https://example.org"))],
            ],
            ..ReplyMarkup::default()
        }),
        ..msg(chat, id, BOT, "Pick one")
    }
}

/// Chat 10 open and focused, with the bot's menu as message 4 and a plain message 5 after it.
fn model_with_menu() -> (Model, Instant) {
    let (mut m, now) = model_with(3);
    run(&mut m, [key(KeyCode::Enter), update(UpdateKind::NewMessage { message: menu(10, 4) })], now);
    run(&mut m, [update(UpdateKind::NewMessage { message: msg(10, 5, BOB, "after") })], now);
    assert_eq!(m.focus, Focus::Chat);
    (m, now)
}

#[test]
fn ctrl_b_picks_the_newest_buttons_and_enter_presses() {
    let (mut m, now) = model_with_menu();
    assert!(run(&mut m, [ctrl('b')], now).is_empty());
    let p = m.picking.expect("choosing buttons");
    assert_eq!((p.chat_id, p.message_id, p.index), (10, 4, 0));
    assert_eq!(m.open_history().and_then(|h| h.selected()).map(|s| s.id), Some(4), "the menu is selected, so on screen");
    // Keys move among the buttons and never reach the input line; the choice stops at the ends.
    run(&mut m, [key(KeyCode::Left), key(KeyCode::Right), key(KeyCode::Char('x'))], now);
    assert_eq!(m.picking.map(|p| p.index), Some(1));
    assert!(m.input.is_empty());
    let fx = run(&mut m, [key(KeyCode::Enter)], now);
    assert_eq!(fx, [Effect::Press { chat_id: 10, message_id: 4, data: "no".into() }]);
    assert_eq!(m.picking, None);
    assert!(m.status.contains("[No] pressed"), "{}", m.status);
    // The answer shows on the status line.
    run(&mut m, [Input::Pressed { answer: CallbackAnswer { text: Some("You chose no".into()), alert: false, url: None } }], now);
    assert_eq!(m.status, "You chose no");
    run(&mut m, [Input::Pressed { answer: CallbackAnswer { text: Some("Sure?".into()), alert: true, url: None } }], now);
    assert_eq!(m.status, "⚠ Sure?");
    run(&mut m, [Input::Pressed { answer: CallbackAnswer::default() }], now);
    assert_eq!(m.status, "(no answer)");
    // Enter is the input line's again.
    m.input = "hello".into();
    assert_eq!(run(&mut m, [key(KeyCode::Enter)], now), [Effect::Send { chat_id: 10, text: "hello".into(), reply_to: None }]);
}

#[test]
fn digits_press_directly_links_are_shown_and_esc_cancels() {
    let (mut m, now) = model_with_menu();
    let fx = run(&mut m, [ctrl('b'), key(KeyCode::Char('1'))], now);
    assert_eq!(fx, [Effect::Press { chat_id: 10, message_id: 4, data: "yes".into() }]);
    // A URL button sends nothing: its link goes to the status line.
    assert!(run(&mut m, [ctrl('b'), key(KeyCode::End), key(KeyCode::Enter)], now).is_empty());
    assert_eq!(m.status, "[Docs] opens https://example.org");
    // Beyond the count, nothing; Esc leaves the buttons, then the selection as before.
    assert!(run(&mut m, [ctrl('b'), key(KeyCode::Char('7'))], now).is_empty());
    assert!(m.picking.is_some() && m.status.contains("only 3 buttons"), "{}", m.status);
    run(&mut m, [key(KeyCode::Esc)], now);
    assert_eq!(m.picking, None);
    run(&mut m, [key(KeyCode::Esc)], now);
    assert_eq!(m.open_history().and_then(|h| h.cursor), None);
    // Ctrl-B toggles; switching chats drops the choice.
    run(&mut m, [ctrl('b'), ctrl('b')], now);
    assert_eq!(m.picking, None);
    run(&mut m, [ctrl('b'), ctrl('n')], now);
    assert_eq!(m.picking, None);
}

#[test]
fn a_selected_message_with_buttons_is_preferred_and_edits_are_followed() {
    let (mut m, now) = model_with_menu();
    // A newer menu; the selected older one is the one picked.
    run(&mut m, [update(UpdateKind::NewMessage { message: menu(10, 6) })], now);
    run(&mut m, [key(KeyCode::Up), key(KeyCode::Up), key(KeyCode::Up), ctrl('b')], now);
    assert_eq!(m.picking.map(|p| p.message_id), Some(4));
    run(&mut m, [key(KeyCode::Esc), key(KeyCode::Esc), ctrl('b')], now);
    assert_eq!(m.picking.map(|p| p.message_id), Some(6), "without a selection: the newest with buttons");
    // The bot edits its buttons away: the choice ends.
    let mut edited = menu(10, 6);
    edited.reply_markup = None;
    run(&mut m, [update(UpdateKind::EditMessage { message: edited })], now);
    assert!(run(&mut m, [key(KeyCode::Enter)], now).is_empty());
    assert_eq!((m.picking, m.status.as_str()), (None, "the buttons are gone"));
    // No buttons anywhere: said so.
    let (mut plain, now) = model_with(3);
    run(&mut plain, [key(KeyCode::Enter), ctrl('b')], now);
    assert_eq!(plain.picking, None);
    assert!(plain.status.contains("no message with buttons"), "{}", plain.status);
}

#[test]
fn buttons_are_drawn_under_their_message() {
    let (mut m, now) = model_with_menu();
    m.names.insert(BOT, "Menu (bot)".into());
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    terminal.draw(|f| view::draw(f, &m, now)).expect("draw");
    let text = screen(&terminal);
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.contains("Menu (bot): Pick one")).unwrap_or_else(|| panic!("{text}"));
    assert!(lines[at + 1].contains("  [Yes] [No]"), "{text}");
    assert!(lines[at + 2].contains("  [Docs ↗]"), "{text}");
    assert!(lines[at + 3].contains("after"), "{text}");
    run(&mut m, [ctrl('b'), key(KeyCode::Right)], now);
    terminal.draw(|f| view::draw(f, &m, now)).expect("draw");
    let text = screen(&terminal);
    assert!(text.contains("[1 Yes] [2 No]") && text.contains("[3 Docs ↗]"), "{text}");
    assert!(text.contains("Enter or 1-9 press"), "{text}");
    let buffer = terminal.backend().buffer();
    let chosen = (0..buffer.area.height)
        .flat_map(|y| (0..buffer.area.width).map(move |x| (x, y)))
        .filter(|&(x, y)| buffer[(x, y)].modifier.contains(ratatui::style::Modifier::REVERSED))
        .map(|(x, y)| buffer[(x, y)].symbol().to_owned())
        .collect::<String>();
    assert!(chosen.contains("[2 No]"), "highlighted: {chosen:?}");
}

// --- a bot's reply keyboard ---

/// A message from the bot that puts `[Red] [Blue]` / `[Green]` in place of the letter keys.
fn keyboard_message(chat: i64, id: i64, one_time: bool) -> Message {
    let k = |text: &str| heliograph_client::proto::KeyboardButton { text: text.into() };
    Message {
        reply_markup: Some(ReplyMarkup {
            keyboard: vec![vec![k("Red"), k("Blue")], vec![k("Green")]],
            one_time_keyboard: one_time,
            input_field_placeholder: Some("Pick a colour".into()),
            ..ReplyMarkup::default()
        }),
        ..msg(chat, id, BOT, "Colour?")
    }
}

#[test]
fn ctrl_k_sends_a_reply_keyboard_key_as_the_persons_message() {
    let (mut m, now) = model_with(3);
    run(&mut m, [key(KeyCode::Enter), update(UpdateKind::NewMessage { message: keyboard_message(10, 4, true) })], now);
    assert!(run(&mut m, [ctrl('k')], now).is_empty());
    assert_eq!(m.keying, Some((10, 0)));
    // Arrows choose and never reach the input line; Enter sends the key's text.
    let fx = run(&mut m, [key(KeyCode::Right), key(KeyCode::Char('x')), key(KeyCode::Enter)], now);
    assert_eq!(fx, [Effect::Send { chat_id: 10, text: "Blue".into(), reply_to: None }]);
    assert!(m.input.is_empty() && m.keying.is_none());
    // A digit sends directly; once the person's "Blue" is in the history, a one-time
    // keyboard is gone.
    assert_eq!(
        run(&mut m, [ctrl('k'), key(KeyCode::Char('3'))], now),
        [Effect::Send { chat_id: 10, text: "Green".into(), reply_to: None }]
    );
    run(&mut m, [update(UpdateKind::NewMessage { message: msg(10, 5, ME, "Green") })], now);
    assert!(run(&mut m, [ctrl('k')], now).is_empty());
    assert_eq!(m.keying, None);
    assert!(m.status.contains("no reply keyboard"), "{}", m.status);
    // A removal ends a lasting keyboard too.
    run(&mut m, [update(UpdateKind::NewMessage { message: keyboard_message(10, 6, false) })], now);
    run(&mut m, [ctrl('k'), key(KeyCode::Esc)], now);
    assert_eq!(m.keying, None);
    assert!(m.reply_keys(10).is_some());
    let removed =
        Message { reply_markup: Some(ReplyMarkup { remove_keyboard: true, ..ReplyMarkup::default() }), ..msg(10, 7, BOT, "Thanks") };
    run(&mut m, [update(UpdateKind::NewMessage { message: removed })], now);
    assert!(m.reply_keys(10).is_none());
}

#[test]
fn a_reply_request_makes_the_next_message_a_reply() {
    let (mut m, now) = model_with(3);
    let ask = Message { reply_markup: Some(ReplyMarkup { force_reply: true, ..ReplyMarkup::default() }), ..msg(10, 4, BOT, "Your name?") };
    run(&mut m, [key(KeyCode::Enter), update(UpdateKind::NewMessage { message: ask })], now);
    m.input = "Ann".into();
    assert_eq!(run(&mut m, [key(KeyCode::Enter)], now), [Effect::Send { chat_id: 10, text: "Ann".into(), reply_to: Some(4) }]);
}

#[test]
fn the_reply_keyboard_is_drawn_above_the_input_line() {
    let (mut m, now) = model_with(3);
    run(&mut m, [key(KeyCode::Enter), update(UpdateKind::NewMessage { message: keyboard_message(10, 4, false) })], now);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    terminal.draw(|f| view::draw(f, &m, now)).expect("draw");
    let text = screen(&terminal);
    let lines: Vec<&str> = text.lines().collect();
    let input = lines.iter().rposition(|l| l.contains("Message")).unwrap_or_else(|| panic!("{text}"));
    assert!(lines[input - 2].contains("[Red] [Blue]") && lines[input - 1].contains("[Green]"), "{text}");
    assert!(lines[input + 1].contains("Pick a colour"), "the placeholder in the empty input: {text}");
    assert!(text.contains("⌨ keyboard (Ctrl-K)"), "{text}");
    run(&mut m, [ctrl('k'), key(KeyCode::Right)], now);
    terminal.draw(|f| view::draw(f, &m, now)).expect("draw");
    let text = screen(&terminal);
    assert!(text.contains("[1 Red] [2 Blue]") && text.contains("[3 Green]"), "{text}");
}

/// Ctrl-T toggles 👍 on the selected message keeping your other reactions; reaction updates
/// show under the message (yours marked), keep yours when they come from a chat's own log
/// (no viewer), and survive an edit.
#[test]
fn ctrl_t_toggles_a_reaction_and_updates_show_under_the_message() {
    use heliograph_client::proto::{MessageReactions, ReactionCount, ReactionType};
    let thumbs = || ReactionType::Emoji { emoji: "👍".into() };
    let fire = || ReactionType::Emoji { emoji: "🔥".into() };
    let counted = |r: ReactionType, count, chosen| ReactionCount { reaction: r, count, chosen };
    let (mut m, now) = model_with(5);
    m.names.insert(BOB, "Bob".into());
    run(&mut m, [key(KeyCode::Enter), key(KeyCode::Up)], now);
    let fx = run(&mut m, [ctrl('t')], now);
    assert_eq!(fx, vec![Effect::React { chat_id: 10, id: 5, reactions: vec![thumbs()] }], "Up selects the newest");

    let mine = MessageReactions { results: vec![counted(fire(), 2, true), counted(thumbs(), 1, false)], recent: vec![] };
    m.update(update(UpdateKind::MessageReactions { chat_id: 10, id: 5, reactions: mine }), now);
    let fx = run(&mut m, [ctrl('t')], now);
    assert_eq!(fx, vec![Effect::React { chat_id: 10, id: 5, reactions: vec![fire(), thumbs()] }], "keeps 🔥, adds 👍");

    // From the chat's own log: no `chosen`; ours are kept from before.
    let public = MessageReactions { results: vec![counted(fire(), 3, false)], recent: vec![] };
    m.update(
        Input::Event(Event::Update(Update {
            log: Some(10),
            pts: 2,
            pts_count: 1,
            date: 0,
            kind: UpdateKind::MessageReactions { chat_id: 10, id: 5, reactions: public },
        })),
        now,
    );
    let mut edited = msg(10, 5, BOB, "message 5, edited");
    edited.edit_date = Some(1);
    m.update(update(UpdateKind::EditMessage { message: edited }), now);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    terminal.draw(|f| view::draw(f, &m, now)).expect("draw");
    let text = screen(&terminal);
    assert!(text.contains("3*"), "the reactions line, ours marked, after the edit:\n{text}");
    assert_eq!(run(&mut m, [ctrl('t')], now), vec![Effect::React { chat_id: 10, id: 5, reactions: vec![fire(), thumbs()] }]);
}

fn typed(text: &str) -> Vec<Input> {
    text.chars().map(|c| key(KeyCode::Char(c))).collect()
}

fn hit(m: Message, snippet: &str, highlights: Vec<[u32; 2]>) -> SearchResult {
    SearchResult { message: m, snippet: snippet.into(), highlights }
}

fn found(scope: Option<i64>, query: &str, offset: u32, results: Vec<SearchResult>, next_offset: Option<u32>) -> Input {
    Input::Found {
        chat: scope,
        query: query.into(),
        offset,
        results: SearchResults { results, chats: vec![chat(10, "Bob")], users: Vec::new(), next_offset },
    }
}

#[test]
fn ctrl_f_searches_the_open_chat_or_all_chats_and_opens_a_loaded_result_in_place() {
    // (focus the chat first?, scope asked)
    for (in_chat, scope) in [(true, Some(10)), (false, None)] {
        let (mut m, now) = model_with(150);
        if in_chat {
            m.update(key(KeyCode::Enter), now);
        }
        m.update(ctrl('f'), now);
        assert_eq!(m.focus, Focus::Search);
        // Typing asks nothing; Enter does, once, with the trimmed query.
        assert!(run(&mut m, typed(" message 120 "), now).is_empty());
        let fx = m.update(key(KeyCode::Enter), now);
        assert_eq!(fx, [Effect::Search { chat: scope, query: "message 120".into(), offset: 0 }]);
        m.update(found(scope, "message 120", 0, vec![hit(msg(10, 120, ME, "message 120"), "message 120", vec![[8, 3]])], None), now);
        assert_eq!(m.search.as_ref().map(|s| s.results.len()), Some(1));
        // Enter again opens the result: it is loaded, so it is selected without a request.
        let fx = m.update(key(KeyCode::Enter), now);
        assert!(fx.is_empty(), "{fx:?}");
        assert_eq!((m.focus, m.open, m.search.is_none()), (Focus::Chat, Some(10), true));
        assert_eq!(m.open_history().and_then(|h| h.selected()).map(|s| s.id), Some(120));
    }
}

#[test]
fn results_for_an_older_query_or_scope_are_dropped_and_esc_goes_back() {
    let (mut m, now) = model_with(5);
    m.update(key(KeyCode::Enter), now);
    m.update(ctrl('f'), now);
    run(&mut m, typed("old"), now);
    m.update(key(KeyCode::Enter), now);
    run(&mut m, [key(KeyCode::Backspace), key(KeyCode::Backspace), key(KeyCode::Backspace)], now);
    run(&mut m, typed("new"), now);
    assert_eq!(m.update(key(KeyCode::Enter), now), [Effect::Search { chat: Some(10), query: "new".into(), offset: 0 }]);
    m.update(found(Some(10), "old", 0, vec![hit(msg(10, 1, BOB, "old"), "old", vec![[0, 3]])], None), now);
    assert!(m.search.as_ref().is_some_and(|s| s.results.is_empty() && s.loading), "the old query's answer is not shown");
    // Ctrl-F in the prompt widens to all chats and asks again; the chat-scoped answer is stale.
    assert_eq!(m.update(ctrl('f'), now), [Effect::Search { chat: None, query: "new".into(), offset: 0 }]);
    m.update(found(Some(10), "new", 0, vec![hit(msg(10, 2, ME, "new"), "new", vec![[0, 3]])], None), now);
    assert!(m.search.as_ref().is_some_and(|s| s.results.is_empty()));
    m.update(found(None, "new", 0, vec![hit(msg(10, 2, ME, "new"), "new", vec![[0, 3]])], Some(1)), now);
    assert_eq!(m.search.as_ref().map(|s| (s.results.len(), s.loading)), Some((1, false)));
    // Down at the last result asks for the next page.
    assert_eq!(m.update(key(KeyCode::Down), now), [Effect::Search { chat: None, query: "new".into(), offset: 1 }]);
    m.update(key(KeyCode::Esc), now);
    assert_eq!(
        (m.focus, m.search.is_none(), m.input.as_str()),
        (Focus::Chat, true, ""),
        "back to the chat, the query not in the message line"
    );
}

#[test]
fn an_old_result_opens_a_window_around_it_that_scrolls_forward_to_the_newest() {
    let (mut m, now) = model_with(300);
    m.update(ctrl('f'), now);
    run(&mut m, typed("message 5"), now);
    m.update(key(KeyCode::Enter), now);
    m.update(found(None, "message 5", 0, vec![hit(msg(10, 5, BOB, "message 5"), "message 5", vec![[8, 1]])], None), now);
    assert_eq!(m.update(key(KeyCode::Enter), now), [Effect::LoadAround { chat_id: 10, id: 5 }]);
    let half = i64::from(PAGE / 2);
    let older: Vec<Message> = (1..=5).map(|id| msg(10, id, BOB, &format!("message {id}"))).collect();
    let newer: Vec<Message> = (6..6 + half).map(|id| msg(10, id, BOB, &format!("message {id}"))).collect();
    m.update(Input::Around { chat_id: 10, id: 5, older, newer }, now);
    let h = m.open_history().expect("history");
    assert_eq!((h.selected().map(|s| s.id), h.more_older, h.more_newer), (Some(5), false, true));
    // A live message waits for the newer pages rather than leaving a gap.
    m.update(update(UpdateKind::NewMessage { message: msg(10, 301, BOB, "live") }), now);
    assert_eq!(m.open_history().and_then(|h| h.messages.last()).map(|l| l.id), Some(5 + half));
    // Scrolling forward asks for the next newer page, once.
    let fx = run(&mut m, (0..20).map(|_| key(KeyCode::Down)), now);
    assert_eq!(fx, [Effect::LoadNewer { chat_id: 10, after: 5 + half }]);
    let selected = m.open_history().and_then(|h| h.selected()).map(|s| s.id);
    let page: Vec<Message> = (6 + half..6 + half + i64::from(PAGE)).map(|id| msg(10, id, BOB, "later")).collect();
    m.update(Input::Newer { chat_id: 10, after: 5 + half, messages: page }, now);
    let h = m.open_history().expect("history");
    assert_eq!(h.selected().map(|s| s.id), selected, "the selection stays on its message");
    assert!(h.more_newer);
    let ids: Vec<i64> = h.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, (1..6 + half + i64::from(PAGE)).collect::<Vec<_>>(), "contiguous");
    // End goes back to the newest: the window is loaded again from there.
    assert_eq!(m.update(key(KeyCode::End), now), [Effect::LoadHistory { chat_id: 10, before: None }]);
    assert!(m.open_history().is_some_and(|h| h.messages.is_empty() && !h.more_newer));
}

#[test]
fn a_result_deleted_since_selects_the_message_after_it() {
    let (mut m, now) = model_with(300);
    m.update(ctrl('f'), now);
    run(&mut m, typed("x"), now);
    m.update(key(KeyCode::Enter), now);
    m.update(found(None, "x", 0, vec![hit(msg(10, 7, BOB, "x"), "x", vec![[0, 1]])], None), now);
    m.update(key(KeyCode::Enter), now);
    let older: Vec<Message> = (1..=6).map(|id| msg(10, id, BOB, "m")).collect();
    m.update(Input::Around { chat_id: 10, id: 7, older, newer: vec![msg(10, 8, BOB, "m")] }, now);
    let h = m.open_history().expect("history");
    assert_eq!((h.selected().map(|s| s.id), h.more_newer), (Some(8), false));
    assert_eq!(m.status, "that message is gone");
}

#[test]
fn draws_the_search_prompt_with_highlighted_results() {
    let (mut m, now) = model_with(5);
    m.names.insert(BOB, "Bob".into());
    m.update(key(KeyCode::Enter), now);
    m.update(ctrl('f'), now);
    run(&mut m, typed("пирог"), now);
    m.update(key(KeyCode::Enter), now);
    m.update(found(Some(10), "пирог", 0, vec![hit(msg(10, 3, BOB, "Ваш пирог готов"), "Ваш пирог готов", vec![[4, 5]])], None), now);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    terminal.draw(|f| view::draw(f, &m, now)).expect("draw");
    let text = screen(&terminal);
    for want in ["Search in Bob", "пирог", "Bob · Bob", "Ваш пирог готов", "1 found"] {
        assert!(text.contains(want), "{want:?} missing in\n{text}");
    }
    // The matched word is styled apart from the rest of the snippet.
    let buffer = terminal.backend().buffer();
    let row = (0..buffer.area.height)
        .find(|&y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>().contains("Ваш пирог"))
        .expect("snippet row");
    let styles: Vec<(String, bool)> = (0..buffer.area.width)
        .map(|x| (buffer[(x, row)].symbol().to_owned(), buffer[(x, row)].modifier.contains(ratatui::style::Modifier::BOLD)))
        .filter(|(s, _)| s.trim() != "")
        .collect();
    let bold: String = styles.iter().filter(|(_, b)| *b).map(|(s, _)| s.as_str()).collect();
    assert_eq!(bold, "пирог");
}
