//! A feed, as the stores and the wiring see it: the sink it reports to, its running task and
//! whether it follows its database. (What each store's feed does is in its own `feed.rs`.)

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use app::Notification;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Change;
use crate::model::{Position, UserId};

/// A feed's task, and word of when it has fixed its starting point: what is committed from
/// then on is reported. A server answers requests only after that, so a notification published
/// just after start is never missed.
pub struct RunningFeed {
    pub task: JoinHandle<()>,
    /// Whether it follows the database right now (for `/healthz`).
    pub status: FeedStatus,
    started: oneshot::Receiver<()>,
}

impl RunningFeed {
    /// Spawns `run`, which calls [`Started::now`] once its starting point is fixed and keeps
    /// its [`FeedStatus`] current.
    pub fn spawn<F>(run: impl FnOnce(Started, FeedStatus) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (tell, started) = oneshot::channel();
        let status = FeedStatus::default();
        let task = tokio::spawn(run(Started(Some(tell)), status.clone()));
        Self {
            task,
            status,
            started,
        }
    }

    /// Waits until the feed has started, at most `within`; whether it has.
    pub async fn started(&mut self, within: Duration) -> bool {
        matches!(
            tokio::time::timeout(within, &mut self.started).await,
            Ok(Ok(()))
        )
    }
}

/// Whether a feed follows its database: what `/healthz` reports as `feed`, and the
/// `belfry_feed_following` gauge (1 or 0). A feed that fails is retried for ever; this says,
/// meanwhile, that what is committed is not being pushed.
#[derive(Clone, Debug, Default)]
pub struct FeedStatus(Arc<std::sync::Mutex<Option<String>>>);

impl FeedStatus {
    /// The feed follows (again).
    pub fn following(&self) {
        let mut problem = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if problem.take().is_some() {
            tracing::info!("the feed follows the database again");
        }
        crate::metrics::feed_following(true);
    }

    /// The feed cannot follow, for `why`.
    pub fn stalled(&self, why: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.to_owned());
        crate::metrics::feed_following(false);
    }

    /// Why the feed does not follow, or `None` while it does.
    pub fn problem(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Held by a feed until its starting point is fixed.
pub struct Started(Option<oneshot::Sender<()>>);

impl Started {
    /// The feed's starting point is fixed (said once; later calls do nothing).
    pub fn now(&mut self) {
        if let Some(tell) = self.0.take() {
            let _ = tell.send(());
        }
    }
}

/// What a store's feed reports to. Called from the feed's one task, in commit order: new
/// notifications, and changes of read state and removals, whoever made them (this instance,
/// another one, the host application writing the database itself).
pub trait FeedSink: Send + Sync {
    /// `notification` was committed at `position`; every committed notification is reported
    /// once, in position order (a feed that resumes after an outage may report one again: the
    /// receiver drops what is not beyond what it has).
    fn committed(&self, position: Position, notification: &Notification);

    /// Some of `user`'s notifications changed (after the inserts reported before it).
    fn changed(&self, user: &UserId, change: &Change);
}
