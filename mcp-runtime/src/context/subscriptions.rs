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
    /// Open `subscriptions/listen` requests, each with a number of its own.
    listeners: Arc<Mutex<Vec<(u64, SubscriptionSink)>>>,
    next_listener: Arc<std::sync::atomic::AtomicU64>,
    /// Legacy HTTP sessions held by this process, by id: where updates published by another
    /// replica for a session are delivered.
    by_id: Arc<Mutex<HashMap<String, Weak<ClientSession>>>>,
    /// The shared state, with several replicas.
    shared: Option<Arc<SharedRedis>>,
}

/// Removes a listener when its `subscriptions/listen` ends, however it ends.
struct Listening<'a> {
    subscriptions: &'a Subscriptions,
    number: u64,
}

impl Drop for Listening<'_> {
    fn drop(&mut self) {
        self.subscriptions
            .listeners()
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

    /// Serves one `subscriptions/listen` request (acknowledged already) until the client cancels it or
    /// goes away: updates of the URIs its filter accepted reach it meanwhile.
    pub(crate) async fn listen(&self, context: SubscriptionContext) {
        let number = self
            .next_listener
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.listeners().push((number, context.sink().clone()));
        let _listening = Listening {
            subscriptions: self,
            number,
        };
        context.cancelled().await;
    }

    /// How many connected sessions and open `subscriptions/listen` requests of this replica are
    /// subscribed to `uri` (with several replicas, legacy sessions' subscriptions are kept in the
    /// shared state and not counted here).
    pub fn subscriber_count(&self, uri: &str) -> usize {
        self.subscribers(uri).len() + self.listeners_of(uri).len()
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
        let mut notified = 0;
        for sink in self.listeners_of(uri) {
            match sink.notify_resource_updated(uri).await {
                Ok(()) => notified += 1,
                Err(error) => {
                    tracing::debug!(%error, uri, "could not notify a listener of a resource update")
                }
            }
        }
        notified
    }

    fn listeners_of(&self, uri: &str) -> Vec<SubscriptionSink> {
        self.listeners()
            .iter()
            .map(|(_, sink)| sink)
            .filter(|sink| {
                sink.accepted()
                    .resource_subscriptions
                    .as_ref()
                    .is_some_and(|uris| uris.iter().any(|u| u == uri))
            })
            .cloned()
            .collect()
    }

    fn listeners(&self) -> std::sync::MutexGuard<'_, Vec<(u64, SubscriptionSink)>> {
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
