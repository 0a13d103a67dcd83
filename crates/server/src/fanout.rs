//! From commit to live push: reads the store's [`CommitFeed`] (committed events in commit
//! order) and publishes each as an update on the bus. One task, so order is kept.

use std::sync::Arc;

use heliograph_bus::{Notice, Topic};
use heliograph_store::{CommitFeed, Event, Log};

use crate::state::Shared;

pub async fn run(shared: Arc<Shared>, mut feed: CommitFeed) {
    while let Some(batch) = feed.recv().await {
        // A message write may have been committed: the search index follows the store.
        if batch.iter().any(|l| matches!(l.event, Event::NewMessage(_) | Event::EditMessage(_) | Event::DeleteMessages { .. })) {
            shared.search.wake();
        }
        for logged in batch {
            let (topic, owner) = match logged.log {
                Log::User(user) => (Topic::User(user.0), Some(user)),
                Log::Chat(chat) => (Topic::Chat(chat.0), None),
            };
            if let Event::NewMessage(m) = &logged.event {
                // Counted once per message: in its chat's log, or in its author's own log.
                if owner.is_none_or(|u| u == m.from) {
                    crate::metrics::message_committed();
                }
            }
            match crate::convert::update_for(&*shared.store, owner, &logged).await {
                Some(update) => shared.bus.publish(topic, Notice::Update(update)),
                None => shared.bus.publish(topic, Notice::Appended { pts: logged.pts }),
            }
        }
    }
    tracing::debug!("commit feed closed");
}
