//! [`State<T>`]: values shared by every call, set on the server or returned by its startup hook, and
//! the type-keyed map that holds them.

use std::{
    any::{Any, TypeId, type_name},
    collections::HashMap,
    ops::Deref,
    sync::{Arc, RwLock},
};

use super::Context;
use crate::ToolError;

/// Shared state a tool takes by type: `db: State<Db>`.
///
/// Set it on the server with [`Server::state`](crate::Server::state), or return it from the startup
/// hook ([`Server::on_startup`](crate::Server::on_startup)). A tool asking for state the server does not
/// have gets a clear tool error, not a panic.
pub struct State<T>(pub Arc<T>);

impl<T> Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        State(self.0.clone())
    }
}

impl<T> State<T> {
    /// The shared pointer itself.
    pub fn into_inner(self) -> Arc<T> {
        self.0
    }
}

impl<T: Send + Sync + 'static> State<T> {
    pub(crate) fn from_context(ctx: &Context) -> Result<State<T>, ToolError> {
        ctx.state::<T>().ok_or_else(|| {
            ToolError::internal(format!(
                "the server has no state of type `{}`: set it with Server::state(..), or return it from the startup hook (if that hook failed or is still running, see the service.init.* events)",
                type_name::<T>()
            ))
        })
    }
}

/// Typed values shared by every call, keyed by type.
#[derive(Clone, Default)]
pub(crate) struct StateMap(Arc<RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>);

impl StateMap {
    pub(crate) fn insert_arc(&self, type_id: TypeId, value: Arc<dyn Any + Send + Sync>) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(type_id, value);
    }

    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        let value = map.get(&TypeId::of::<T>())?.clone();
        value.downcast::<T>().ok().map(State)
    }
}
