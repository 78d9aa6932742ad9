//! Resource subscriptions (`resources/subscribe`, `resources/unsubscribe`, and protocol 2026-07-28's
//! `subscriptions/listen`) and the `notifications/resources/updated` a server sends when a subscribed
//! resource changes.
//!
//! A 2025 client subscribes per session and hears updates on its session's stream; a 2026-07-28
//! client, which has no session, holds a `subscriptions/listen` request open, and hears them on that
//! request's stream, tagged with its id (rmcp's `SubscriptionSink` tags them and enforces the filter).
//! One `notify_updated` reaches both.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, Weak},
};

use rmcp::{
    Peer, RoleServer,
    model::ResourceUpdatedNotificationParam,
    service::{SubscriptionContext, SubscriptionSink},
};

use super::ClientSession;

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
    /// Records that `session` (whose client is `peer`) subscribed to `uri`.
    pub(crate) fn subscribe(
        &self,
        session: &Arc<ClientSession>,
        peer: &Peer<RoleServer>,
        uri: &str,
    ) {
        session.subscribe(peer, uri);
        let mut sessions = self.lock();
        sessions.retain(|s| s.strong_count() > 0);
        if !sessions
            .iter()
            .any(|s| std::ptr::eq(s.as_ptr(), Arc::as_ptr(session)))
        {
            sessions.push(Arc::downgrade(session));
        }
    }

    /// Records that `session` no longer wants updates of `uri`.
    pub(crate) fn unsubscribe(&self, session: &ClientSession, uri: &str) {
        session.unsubscribe(uri);
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

    /// How many connected sessions and open `subscriptions/listen` requests are subscribed to `uri`.
    pub fn subscriber_count(&self, uri: &str) -> usize {
        self.subscribers(uri).len() + self.listeners_of(uri).len()
    }

    /// Sends `notifications/resources/updated` for `uri` to every session subscribed to it, and
    /// returns how many were notified. A client that went away meanwhile is skipped, not an error.
    pub async fn notify_updated(&self, uri: &str) -> usize {
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
