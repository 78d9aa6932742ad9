//! What one client session chose: its `logging/setLevel` and its resource subscriptions.

#![allow(deprecated)] // logging/setLevel is deprecated by SEP-2577, and still used by every client here.

use std::sync::{
    Mutex, MutexGuard, OnceLock,
    atomic::{AtomicU8, Ordering},
};

use rmcp::{Peer, RoleServer, model::LoggingLevel};

use super::subscriptions::SessionSubscriptions;

/// What one client session chose: its `logging/setLevel` and its resource subscriptions.
#[derive(Default)]
pub(crate) struct ClientSession {
    min_level: AtomicU8,
    subscriptions: Mutex<SessionSubscriptions>,
    /// The session's id and its client, known from its `initialize` on HTTP (a legacy session):
    /// what a resource update published by another replica is delivered through.
    opened: OnceLock<(String, Peer<RoleServer>)>,
}

impl ClientSession {
    /// Whether the client's `logging/setLevel` lets a message of `level` through.
    pub(crate) fn wants(&self, level: LoggingLevel) -> bool {
        level_rank(level) >= self.min_level.load(Ordering::Relaxed)
    }

    pub(crate) fn set_level(&self, level: LoggingLevel) {
        self.min_level.store(level_rank(level), Ordering::Relaxed);
    }

    /// Records the session's id and client, once.
    pub(crate) fn opened(&self, id: &str, peer: &Peer<RoleServer>) {
        let _ = self.opened.set((id.to_string(), peer.clone()));
    }

    /// The session's id, for a legacy HTTP session.
    pub(crate) fn id(&self) -> Option<&str> {
        self.opened.get().map(|(id, _)| id.as_str())
    }

    /// The session's client, for a legacy HTTP session.
    pub(crate) fn peer(&self) -> Option<&Peer<RoleServer>> {
        self.opened.get().map(|(_, peer)| peer)
    }

    pub(crate) fn subscriptions(&self) -> MutexGuard<'_, SessionSubscriptions> {
        self.subscriptions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A level's place in severity order, least severe first.
pub(super) fn level_rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}
