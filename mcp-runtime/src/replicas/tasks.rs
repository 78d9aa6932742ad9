//! Tasks shared by every replica. A task runs where its call arrived, in that replica's
//! [`InMemoryTaskStore`] (rmcp's `TaskManager`, which gives the operation its input requests and
//! its cancellation); what the others need of it is in Redis:
//!
//! - `task:<id>`: the task as `tasks/get` shows it and the replica running it, written when it is
//!   created and again whenever it changes, until it ends; kept for twice the task TTL, as the
//!   in-memory store keeps an ended task for one more TTL.
//! - `task:<id>:lease`: a key with a short TTL that the running replica renews while the task
//!   runs. A task whose lease has lapsed before it ended was running on a replica that died: the
//!   first `tasks/get` to notice writes it as failed, saying so, rather than leave it "working"
//!   forever.
//!
//! `tasks/update` and `tasks/cancel` received by another replica are published
//! ([`Message::TaskUpdate`], [`Message::TaskCancel`]) and carried out by the running one.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use rmcp::{
    ErrorData as McpError,
    model::{DetailedTask, InputResponses, Task, TaskPayload},
};
use serde::{Deserialize, Serialize};

use super::redis::{Message, SharedRedis};
use crate::tasks::{InMemoryTaskStore, TaskOperation, TaskStore, expired_or_unknown};

/// How often the running replica looks for changes of its tasks and renews their leases.
const MIRROR_INTERVAL: Duration = Duration::from_millis(200);
/// How long a lease lasts without renewal (renewed every second): the time a dead replica's task
/// keeps "working", and the pause a busy replica may take without its tasks taken for lost.
const LEASE: Duration = Duration::from_secs(5);

/// A task as kept in Redis.
#[derive(Serialize, Deserialize)]
struct Record {
    /// The replica running it.
    replica: String,
    task: DetailedTask,
}

/// The task store of a replica among several.
pub(crate) struct SharedTaskStore {
    local: InMemoryTaskStore,
    redis: Arc<SharedRedis>,
    /// The tasks this replica runs that have not ended.
    running: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl SharedTaskStore {
    /// Tasks run by `local`, shared through `redis`.
    pub(crate) fn new(local: InMemoryTaskStore, redis: Arc<SharedRedis>) -> Arc<SharedTaskStore> {
        let store = Arc::new(SharedTaskStore {
            local,
            redis,
            running: Default::default(),
        });
        follow_other_replicas(&store);
        store
    }

    fn key(&self, id: &str) -> String {
        self.redis.key(&format!("task:{id}"))
    }

    fn lease_key(&self, id: &str) -> String {
        self.redis.key(&format!("task:{id}:lease"))
    }

    fn retention_seconds(&self) -> u64 {
        (self.local.ttl().as_secs() * 2).max(1)
    }

    /// Writes `task`, run by `replica`: its record and, while it runs on this replica, its lease (an
    /// ended task has none).
    async fn write(&self, replica: &str, task: &DetailedTask) -> redis::RedisResult<()> {
        let record = Record {
            replica: replica.to_string(),
            task: task.clone(),
        };
        let json = serde_json::to_string(&record).unwrap_or_default();
        let id = &task.task.task_id;
        let mut pipe = redis::pipe();
        pipe.set_ex(self.key(id), json, self.retention_seconds())
            .ignore();
        if task.task.status.is_terminal() {
            pipe.del(self.lease_key(id)).ignore();
        } else if replica == self.redis.replica() {
            pipe.set_ex(self.lease_key(id), replica, LEASE.as_secs())
                .ignore();
        }
        pipe.query_async(&mut self.redis.connection()).await
    }

    async fn read(&self, id: &str) -> Result<Option<Record>, McpError> {
        let mut connection = self.redis.connection();
        let (stored, leased): (Option<String>, bool) = redis::pipe()
            .get(self.key(id))
            .exists(self.lease_key(id))
            .query_async(&mut connection)
            .await
            .map_err(|error| self.unreachable(&error))?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let mut record = match serde_json::from_str::<Record>(&stored) {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(
                    event_type = "shared_state.tasks.error",
                    error = %error,
                    data.task_id = id,
                    "A task in the shared state could not be read: {error}"
                );
                return Ok(None);
            }
        };
        if !leased && !record.task.task.status.is_terminal() {
            record.task = self.orphaned(&record).await;
        }
        Ok(Some(record))
    }

    /// The task of a replica that stopped before the task ended: failed, and written so.
    async fn orphaned(&self, record: &Record) -> DetailedTask {
        let failed = lost(&record.task, &record.replica);
        tracing::warn!(
            event_type = "task.orphaned",
            data.task_id = failed.task.task_id.as_str(),
            data.replica = record.replica.as_str(),
            "Task failed: the replica running it stopped"
        );
        let _ = self.write(&record.replica, &failed).await;
        failed
    }

    fn running(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn unreachable(&self, error: &redis::RedisError) -> McpError {
        McpError::internal_error(
            format!(
                "tasks are kept in the shared state (Redis at {}), which did not answer ({error}); try again shortly",
                self.redis.display()
            ),
            None,
        )
    }

    /// Whether the task exists in the shared state, for a request this replica passes on.
    async fn known(&self, id: &str) -> Result<(), McpError> {
        match self.read(id).await? {
            Some(_) => Ok(()),
            None => Err(expired_or_unknown(McpError::invalid_params(
                format!("unknown task {id}"),
                None,
            ))),
        }
    }
}

/// `task` failed because `replica`, which ran it, stopped before it ended.
fn lost(task: &DetailedTask, replica: &str) -> DetailedTask {
    let mut task = task.task.clone();
    task.status_message = Some(format!(
        "the replica running this task ({replica}) stopped before the task ended"
    ));
    task.last_updated_at = rmcp::task_manager::current_timestamp();
    let error = serde_json::json!({
        "code": -32603,
        "message": format!(
            "The task was lost: the replica running it ({replica}) stopped before it ended; call the tool again"
        ),
    });
    DetailedTask::new(
        task,
        TaskPayload::Failed {
            error: error.as_object().cloned().unwrap_or_default(),
        },
    )
}

/// Writes the task to Redis whenever it changes and renews its lease, until it has ended.
async fn mirror(store: std::sync::Weak<SharedTaskStore>, id: String, mut written: DetailedTask) {
    let mut ticks = 0u32;
    if let Some(store) = store.upgrade() {
        store.running().insert(id.clone());
    }
    loop {
        tokio::time::sleep(MIRROR_INTERVAL).await;
        let Some(store) = store.upgrade() else {
            return;
        };
        if !store.running().contains(&id) {
            // `stopping` wrote the task's end already.
            return;
        }
        let Ok(now) = store.local.get_now(&id) else {
            return;
        };
        ticks += 1;
        // The lease is renewed at least every second, the state as soon as it changes.
        let renew = ticks.is_multiple_of(5);
        if now != written || renew {
            match store.write(store.redis.replica(), &now).await {
                Ok(()) => written = now,
                Err(error) => {
                    tracing::debug!(%error, "a task's state did not reach the shared state")
                }
            }
        }
        if written.task.status.is_terminal() {
            store.running().remove(&id);
            return;
        }
    }
}

/// Carries out the `tasks/update` and `tasks/cancel` other replicas received for this one's tasks.
fn follow_other_replicas(store: &Arc<SharedTaskStore>) {
    let weak = Arc::downgrade(store);
    store.redis.follow(move |message| {
        let store = weak.upgrade()?;
        Some(Box::pin(async move {
            // Only the replica running the task holds it: the others' calls find nothing.
            match &*message {
                Message::TaskUpdate { task, responses } => {
                    let _ = store.local.update_now(task, responses.clone());
                }
                Message::TaskCancel { task } if store.local.cancel_now(task).is_ok() => {
                    tracing::info!(
                        event_type = "task.cancel",
                        data.task_id = task.as_str(),
                        "Task cancellation requested (through another replica)"
                    );
                }
                _ => {}
            }
        }))
    });
}

impl TaskStore for Arc<SharedTaskStore> {
    fn create(&self, operation: TaskOperation) -> BoxFuture<'_, Result<Task, McpError>> {
        Box::pin(async move {
            if !self.redis.is_connected() {
                // Other replicas could not answer for it: refused at once rather than lost.
                return Err(McpError::internal_error(
                    format!(
                        "this call would go on as a task, and tasks are kept in the shared state (Redis at {}), which does not answer now; try again shortly",
                        self.redis.display()
                    ),
                    None,
                ));
            }
            let task = self.local.spawn(operation)?;
            let id = task.task_id.clone();
            let detailed = self.local.get_now(&id)?;
            if let Err(error) = self.write(self.redis.replica(), &detailed).await {
                // Other replicas could not answer for it: better refused than lost.
                let _ = self.local.cancel_now(&id);
                return Err(self.unreachable(&error));
            }
            tokio::spawn(mirror(Arc::downgrade(self), id, detailed));
            Ok(task)
        })
    }

    fn get<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, Result<DetailedTask, McpError>> {
        Box::pin(async move {
            if let Ok(task) = self.local.get_now(task_id) {
                return Ok(task);
            }
            match self.read(task_id).await? {
                Some(record) => Ok(record.task),
                None => Err(expired_or_unknown(McpError::invalid_params(
                    format!("unknown task {task_id}"),
                    None,
                ))),
            }
        })
    }

    fn update<'a>(
        &'a self,
        task_id: &'a str,
        responses: InputResponses,
    ) -> BoxFuture<'a, Result<(), McpError>> {
        Box::pin(async move {
            if self.local.get_now(task_id).is_ok() {
                return self.local.update_now(task_id, responses);
            }
            self.known(task_id).await?;
            self.redis
                .publish(Message::TaskUpdate {
                    task: task_id.to_string(),
                    responses,
                })
                .await;
            Ok(())
        })
    }

    fn stopping(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Say at once what the lease would say seconds later: these tasks will not end.
            let running: Vec<String> = self.running().drain().collect();
            for id in running {
                let Ok(task) = self.local.get_now(&id) else {
                    continue;
                };
                if task.task.status.is_terminal() {
                    let _ = self.write(self.redis.replica(), &task).await;
                    continue;
                }
                let failed = lost(&task, self.redis.replica());
                tracing::warn!(
                    event_type = "task.orphaned",
                    data.task_id = id.as_str(),
                    data.replica = self.redis.replica(),
                    "Task failed: this replica is stopping before the task ended"
                );
                let _ = self.write(self.redis.replica(), &failed).await;
            }
        })
    }

    fn cancel<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, Result<(), McpError>> {
        Box::pin(async move {
            if self.local.get_now(task_id).is_ok() {
                return self.local.cancel_now(task_id);
            }
            self.known(task_id).await?;
            self.redis
                .publish(Message::TaskCancel {
                    task: task_id.to_string(),
                })
                .await;
            Ok(())
        })
    }
}
