//! `helio tui`: a full-screen chat, model/update/view style.
//!
//! - [`model`]: the state and its pure `update(input, now) -> effects`; unit-tested without a
//!   terminal.
//! - [`view`]: draws the state with ratatui; a frame costs what the screen shows.
//! - this file: the runner. It owns the terminal and the SDK client, turns keys, SDK events
//!   and request answers into [`Input`]s, and carries out the [`Effect`]s: reads (dialogs,
//!   history pages, names, searches) run concurrently, writes (send, edit, delete, read) one at a time
//!   in order, so two quick sends arrive in the order they were typed.

pub mod model;
pub mod view;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::Event as TermEvent;
use heliograph_client::proto::method::Direction;
use heliograph_client::{Client, ClientError, SearchFilter, Updates};
use tokio::sync::mpsc;

use crate::error::CliError;
use crate::profile::{self, Session};
use model::{Effect, Input, Model, PAGE, SEARCH_PAGE};

/// Frames are drawn at most this often; a burst of updates costs one frame.
const FRAME: Duration = Duration::from_millis(16);

pub async fn run(client: Client, mut updates: Updates, mut session: Session, profile_dir: &Path) -> Result<(), CliError> {
    let mut terminal = ratatui::try_init().map_err(|e| CliError::new("TERMINAL", format!("cannot start the full-screen UI: {e}")))?;
    let (tx, mut rx) = mpsc::channel::<Input>(1024);
    // Keys come from a blocking reader thread; it ends with the process.
    let keys = tx.clone();
    std::thread::spawn(move || loop {
        let input = match crossterm::event::read() {
            Ok(TermEvent::Key(key)) => Input::Key(key),
            Ok(TermEvent::Resize(..)) => Input::Tick,
            Ok(_) => continue,
            Err(_) => break,
        };
        if keys.blocking_send(input).is_err() {
            break;
        }
    });
    let writes = writer(client.clone(), tx.clone());

    let mut model = Model::new(session.user_id);
    let runner = Runner { client: client.clone(), tx, writes };
    runner.perform(Effect::LoadDialogs);

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut dirty = true;
    let mut last_frame = Instant::now() - FRAME;
    let result = loop {
        if dirty && last_frame.elapsed() >= FRAME {
            if let Err(e) = terminal.draw(|f| view::draw(f, &model, Instant::now())) {
                break Err(CliError::new("TERMINAL", e.to_string()));
            }
            dirty = false;
            last_frame = Instant::now();
        }
        let next_frame = tokio::time::Instant::from_std(last_frame + FRAME);
        let input = tokio::select! {
            Some(input) = rx.recv() => input,
            event = updates.recv() => match event {
                Some(event) => Input::Event(event),
                None => break Err(CliError::new("DISCONNECTED", "the client stopped")),
            },
            _ = tick.tick() => {
                if model.state_dirty {
                    model.state_dirty = false;
                    session.state = client.state();
                    if let Err(e) = profile::save(profile_dir, &session) {
                        model.status = e.to_string();
                    }
                }
                Input::Tick
            }
            _ = tokio::time::sleep_until(next_frame), if dirty => continue,
        };
        for effect in model.update(input, Instant::now()) {
            runner.perform(effect);
        }
        dirty = true;
        if model.quit {
            break match model.exit_error.take() {
                Some(e) => Err(CliError::new("SIGNED_OUT", e)),
                None => Ok(()),
            };
        }
    };
    ratatui::restore();
    // The state as of the last event handled: the next `tui` or `watch` goes on from here.
    session.state = client.state();
    profile::save(profile_dir, &session)?;
    result
}

struct Runner {
    client: Client,
    tx: mpsc::Sender<Input>,
    writes: mpsc::UnboundedSender<Effect>,
}

impl Runner {
    fn perform(&self, effect: Effect) {
        if matches!(
            effect,
            Effect::Send { .. }
                | Effect::Edit { .. }
                | Effect::Delete { .. }
                | Effect::Read { .. }
                | Effect::React { .. }
                | Effect::Report { .. }
        ) {
            let _ = self.writes.send(effect);
            return;
        }
        let client = self.client.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let input = read(&client, effect).await;
            if let Some(input) = input {
                let _ = tx.send(input).await;
            }
        });
    }
}

fn failed(chat_id: Option<i64>, what: &str, e: ClientError) -> Input {
    Input::Failed { chat_id, error: format!("{what}: {}", CliError::from(e)) }
}

/// Reads: their answers come back as inputs.
async fn read(client: &Client, effect: Effect) -> Option<Input> {
    Some(match effect {
        Effect::LoadDialogs => {
            let mut all = Vec::new();
            let mut offset = None;
            loop {
                match client.get_dialogs(Some(100), offset).await {
                    Ok(page) => {
                        let done = page.dialogs.is_empty() || page.next.is_none();
                        all.extend(page.dialogs);
                        offset = page.next;
                        if done {
                            break Input::Dialogs(all);
                        }
                    }
                    Err(e) => break failed(None, "loading chats", e),
                }
            }
        }
        Effect::LoadHistory { chat_id, before } => match client.history(chat_id, before, Direction::Older, Some(PAGE)).await {
            Ok(messages) => Input::History { chat_id, before, messages },
            Err(e) => failed(Some(chat_id), "loading messages", e),
        },
        Effect::LoadNewer { chat_id, after } => match client.history(chat_id, Some(after), Direction::Newer, Some(PAGE)).await {
            Ok(messages) => Input::Newer { chat_id, after, messages },
            Err(e) => failed(Some(chat_id), "loading messages", e),
        },
        Effect::LoadAround { chat_id, id } => {
            // The result and older ones up to half a page, then the newer half.
            let older = client.history(chat_id, Some(id.saturating_add(1)), Direction::Older, Some(PAGE / 2));
            let newer = client.history(chat_id, Some(id), Direction::Newer, Some(PAGE / 2));
            match tokio::try_join!(older, newer) {
                Ok((older, newer)) => Input::Around { chat_id, id, older, newer },
                Err(e) => failed(Some(chat_id), "loading messages", e),
            }
        }
        Effect::Search { chat, query, offset } => {
            let filter = SearchFilter { chat_id: chat, ..SearchFilter::default() };
            match client.search_messages(&query, &filter, offset, Some(SEARCH_PAGE)).await {
                Ok(results) => Input::Found { chat, query, offset, results },
                Err(e) => failed(None, "not searched", e),
            }
        }
        Effect::LoadUsers(ids) => match client.get_users(&ids).await {
            Ok(users) => Input::Users(users),
            Err(e) => failed(None, "loading names", e),
        },
        Effect::LoadChat(chat_id) => match client.get_chat(chat_id).await {
            Ok(chat) => Input::Chat(chat),
            Err(e) => failed(None, "loading chat", e),
        },
        // Concurrent with everything else: the server waits up to 10 s for the bot's answer.
        Effect::Press { chat_id, message_id, data } => match client.press_button(chat_id, message_id, &data).await {
            Ok(answer) => Input::Pressed { answer },
            Err(e) => failed(None, "not pressed", e),
        },
        Effect::Typing { chat_id } => {
            // Best effort: a lost typing notice is not worth a word.
            let _ = client.set_typing(chat_id).await;
            return None;
        }
        Effect::Send { .. }
        | Effect::Edit { .. }
        | Effect::Delete { .. }
        | Effect::Read { .. }
        | Effect::React { .. }
        | Effect::Report { .. } => return None,
    })
}

/// Carries out writes one at a time, in order.
fn writer(client: Client, tx: mpsc::Sender<Input>) -> mpsc::UnboundedSender<Effect> {
    let (writes, mut queue) = mpsc::unbounded_channel::<Effect>();
    tokio::spawn(async move {
        while let Some(effect) = queue.recv().await {
            let input = match effect {
                Effect::Send { chat_id, text, reply_to } => match client.send_message(chat_id, &text, reply_to).await {
                    Ok(sent) => Some(Input::Sent(sent.message)),
                    Err(e) => Some(Input::SendFailed { text, error: CliError::from(e).to_string() }),
                },
                Effect::Edit { chat_id, id, text } => match client.edit_message(chat_id, id, &text).await {
                    Ok(m) => Some(Input::Edited(m)),
                    Err(e) => Some(failed(None, "not edited", e)),
                },
                Effect::Delete { chat_id, id } => {
                    match client.delete_messages_for_everyone(chat_id, &[id]).await {
                        // The server's delete update removes it from the screen.
                        Ok(()) => None,
                        Err(e) => Some(failed(None, "not deleted", e)),
                    }
                }
                // The server's reactions update shows the change.
                Effect::React { chat_id, id, reactions } => match client.react(chat_id, id, &reactions).await {
                    Ok(_) => None,
                    Err(e) => Some(failed(None, "no reaction", e)),
                },
                Effect::Report { chat_id, id } => match client.report_message(chat_id, id, "spam", None, &[]).await {
                    Ok(report) => Some(Input::Reported { report_id: report.id }),
                    Err(e) => Some(failed(None, "not reported", e)),
                },
                Effect::Read { chat_id, max_id } => match client.read_history(chat_id, Some(max_id)).await {
                    Ok(()) => None,
                    Err(e) => Some(failed(None, "marking read", e)),
                },
                _ => None,
            };
            if let Some(input) = input {
                if tx.send(input).await.is_err() {
                    break;
                }
            }
        }
    });
    writes
}
