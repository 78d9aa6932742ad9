//! The one connection to Redis a replica keeps: redis-rs's `ConnectionManager`, speaking RESP3 so
//! that commands and pub/sub share one multiplexed connection, which reconnects by itself and
//! resubscribes the replicas' channel after Redis comes back.
//!
//! The manager is lazy: a replica starts whether Redis is up or not. A monitor task pings it (which
//! is also what makes the manager reconnect while nothing else asks), keeps [`SharedRedis::is_connected`]
//! true to what the last ping saw for `/health` and for the endpoint's refusals, logs each change
//! once, and backs off while Redis is away. Messages of other replicas arrive on
//! [`SharedRedis::messages`]; a replica's own are filtered out by its id.

use std::{
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use redis::{
    AsyncCommands as _, IntoConnectionInfo as _, ProtocolVersion, PushInfo, PushKind, Value,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use crate::platform::SettingsError;

/// The variable that chooses the shared state.
pub(crate) const REDIS_URL_VARIABLE: &str = "MCP_REDIS_URL";

/// How long one Redis command may take before it fails: short, because a request waits for it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the monitor pings a Redis that answers.
const PING_INTERVAL: Duration = Duration::from_secs(1);
/// The longest wait between two attempts to reach a Redis that is away.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What one replica tells the others, on the channel `<prefix>:events`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Message {
    /// A resource changed: the legacy sessions subscribed to it (by id) and every
    /// `subscriptions/listen` stream whose filter holds `uri` are told.
    ResourceUpdated {
        /// The resource.
        uri: String,
        /// The legacy sessions subscribed to it.
        sessions: Vec<String>,
    },
    /// A legacy session was ended (`DELETE`): every replica closes its copy.
    SessionClosed {
        /// The session.
        session: String,
    },
    /// A client's answer (a JSON-RPC response) to a request a legacy session's server side sent,
    /// received by a replica that did not send it: the replica waiting for it takes it.
    ClientResponse {
        /// The session.
        session: String,
        /// The JSON-RPC response, as the client sent it.
        message: serde_json::Value,
    },
    /// `tasks/update` for a task another replica runs.
    TaskUpdate {
        /// The task.
        task: String,
        /// The client's answers.
        responses: rmcp::model::InputResponses,
    },
    /// `tasks/cancel` for a task another replica runs.
    TaskCancel {
        /// The task.
        task: String,
    },
}

/// Work to do when Redis answers again ([`SharedRedis::on_reconnect`]).
pub(crate) type ReconnectHook =
    Arc<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// A message and the replica that sent it.
#[derive(Serialize, Deserialize)]
struct Envelope {
    from: String,
    #[serde(flatten)]
    message: Message,
}

/// A replica's connection to the shared state.
pub(crate) struct SharedRedis {
    manager: ConnectionManager,
    prefix: String,
    /// How long a legacy session lives without a request (`--session-idle-timeout`): the TTL of
    /// what is kept per session.
    session_ttl: Duration,
    replica: String,
    /// The URL without its password, for logs and `/health`.
    display: String,
    connected: AtomicBool,
    /// What must be put back into a Redis that returns (empty, if it restarted without
    /// persistence) before the replica counts it as connected again.
    reconnect_hooks: Mutex<Vec<ReconnectHook>>,
    messages: broadcast::Sender<Arc<Message>>,
    last_error: Mutex<Option<String>>,
    /// The subscriptions recorded through this replica, by session: written back with the
    /// sessions after a Redis restart (`sessions.rs`), forgotten with the session.
    pub(crate) recorded:
        Mutex<std::collections::HashMap<String, std::collections::HashSet<String>>>,
}

impl SharedRedis {
    /// Opens (lazily) the Redis at `url`, keys under `prefix`, for the replica `replica`. Only a URL
    /// that cannot be one is an error here: a Redis that is down is reached later.
    pub(crate) fn open(
        url: &str,
        prefix: String,
        replica: String,
        session_ttl: Duration,
    ) -> Result<Arc<SharedRedis>, SettingsError> {
        let display = crate::events::url_without_password(url);
        let invalid = |problem: String| {
            SettingsError::new(
                REDIS_URL_VARIABLE,
                format!(
                    "{REDIS_URL_VARIABLE} is not a Redis URL ({problem}): give redis://host:port/db, e.g. redis://redis:6379/0, with the password as redis://:password@host:port/db"
                ),
            )
        };
        if url.starts_with("rediss://") {
            return Err(invalid(
                "TLS (rediss://) is not built in; reach Redis over redis:// inside the cluster"
                    .into(),
            ));
        }
        let info = url
            .into_connection_info()
            .map_err(|error| invalid(error.to_string()))?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = info.set_redis_settings(settings);
        let client = redis::Client::open(info).map_err(|error| invalid(error.to_string()))?;
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(push_tx)
            .set_automatic_resubscription()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(COMMAND_TIMEOUT);
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| invalid(error.to_string()))?;
        let shared = Arc::new(SharedRedis {
            manager,
            prefix,
            session_ttl,
            replica,
            display,
            connected: AtomicBool::new(false),
            reconnect_hooks: Mutex::default(),
            messages: broadcast::channel(1024).0,
            last_error: Mutex::new(None),
            recorded: Mutex::default(),
        });
        tokio::spawn(monitor(Arc::downgrade(&shared)));
        tokio::spawn(receive(Arc::downgrade(&shared), push_rx));
        Ok(shared)
    }

    /// A handle to the connection (a cheap clone).
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// `<prefix>:<name>`.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// The TTL, in whole seconds, of what is kept per legacy session.
    pub(crate) fn session_ttl_seconds(&self) -> u64 {
        self.session_ttl.as_secs().max(1)
    }

    /// This replica's id.
    pub(crate) fn replica(&self) -> &str {
        &self.replica
    }

    /// Whether the last ping was answered.
    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// The URL without its password.
    pub(crate) fn display(&self) -> &str {
        &self.display
    }

    /// Runs `act` on each message of the other replicas, one after the other, until `act` returns
    /// `None` (what it acts on is gone) or the replica's connection is dropped.
    pub(crate) fn follow<F>(&self, mut act: F)
    where
        F: FnMut(Arc<Message>) -> Option<futures::future::BoxFuture<'static, ()>> + Send + 'static,
    {
        let mut messages = self.messages.subscribe();
        tokio::spawn(async move {
            loop {
                let message = match messages.recv().await {
                    Ok(message) => message,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            event_type = "shared_state.lagged",
                            data.missed = missed,
                            "{missed} messages of other replicas were missed (this replica fell behind)"
                        );
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let Some(acting) = act(message) else {
                    return;
                };
                acting.await;
            }
        });
    }

    /// Runs `hook` each time Redis answers again after being away (not at the first connection),
    /// before the replica serves legacy sessions again: a request must not find the shared state
    /// connected and still without the sessions it lost.
    pub(crate) fn on_reconnect(&self, hook: ReconnectHook) {
        self.reconnect_hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(hook);
    }

    /// Tells the other replicas `message`. A Redis that is away loses it: the caller's own replica
    /// has acted on it already, and what the others miss is logged.
    pub(crate) async fn publish(&self, message: Message) {
        let envelope = Envelope {
            from: self.replica.clone(),
            message,
        };
        let Ok(payload) = serde_json::to_string(&envelope) else {
            return;
        };
        let mut connection = self.connection();
        let published: redis::RedisResult<i64> =
            connection.publish(self.key("events"), payload).await;
        if let Err(error) = published {
            tracing::warn!(
                event_type = "shared_state.publish.error",
                error = %error,
                "Other replicas were not told of a change (Redis did not take the message): {error}"
            );
        }
    }

    /// The `shared_state` object of `/health`.
    pub(crate) fn health(&self) -> serde_json::Value {
        let mut health = serde_json::json!({
            "backend": "redis",
            "connected": self.is_connected(),
            "url": self.display,
            "replica": self.replica,
        });
        if let Some(error) = self.lock_error().clone() {
            health["error"] = error.into();
        }
        health
    }

    /// The subscriptions recorded through this replica.
    pub(crate) fn recorded(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<String, std::collections::HashSet<String>>,
    > {
        self.recorded.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_error(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Pings Redis for as long as the replica lives: keeps `connected` true to the answers, subscribes
/// the channel once Redis first answers (the manager resubscribes it after each reconnection), and
/// waits longer between attempts while Redis stays away.
async fn monitor(shared: Weak<SharedRedis>) {
    let mut subscribed = false;
    let mut ever_connected = false;
    let mut backoff = Duration::from_millis(250);
    loop {
        let Some(redis) = shared.upgrade() else {
            return;
        };
        let mut connection = redis.connection();
        let mut answer: redis::RedisResult<()> = redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop);
        if answer.is_ok() && !subscribed {
            answer = connection.subscribe(redis.key("events")).await;
            subscribed = answer.is_ok();
        }
        let wait = match answer {
            Ok(()) => {
                if !redis.connected.load(Ordering::Relaxed) {
                    if ever_connected {
                        let hooks = redis
                            .reconnect_hooks
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .clone();
                        for hook in hooks {
                            let _ = tokio::time::timeout(COMMAND_TIMEOUT * 2, hook()).await;
                        }
                    }
                    redis.connected.store(true, Ordering::Relaxed);
                    *redis.lock_error() = None;
                    tracing::info!(
                        event_type = "shared_state.connected",
                        data.url = redis.display(),
                        data.replica = redis.replica(),
                        "Shared state reached: Redis at {} answers",
                        redis.display()
                    );
                    ever_connected = true;
                }
                backoff = Duration::from_millis(250);
                PING_INTERVAL
            }
            Err(error) => {
                let was_connected = redis.connected.swap(false, Ordering::Relaxed);
                let first = redis.lock_error().replace(error.to_string()).is_none();
                if was_connected || first {
                    tracing::warn!(
                        event_type = "shared_state.lost",
                        error = %error,
                        data.url = redis.display(),
                        "Shared state unreachable: Redis at {} does not answer ({error}); legacy sessions are refused with 503 until it does, 2026-07-28 requests are served; retrying with backoff",
                        redis.display()
                    );
                }
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        drop(redis);
        tokio::time::sleep(wait).await;
    }
}

/// Turns the pushes of the channel into [`Message`]s for this replica's listeners.
async fn receive(shared: Weak<SharedRedis>, mut pushes: mpsc::UnboundedReceiver<PushInfo>) {
    while let Some(push) = pushes.recv().await {
        let Some(redis) = shared.upgrade() else {
            return;
        };
        if push.kind != PushKind::Message {
            continue;
        }
        let Some(Value::BulkString(payload)) = push.data.get(1) else {
            continue;
        };
        match serde_json::from_slice::<Envelope>(payload) {
            Ok(envelope) if envelope.from == redis.replica => {}
            Ok(envelope) => {
                let _ = redis.messages.send(Arc::new(envelope.message));
            }
            Err(error) => {
                tracing::debug!(%error, "a message on the replicas' channel was not understood")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_their_type_and_sender() {
        let envelope = Envelope {
            from: "r1".into(),
            message: Message::SessionClosed {
                session: "abc".into(),
            },
        };
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"from": "r1", "type": "session_closed", "session": "abc"})
        );
    }
}
