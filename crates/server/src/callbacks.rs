//! Callback queries in flight: a person pressed a bot's button and waits for the bot's
//! `answerCallbackQuery`.
//!
//! The press itself is durable (an [`heliograph_store::Event::CallbackQuery`] in the bot's
//! log, so the bot sees it however late it polls); the answer is ephemeral, as in Telegram:
//! it reaches the person only while their request waits. A bot may answer before the
//! waiting request registered (it polls the moment the press commits), so an early answer is
//! kept for a while.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use heliograph_core::{Pts, UserId};
use tokio::sync::oneshot;

/// How long a person's press waits for the bot's answer.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long an answer that nobody waits for yet is kept.
const KEEP_EARLY: Duration = Duration::from_secs(60);

/// What the bot answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// A notice to show; empty for none.
    pub text: Option<String>,
    /// Show it as an alert the person must dismiss rather than a passing notice.
    pub alert: bool,
    /// A URL to open.
    pub url: Option<String>,
}

/// The query's id as bots see it: the bot's id and the press's place in the bot's log.
pub fn query_id(bot: UserId, pts: Pts) -> String {
    format!("{}-{}", bot.0, pts)
}

/// The inverse of [`query_id`].
pub fn parse_query_id(id: &str) -> Option<(UserId, Pts)> {
    let (bot, pts) = id.split_once('-')?;
    Some((UserId(bot.parse().ok()?), pts.parse().ok()?))
}

#[derive(Default)]
pub struct Callbacks {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    waiting: HashMap<(UserId, Pts), oneshot::Sender<Answer>>,
    early: HashMap<(UserId, Pts), (Instant, Answer)>,
}

impl Callbacks {
    /// Waits up to [`WAIT`] for the bot's answer to the press at `pts` of `bot`'s log;
    /// `None` if the bot did not answer in time.
    pub async fn wait(&self, bot: UserId, pts: Pts) -> Option<Answer> {
        let rx = {
            let mut inner = self.inner.lock().expect("callbacks lock");
            if let Some((_, answer)) = inner.early.remove(&(bot, pts)) {
                return Some(answer);
            }
            let (tx, rx) = oneshot::channel();
            inner.waiting.insert((bot, pts), tx);
            rx
        };
        let answer = tokio::time::timeout(WAIT, rx).await.ok().and_then(Result::ok);
        self.inner.lock().expect("callbacks lock").waiting.remove(&(bot, pts));
        answer
    }

    /// Hands the bot's answer to whoever waits for it (or keeps it for them a while).
    pub fn answer(&self, bot: UserId, pts: Pts, answer: Answer) {
        let mut inner = self.inner.lock().expect("callbacks lock");
        let now = Instant::now();
        inner.early.retain(|_, (at, _)| now.duration_since(*at) < KEEP_EARLY);
        match inner.waiting.remove(&(bot, pts)) {
            Some(tx) => {
                let _ = tx.send(answer);
            }
            None => {
                inner.early.insert((bot, pts), (now, answer));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_ids_round_trip() {
        assert_eq!(parse_query_id(&query_id(UserId(42), 7)), Some((UserId(42), 7)));
        for bad in ["", "42", "42-", "-7", "a-7", "42-b"] {
            assert_eq!(parse_query_id(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn answers_reach_the_waiter_early_or_late() {
        let c = std::sync::Arc::new(Callbacks::default());
        c.answer(UserId(1), 5, Answer { text: Some("early".into()), ..Answer::default() });
        assert_eq!(c.wait(UserId(1), 5).await.unwrap().text.as_deref(), Some("early"));

        let waiter = tokio::spawn({
            let c = c.clone();
            async move { c.wait(UserId(1), 6).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        c.answer(UserId(1), 6, Answer { alert: true, ..Answer::default() });
        assert!(waiter.await.unwrap().unwrap().alert);
    }
}
