//! Resource subscriptions (`resources/subscribe`, `resources/unsubscribe`, and protocol 2026-07-28's
//! `subscriptions/listen`) and the `notifications/resources/updated` a server sends when a subscribed
//! resource changes.
//!
//! A 2025 client subscribes per session and hears updates on its session's stream; a 2026-07-28
//! client, which has no session, holds a `subscriptions/listen` request open, and hears them on that
//! request's stream, tagged with its id (rmcp's `SubscriptionSink` tags them and enforces the filter).
//! One `notify_updated` reaches both.
//!
//! Several replicas (`MCP_REDIS_URL`) keep the legacy subscriptions in Redis and publish each update
//! to every replica (`crate::replicas`): a client's subscription, its event stream and the call that
//! changes the resource may each be served by a different replica. Each replica delivers an update
//! to its own `subscriptions/listen` streams and to the subscribed sessions it holds a copy of; only
//! the copy holding the session's event stream reaches the client (rmcp drops the others' sends).

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use rmcp::{
    Peer, RoleServer,
    model::ResourceUpdatedNotificationParam,
    service::{SubscriptionContext, SubscriptionSink},
};

use super::ClientSession;
use crate::replicas::{Message, SharedRedis};

/// The resource subscriptions of every connected client, shared by the whole server.
///
/// Clients subscribe with `resources/subscribe` to any URI the server serves (a resource, or a URI a
/// template matches); the framework keeps track of them per session and forgets a session when it
/// ends. When the data behind a resource changes, tell the subscribers:
///
/// ```no_run
/// # use mcp_runtime::{Context, Subscriptions, ToolError};
/// // From a tool, through its context:
/// # async fn tool(ctx: &Context) -> Result<String, ToolError> {
/// let notified = ctx.notify_resource_updated("db://tables/users").await;
/// # Ok(format!("{notified}")) }
/// // Or keep the handle (it is a cheap clone) for a background task, taking it as a parameter:
/// # async fn tool2(subscriptions: Subscriptions) -> Result<(), ToolError> {
/// tokio::spawn(async move { subscriptions.notify_updated("db://tables/users").await });
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Subscriptions {
    sessions: Arc<Mutex<Vec<Weak<ClientSession>>>>,
    /// Open `subscriptions/listen` requests, and those acknowledged but not yet open.
    listeners: Arc<Mutex<Listeners>>,
    next_listener: Arc<std::sync::atomic::AtomicU64>,
    /// Legacy HTTP sessions held by this process, by id: where updates published by another
    /// replica for a session are delivered.
    by_id: Arc<Mutex<HashMap<String, Weak<ClientSession>>>>,
    /// The shared state, with several replicas.
    shared: Option<Arc<SharedRedis>>,
}

/// The `subscriptions/listen` requests of this process.
///
/// rmcp acknowledges a listen request and only then hands it to the handler: a client that acts on
/// the acknowledgment (changes a resource at once) could otherwise race the registration and miss
/// the update. So a listen is expected from the moment its filter is accepted, updates for it are
/// kept until it opens, and both lists share one lock so that an update finds one or the other.
#[derive(Default)]
struct Listeners {
    /// Open requests, each with a number of its own.
    open: Vec<(u64, SubscriptionSink)>,
    /// Accepted, being acknowledged, oldest first.
    expected: Vec<Expected>,
}

impl Listeners {
    /// How many open requests hear updates of `uri`.
    fn open_for(&self, uri: &str) -> usize {
        self.open
            .iter()
            .filter(|(_, sink)| hears(sink, uri))
            .count()
    }
}

/// Whether `sink`'s accepted filter lets updates of `uri` through.
fn hears(sink: &SubscriptionSink, uri: &str) -> bool {
    sink.accepted()
        .resource_subscriptions
        .as_ref()
        .is_some_and(|uris| uris.iter().any(|u| u == uri))
}

/// A listen request whose filter was accepted and whose acknowledgment is on its way.
struct Expected {
    uris: Vec<String>,
    since: Instant,
    /// Updates raised meanwhile, sent once it opens.
    missed: Vec<String>,
}

/// How long an accepted listen request may take to open before it is taken for failed (its
/// acknowledgment could not be sent): far longer than the hand-over takes, short enough that the
/// list stays small.
const EXPECTED_FOR: Duration = Duration::from_secs(30);

/// Removes a listener when its `subscriptions/listen` ends, however it ends.
struct Listening<'a> {
    subscriptions: &'a Subscriptions,
    number: u64,
}

impl Drop for Listening<'_> {
    fn drop(&mut self) {
        self.subscriptions
            .listeners()
            .open
            .retain(|(number, _)| *number != self.number);
    }
}

impl Subscriptions {
    /// Subscriptions shared with the other replicas through `redis`: updates they publish reach
    /// this replica's subscribers from now on.
    pub(crate) fn shared(redis: Arc<SharedRedis>) -> Subscriptions {
        let local = Subscriptions::default();
        let receiver = local.clone();
        redis.follow(move |message| {
            let receiver = receiver.clone();
            Some(Box::pin(async move {
                if let Message::ResourceUpdated { uri, sessions } = &*message {
                    receiver.deliver(uri, sessions).await;
                }
            }))
        });
        Subscriptions {
            shared: Some(redis),
            ..local
        }
    }

    /// Records the legacy session `session`, whose id is `id` and client `peer`.
    pub(crate) fn opened(&self, session: &Arc<ClientSession>, id: &str, peer: &Peer<RoleServer>) {
        session.opened(id, peer);
        let mut by_id = self.by_id();
        by_id.retain(|_, s| s.strong_count() > 0);
        by_id.insert(id.to_string(), Arc::downgrade(session));
    }

    fn by_id(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<ClientSession>>> {
        self.by_id.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `session` (whose client is `peer`) subscribed to `uri`. With several replicas
    /// the subscription is kept in the shared state, and an error says it could not be.
    pub(crate) async fn subscribe(
        &self,
        session: &Arc<ClientSession>,
        peer: &Peer<RoleServer>,
        uri: &str,
    ) -> Result<(), String> {
        if let (Some(redis), Some(id)) = (&self.shared, session.id()) {
            return redis
                .subscribe(id, uri)
                .await
                .map_err(|error| unreachable_message(redis, &error));
        }
        session.subscribe(peer, uri);
        let mut sessions = self.lock();
        sessions.retain(|s| s.strong_count() > 0);
        if !sessions
            .iter()
            .any(|s| std::ptr::eq(s.as_ptr(), Arc::as_ptr(session)))
        {
            sessions.push(Arc::downgrade(session));
        }
        Ok(())
    }

    /// Records that `session` no longer wants updates of `uri`.
    pub(crate) async fn unsubscribe(
        &self,
        session: &ClientSession,
        uri: &str,
    ) -> Result<(), String> {
        if let (Some(redis), Some(id)) = (&self.shared, session.id()) {
            return redis
                .unsubscribe(id, uri)
                .await
                .map_err(|error| unreachable_message(redis, &error));
        }
        session.unsubscribe(uri);
        Ok(())
    }

    /// Notes that a `subscriptions/listen` request for updates of `uris` was accepted: it opens
    /// once its acknowledgment is sent, and updates raised in between are kept for it.
    pub(crate) fn expect_listener(&self, uris: &[String]) {
        let mut listeners = self.listeners();
        listeners
            .expected
            .retain(|expected| expected.since.elapsed() < EXPECTED_FOR);
        listeners.expected.push(Expected {
            uris: uris.to_vec(),
            since: Instant::now(),
            missed: Vec::new(),
        });
    }

    /// Serves one `subscriptions/listen` request (acknowledged already, expected with
    /// `expect_listener(uris)`) until the client cancels it or goes away: updates of the URIs its
    /// filter accepted reach it meanwhile, and those raised while it was being acknowledged first.
    pub(crate) async fn listen(&self, context: SubscriptionContext, uris: &[String]) {
        let number = self
            .next_listener
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let missed = {
            let mut listeners = self.listeners();
            listeners.open.push((number, context.sink().clone()));
            // Any expected request with the same URIs heard exactly the same updates.
            match listeners.expected.iter().position(|e| e.uris == uris) {
                Some(index) => listeners.expected.remove(index).missed,
                None => Vec::new(),
            }
        };
        let _listening = Listening {
            subscriptions: self,
            number,
        };
        for uri in missed {
            if let Err(error) = context.sink().notify_resource_updated(uri.as_str()).await {
                tracing::debug!(%error, uri, "could not notify a listener of a resource update");
            }
        }
        context.cancelled().await;
    }

    /// How many connected sessions and open `subscriptions/listen` requests of this replica are
    /// subscribed to `uri` (with several replicas, legacy sessions' subscriptions are kept in the
    /// shared state and not counted here).
    pub fn subscriber_count(&self, uri: &str) -> usize {
        self.subscribers(uri).len() + self.listeners().open_for(uri)
    }

    /// Sends `notifications/resources/updated` for `uri` to every session subscribed to it, and
    /// returns how many this replica notified. A client that went away meanwhile is skipped, not an
    /// error. With several replicas the update is also published to the others, which notify the
    /// subscribers whose streams they hold.
    pub async fn notify_updated(&self, uri: &str) -> usize {
        let Some(redis) = &self.shared else {
            return self.notify_local(uri).await;
        };
        let sessions = redis.subscribers(uri).await.unwrap_or_else(|error| {
            tracing::warn!(
                event_type = "shared_state.subscriptions.error",
                error = %error,
                data.uri = uri,
                "The legacy sessions subscribed to {uri} could not be read from the shared state; only subscriptions/listen streams are told of the update"
            );
            Vec::new()
        });
        // Sessions with no id (stdio) keep their subscriptions here, as without shared state.
        let notified = self.deliver(uri, &sessions).await + self.notify_sessions(uri).await;
        redis
            .publish(Message::ResourceUpdated {
                uri: uri.to_string(),
                sessions,
            })
            .await;
        notified
    }

    /// Delivers an update of `uri` to the listed legacy sessions this replica holds, and to its
    /// `subscriptions/listen` streams.
    async fn deliver(&self, uri: &str, sessions: &[String]) -> usize {
        let peers: Vec<Peer<RoleServer>> = {
            let by_id = self.by_id();
            sessions
                .iter()
                .filter_map(|id| by_id.get(id)?.upgrade())
                .filter_map(|session| session.peer().cloned())
                .filter(|peer| !peer.is_transport_closed())
                .collect()
        };
        let mut notified = 0;
        for peer in peers {
            if peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await
                .is_ok()
            {
                notified += 1;
            }
        }
        notified + self.notify_listeners(uri).await
    }

    /// Without shared state: the sessions and streams of this process.
    async fn notify_local(&self, uri: &str) -> usize {
        self.notify_sessions(uri).await + self.notify_listeners(uri).await
    }

    /// The sessions subscribed in this process.
    async fn notify_sessions(&self, uri: &str) -> usize {
        let mut notified = 0;
        for peer in self.subscribers(uri) {
            match peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await
            {
                Ok(()) => notified += 1,
                Err(error) => {
                    tracing::debug!(%error, uri, "could not notify a subscriber of a resource update")
                }
            }
        }
        notified
    }

    async fn notify_listeners(&self, uri: &str) -> usize {
        let (open, mut notified) = self.listeners_of(uri);
        for sink in open {
            match sink.notify_resource_updated(uri).await {
                Ok(()) => notified += 1,
                Err(error) => {
                    tracing::debug!(%error, uri, "could not notify a listener of a resource update")
                }
            }
        }
        notified
    }

    /// The open listeners of `uri`, and how many expected ones kept the update for later.
    fn listeners_of(&self, uri: &str) -> (Vec<SubscriptionSink>, usize) {
        let mut listeners = self.listeners();
        let mut kept = 0;
        for expected in &mut listeners.expected {
            if expected.since.elapsed() < EXPECTED_FOR && expected.uris.iter().any(|u| u == uri) {
                if !expected.missed.iter().any(|m| m == uri) {
                    expected.missed.push(uri.to_string());
                }
                kept += 1;
            }
        }
        let open = listeners
            .open
            .iter()
            .map(|(_, sink)| sink)
            .filter(|sink| hears(sink, uri))
            .cloned()
            .collect();
        (open, kept)
    }

    fn listeners(&self) -> std::sync::MutexGuard<'_, Listeners> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn subscribers(&self, uri: &str) -> Vec<Peer<RoleServer>> {
        let mut sessions = self.lock();
        sessions.retain(|s| s.strong_count() > 0);
        sessions
            .iter()
            .filter_map(Weak::upgrade)
            .filter_map(|session| session.subscriber(uri))
            .filter(|peer| !peer.is_transport_closed())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Weak<ClientSession>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What one session subscribed to, and the client to notify.
#[derive(Default)]
pub(crate) struct SessionSubscriptions {
    peer: Option<Peer<RoleServer>>,
    uris: HashSet<String>,
}

/// A subscription the shared state could not record, said to the client.
fn unreachable_message(redis: &SharedRedis, error: &redis::RedisError) -> String {
    format!(
        "the subscription could not be recorded: the shared state (Redis at {}) did not answer ({error}); try again shortly",
        redis.display()
    )
}

impl ClientSession {
    fn subscribe(&self, peer: &Peer<RoleServer>, uri: &str) {
        let mut subscriptions = self.subscriptions();
        subscriptions.peer.get_or_insert_with(|| peer.clone());
        subscriptions.uris.insert(uri.to_string());
    }

    fn unsubscribe(&self, uri: &str) {
        self.subscriptions().uris.remove(uri);
    }

    fn subscriber(&self, uri: &str) -> Option<Peer<RoleServer>> {
        let subscriptions = self.subscriptions();
        subscriptions
            .uris
            .contains(uri)
            .then(|| subscriptions.peer.clone())
            .flatten()
    }
}
