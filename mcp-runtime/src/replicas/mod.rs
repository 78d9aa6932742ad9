//! Several replicas of one server behind a load balancer that keeps no sticky sessions: what they
//! share, so that a client sees one server whichever replica each request reaches.
//!
//! With `MCP_REDIS_URL` unset everything stays in the process, as a single replica needs. With it
//! set, Redis holds what must outlive one process or be seen by all:
//!
//! - legacy sessions ([`sessions`]), which rmcp restores on any replica from their `initialize`;
//! - which legacy session is subscribed to which resource, and the resource updates themselves,
//!   published to every replica ([`redis::Message::ResourceUpdated`]): the one holding a session's
//!   event stream, or a `subscriptions/listen` request of protocol 2026-07-28, delivers it;
//! - a client's answer to a server request (sampling, elicitation) of a legacy session, passed to
//!   the replica waiting for it;
//! - tasks ([`tasks`]): any replica answers `tasks/get`, and passes `tasks/update` and
//!   `tasks/cancel` on to the one running the task; a task whose replica died ends as failed.
//!
//! The request state of 2026-07-28's input-required rounds needs no store: it travels with the
//! client, sealed with `MCP_STATE_KEY`, which is why every replica must be given the same key (a
//! replica with `MCP_REDIS_URL` and no `MCP_STATE_KEY` refuses to start).
//!
//! Redis being away degrades, it does not stop: 2026-07-28 requests (stateless) are served, legacy
//! requests are refused with a 503 naming the problem, and everything resumes when Redis answers.

pub(crate) mod redis;
pub(crate) mod sessions;
pub(crate) mod tasks;

use std::sync::Arc;

use ::redis::AsyncCommands as _;

use crate::{cli::Cli, context::StateKeys, platform::SettingsError};

pub(crate) use self::{
    redis::{Message, REDIS_URL_VARIABLE, SharedRedis},
    sessions::SharedSessions,
    tasks::SharedTaskStore,
};

/// What this replica shares with the others: nothing (in memory), or a Redis.
#[derive(Clone, Default)]
pub(crate) struct Replicas {
    redis: Option<Arc<SharedRedis>>,
}

impl Replicas {
    /// The shared state `--redis-url` / `MCP_REDIS_URL` chooses, for the server `service`.
    pub(crate) fn from_cli(
        cli: &Cli,
        service: &str,
        state_keys: &StateKeys,
    ) -> Result<Replicas, SettingsError> {
        let Some(url) = cli
            .redis_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        else {
            return Ok(Replicas::default());
        };
        if state_keys.random {
            return Err(SettingsError::new(
                crate::context::STATE_KEY_VARIABLE,
                format!(
                    "{REDIS_URL_VARIABLE} is set, so this is one of several replicas, but MCP_STATE_KEY is not: each replica would seal requestState with a key of its own and refuse the others'. Give every replica the same MCP_STATE_KEY (e.g. from `openssl rand -hex 32`, kept in a Secret)"
                ),
            ));
        }
        let prefix = cli
            .redis_prefix
            .clone()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| format!("cm-mcp:{service}"));
        let redis = SharedRedis::open(url, prefix, replica_id(), cli.session_idle_timeout)?;
        Ok(Replicas { redis: Some(redis) })
    }

    /// The Redis, when there is one.
    pub(crate) fn redis(&self) -> Option<&Arc<SharedRedis>> {
        self.redis.as_ref()
    }

    /// The `shared_state` object of `/health`.
    pub(crate) fn health(&self) -> serde_json::Value {
        match &self.redis {
            Some(redis) => redis.health(),
            None => serde_json::json!({ "backend": "memory", "connected": true }),
        }
    }
}

/// This replica's name in logs and messages: the host name (a pod's name on Kubernetes) and a
/// random part, so that a restarted pod is not taken for its predecessor.
fn replica_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".to_string());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}", &random[..8])
}

/// The resource subscriptions of legacy sessions, in Redis: `subscribers:<uri>` holds the ids of
/// the sessions subscribed to `uri`, `session:<id>:subscriptions` the URIs of one session (what its
/// `DELETE` removes).
impl SharedRedis {
    /// Records that the legacy session `session` subscribed to `uri`.
    pub(crate) async fn subscribe(&self, session: &str, uri: &str) -> ::redis::RedisResult<()> {
        self.recorded()
            .entry(session.to_string())
            .or_default()
            .insert(uri.to_string());
        let own = self.key(&format!("session:{session}:subscriptions"));
        let mut pipe = ::redis::pipe();
        pipe.sadd(self.key(&format!("subscribers:{uri}")), session)
            .ignore()
            .sadd(&own, uri)
            .ignore()
            // Expires with the session (each request renews both); `subscribers:<uri>` loses the
            // ids of expired sessions as updates find them gone.
            .expire(&own, self.session_ttl_seconds() as i64)
            .ignore();
        pipe.query_async(&mut self.connection()).await
    }

    /// Records that `session` no longer wants updates of `uri`.
    pub(crate) async fn unsubscribe(&self, session: &str, uri: &str) -> ::redis::RedisResult<()> {
        if let Some(uris) = self.recorded().get_mut(session) {
            uris.remove(uri);
        }
        let mut pipe = ::redis::pipe();
        pipe.srem(self.key(&format!("subscribers:{uri}")), session)
            .ignore()
            .srem(self.key(&format!("session:{session}:subscriptions")), uri)
            .ignore();
        pipe.query_async(&mut self.connection()).await
    }

    /// The live sessions subscribed to `uri`; ids of sessions that expired meanwhile are dropped
    /// from the set.
    pub(crate) async fn subscribers(&self, uri: &str) -> ::redis::RedisResult<Vec<String>> {
        let mut connection = self.connection();
        let set = self.key(&format!("subscribers:{uri}"));
        let ids: Vec<String> = connection.smembers(&set).await?;
        if ids.is_empty() {
            return Ok(ids);
        }
        let mut pipe = ::redis::pipe();
        for id in &ids {
            pipe.exists(self.key(&format!("session:{id}")));
        }
        let alive: Vec<bool> = pipe.query_async(&mut connection).await?;
        let (live, gone): (Vec<_>, Vec<_>) =
            ids.into_iter().zip(alive).partition(|(_, alive)| *alive);
        if !gone.is_empty() {
            let gone: Vec<String> = gone.into_iter().map(|(id, _)| id).collect();
            let _: ::redis::RedisResult<()> = connection.srem(&set, gone).await;
        }
        Ok(live.into_iter().map(|(id, _)| id).collect())
    }
}
