//! Legacy sessions (protocol revisions before 2026-07-28) shared by every replica, through rmcp's
//! [`SessionStore`]: the `initialize` parameters of each session are kept in Redis, and a replica
//! that receives a request for a session it does not hold has rmcp replay the handshake from them.
//!
//! rmcp writes a session once (at `initialize`) and reads it when it restores one; it removes it on
//! `DELETE`. What it does not do, this store adds:
//!
//! - **Idle expiry by TTL.** A session's key lives for the idle timeout, renewed by the requests
//!   any replica serves for it ([`SharedSessions::touch`]), so a session nobody uses expires
//!   everywhere, as one in memory does. A replica renews a session at most once per tenth of the
//!   timeout: a renewal per request was most of what Redis cost a call (BENCHMARKS.md), and a
//!   session then expires between nine tenths of the timeout and the timeout after its last use.
//! - **`DELETE` everywhere.** Deleting publishes [`Message::SessionClosed`]; every replica closes its
//!   own copy, so a deleted session answers 404 whichever replica is asked.
//! - **Surviving a Redis restart.** Each replica remembers the sessions it holds, and writes them
//!   back when Redis answers again (and when a touch finds the key gone), so that a Redis without
//!   persistence does not end every client's session.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use redis::AsyncCommands as _;
use rmcp::transport::streamable_http_server::session::{
    SessionState, SessionStore, SessionStoreError,
};

use super::redis::{Message, SharedRedis};

/// rmcp's session store over Redis.
pub(crate) struct SharedSessions {
    redis: Arc<SharedRedis>,
    /// The sessions this replica holds, as stored (what it writes back after a Redis restart), and
    /// when it last renewed each.
    held: Mutex<HashMap<String, Held>>,
}

struct Held {
    state: String,
    renewed: Instant,
}

impl SharedSessions {
    /// Sessions kept for the idle timeout after their last request.
    pub(crate) fn new(redis: Arc<SharedRedis>) -> Arc<SharedSessions> {
        let sessions = Arc::new(SharedSessions {
            redis,
            held: Mutex::default(),
        });
        let weak = Arc::downgrade(&sessions);
        sessions.redis.on_reconnect(Arc::new(move || {
            let weak = weak.clone();
            Box::pin(async move {
                if let Some(sessions) = weak.upgrade() {
                    sessions.write_back().await;
                }
            })
        }));
        sessions
    }

    /// The Redis the sessions are in.
    pub(crate) fn redis(&self) -> &Arc<SharedRedis> {
        &self.redis
    }

    fn key(&self, id: &str) -> String {
        self.redis.key(&format!("session:{id}"))
    }

    fn ttl_seconds(&self) -> u64 {
        self.redis.session_ttl_seconds()
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn hold(&self, id: &str, state: String) {
        self.held().insert(
            id.to_string(),
            Held {
                state,
                renewed: Instant::now(),
            },
        );
    }

    /// Whether a request for `id` served now should renew its TTL: the first in a tenth of the
    /// timeout does (and is counted as done).
    pub(crate) fn renewal_due(&self, id: &str) -> bool {
        let every = Duration::from_secs(self.ttl_seconds()) / 10;
        match self.held().get_mut(id) {
            Some(held) if held.renewed.elapsed() < every => false,
            Some(held) => {
                held.renewed = Instant::now();
                true
            }
            // Not held here yet: rmcp restores it from the store, whose read renews it.
            None => false,
        }
    }

    /// Whether the session `id` exists on any replica.
    pub(crate) async fn exists(&self, id: &str) -> Result<bool, redis::RedisError> {
        self.redis.connection().exists(self.key(id)).await
    }

    /// Renews the session's TTL: a request for it was served here. When the key is gone although
    /// the session lives here (Redis restarted without persistence), writes it back.
    pub(crate) async fn touch(&self, id: &str) {
        let mut connection = self.redis.connection();
        let renewed: redis::RedisResult<(bool, bool)> = redis::pipe()
            .expire(self.key(id), self.ttl_seconds() as i64)
            .expire(
                self.redis.key(&format!("session:{id}:subscriptions")),
                self.ttl_seconds() as i64,
            )
            .query_async(&mut connection)
            .await;
        if let Ok((false, _)) = renewed {
            let stored = self.held().get(id).map(|held| held.state.clone());
            if let Some(state) = stored {
                let _: redis::RedisResult<()> = connection
                    .set_ex(self.key(id), state, self.ttl_seconds())
                    .await;
            }
        }
    }

    /// This replica no longer holds the session (it closed it, or it expired here).
    pub(crate) fn forget(&self, id: &str) {
        self.held().remove(id);
        self.redis.recorded().remove(id);
    }

    /// Writes back every session this replica holds and Redis lacks, with the subscriptions
    /// recorded through this replica.
    async fn write_back(&self) {
        let held: Vec<(String, String)> = self
            .held()
            .iter()
            .map(|(id, held)| (id.clone(), held.state.clone()))
            .collect();
        if held.is_empty() {
            return;
        }
        let recorded = self.redis.recorded().clone();
        let ttl = self.ttl_seconds();
        let mut pipe = redis::pipe();
        for (id, state) in &held {
            pipe.cmd("SET")
                .arg(self.key(id))
                .arg(state)
                .arg("EX")
                .arg(ttl)
                .arg("NX")
                .ignore();
            let own = self.redis.key(&format!("session:{id}:subscriptions"));
            for uri in recorded.get(id).into_iter().flatten() {
                pipe.sadd(self.redis.key(&format!("subscribers:{uri}")), id)
                    .ignore()
                    .sadd(&own, uri)
                    .ignore();
            }
            pipe.expire(&own, ttl as i64).ignore();
        }
        let written: redis::RedisResult<()> = pipe.query_async(&mut self.redis.connection()).await;
        match written {
            Ok(()) => tracing::info!(
                event_type = "shared_state.sessions.restored",
                data.sessions = held.len(),
                "Sessions this replica holds written back to the shared state"
            ),
            Err(error) => tracing::warn!(
                event_type = "shared_state.sessions.error",
                error = %error,
                "Sessions this replica holds could not be written back to the shared state: {error}"
            ),
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for SharedSessions {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let mut connection = self.redis.connection();
        let stored: Option<String> = redis::cmd("GETEX")
            .arg(self.key(session_id))
            .arg("EX")
            .arg(self.ttl_seconds())
            .query_async(&mut connection)
            .await?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let state: SessionState = serde_json::from_str(&stored)?;
        self.hold(session_id, stored);
        Ok(Some(state))
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let stored = serde_json::to_string(state)?;
        let mut connection = self.redis.connection();
        let () = connection
            .set_ex(self.key(session_id), &stored, self.ttl_seconds())
            .await?;
        self.hold(session_id, stored);
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        self.forget(session_id);
        let mut connection = self.redis.connection();
        let subscriptions_key = self
            .redis
            .key(&format!("session:{session_id}:subscriptions"));
        let uris: Vec<String> = connection
            .smembers(&subscriptions_key)
            .await
            .unwrap_or_default();
        let mut pipe = redis::pipe();
        pipe.del(self.key(session_id)).ignore();
        pipe.del(&subscriptions_key).ignore();
        for uri in uris {
            pipe.srem(self.redis.key(&format!("subscribers:{uri}")), session_id)
                .ignore();
        }
        let () = pipe.query_async(&mut connection).await?;
        self.redis
            .publish(Message::SessionClosed {
                session: session_id.to_string(),
            })
            .await;
        Ok(())
    }
}
