//! Where a connector points: what the platform assigns ([`Endpoint`], the input of connection
//! management) and what tools and hooks see of it ([`ConnectionState`]). A module of its own so that
//! the declarations (`connectors`, whose hooks take a state) and the live connections (`connections`)
//! both use it without importing each other.

use http::HeaderMap;

use super::mode::Mode;

/// One connector's connection at one moment: where it points and whether it is usable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnectionState {
    pub(crate) urls: Vec<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) connected: bool,
    pub(crate) error: Option<String>,
    pub(crate) mode: Mode,
}

impl ConnectionState {
    /// The URL (the first one, for an array connector); `None` until the platform assigns one.
    /// A database connector's URL is a host name (`{id}-rw.databases.svc.cluster.local`).
    pub fn url(&self) -> Option<&str> {
        self.urls.first().map(String::as_str)
    }

    /// Every URL: one per deployment of an array connector, at most one otherwise.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Headers to send with every request (`Authorization: Bearer <key>` when `{ID}_APIKEY` is set in
    /// local mode; none in a stack). The key is marked sensitive: it never shows in `Debug` output.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Whether there is a URL and the reconnect hook (if any) succeeded for it.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Why the last reconnect hook failed, while it is being retried.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The mode the server runs in: tells a hook whether a missing URL means "the config manager
    /// has not assigned one yet" (a stack) or "`{ID}_URL` is not set" (local).
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// No URL, in `mode`: the state before the platform assigns one, or after it took it away.
    pub(crate) fn unassigned(mode: Mode) -> ConnectionState {
        ConnectionState {
            mode,
            ..ConnectionState::default()
        }
    }
}

/// Where the platform says a connector points: the input of connection management.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Endpoint {
    pub urls: Vec<String>,
    pub headers: HeaderMap,
}
