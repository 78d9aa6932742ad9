//! The MCP tasks extension (SEP-2663, `io.modelcontextprotocol/tasks`): where tasks are kept.
//!
//! A tool opts in with `#[cm_tool(task = "optional")]` or `task = "required"` ([`TaskSupport`]).
//! Its call is the same call as any other (`call::run`); when the client declared the extension
//! and the function does not finish at once, the call goes on in the background as a *task*, and the
//! client polls `tasks/get` for its status and, in the end, its result. What the task needs from the
//! server lives behind [`TaskStore`]: creating a task that runs an operation, answering `tasks/get`,
//! `tasks/update` and `tasks/cancel`. [`InMemoryTaskStore`], the default, keeps them in this process
//! with rmcp's `TaskManager`, each for a TTL and at most so many at once (`--task-ttl`,
//! `--max-tasks`). Several replicas (`MCP_REDIS_URL`) share their tasks through Redis instead: each
//! runs its own in its `InMemoryTaskStore` and mirrors them there, so that any replica answers
//! `tasks/get` and passes `tasks/update` and `tasks/cancel` on to the one running the task.

use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::{
    ErrorData as McpError,
    model::{DetailedTask, ErrorCode, InputResponses, Task},
    task_manager::{TaskContext, TaskFuture, TaskManager, TaskOptions},
};

/// Whether a tool's calls may run as tasks: `#[cm_tool(task = "optional" | "required")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskSupport {
    /// Every call is answered in the call (no `task` option).
    #[default]
    Forbidden,
    /// A client that declared the tasks extension gets a task when the call does not finish at
    /// once; any other client gets the answer in the call.
    Optional,
    /// Only a client that declared the tasks extension may call the tool; another is refused with
    /// -32021 (missing required client capability).
    Required,
}

impl TaskSupport {
    /// The value `tools/list` shows (`forbidden`, `optional`, `required`).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskSupport::Forbidden => "forbidden",
            TaskSupport::Optional => "optional",
            TaskSupport::Required => "required",
        }
    }
}

/// The operation a task runs: it gets the task's [`TaskContext`] (for input requests and to learn of
/// a `tasks/cancel`) and returns the call's future.
pub type TaskOperation = Box<dyn FnOnce(TaskContext) -> TaskFuture + Send>;

/// Where a server keeps its tasks: the extension point for another store.
///
/// The framework calls [`create`](TaskStore::create) when a call becomes a task, and the three
/// others for `tasks/get`, `tasks/update` and `tasks/cancel`. Errors are what the client receives:
/// an unknown or expired task id must be -32602 (invalid params), as SEP-2663 says. A store is
/// shared by every session of the server (`Server::task_store`); [`InMemoryTaskStore`] is the
/// default, and with `MCP_REDIS_URL` the framework uses one shared by every replica. The
/// operation's input requests go through rmcp's [`TaskContext`], which a store made over rmcp's
/// [`TaskManager`] provides (a store may wrap an [`InMemoryTaskStore`] to run its tasks, as the
/// shared one does). The methods are asynchronous, for a store that keeps tasks elsewhere.
pub trait TaskStore: Send + Sync + 'static {
    /// Starts `operation` as a new task and returns the task as `CreateTaskResult` shows it; the
    /// task must answer `tasks/get` before this returns. A store that cannot take one more task
    /// refuses with an error saying why.
    fn create(&self, operation: TaskOperation) -> BoxFuture<'_, Result<Task, McpError>>;
    /// `tasks/get`: the task's status, and its result or error once it has ended.
    fn get<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, Result<DetailedTask, McpError>>;
    /// `tasks/update`: the client's answers to the task's input requests.
    fn update<'a>(
        &'a self,
        task_id: &'a str,
        responses: InputResponses,
    ) -> BoxFuture<'a, Result<(), McpError>>;
    /// `tasks/cancel`: asks the task to stop (the operation's cancellation token fires).
    fn cancel<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, Result<(), McpError>>;
    /// The server is stopping (after its drain): tasks still running will not end here. A store
    /// that outlives the process says so to whoever reads them; the default does nothing.
    fn stopping(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// The tasks of this process, in memory, over rmcp's [`TaskManager`].
///
/// A task and its result are kept for `ttl` from its creation: a task still running then is
/// stopped and reported `failed`, and an ended one stays readable for one more `ttl` and is then
/// forgotten (its id gets -32602). At most `max_running` tasks run at once; one more is refused.
#[derive(Clone)]
pub struct InMemoryTaskStore {
    manager: TaskManager,
    ttl: Duration,
    max_running: usize,
}

/// How often a client should poll `tasks/get`, in milliseconds.
const POLL_INTERVAL_MS: u64 = 200;

impl InMemoryTaskStore {
    /// A store keeping each task for `ttl`, with at most `max_running` running at once.
    pub fn new(ttl: Duration, max_running: usize) -> InMemoryTaskStore {
        InMemoryTaskStore {
            manager: TaskManager::new(),
            ttl,
            max_running,
        }
    }
}

impl Default for InMemoryTaskStore {
    /// The defaults of `--task-ttl` (300 s) and `--max-tasks` (1000).
    fn default() -> InMemoryTaskStore {
        InMemoryTaskStore::new(Duration::from_secs(300), 1000)
    }
}

impl InMemoryTaskStore {
    /// Starts `operation` as a task of this process ([`TaskStore::create`], without waiting).
    pub fn spawn(&self, operation: TaskOperation) -> Result<Task, McpError> {
        // The count sweeps expired tasks first, so a full store frees itself as tasks end.
        let running = self.manager.running_task_count();
        if running >= self.max_running {
            return Err(McpError::new(
                ErrorCode::INTERNAL_ERROR,
                format!(
                    "this server already runs {running} tasks, its limit (--max-tasks / MCP_MAX_TASKS); try again when some have ended"
                ),
                Some(serde_json::json!({ "maxTasks": self.max_running })),
            ));
        }
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let options = TaskOptions::new()
            .with_ttl_ms(ttl_ms)
            .with_poll_interval_ms(POLL_INTERVAL_MS);
        Ok(self.manager.spawn(options, operation))
    }

    /// [`TaskStore::get`], at once.
    pub fn get_now(&self, task_id: &str) -> Result<DetailedTask, McpError> {
        self.manager.get_task(task_id).map_err(expired_or_unknown)
    }

    /// [`TaskStore::update`], at once.
    pub fn update_now(&self, task_id: &str, responses: InputResponses) -> Result<(), McpError> {
        self.manager
            .update_task(task_id, responses)
            .map_err(expired_or_unknown)
    }

    /// [`TaskStore::cancel`], at once.
    pub fn cancel_now(&self, task_id: &str) -> Result<(), McpError> {
        self.manager
            .cancel_task(task_id)
            .map_err(expired_or_unknown)
    }

    /// How long a task is kept.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

impl TaskStore for InMemoryTaskStore {
    fn create(&self, operation: TaskOperation) -> BoxFuture<'_, Result<Task, McpError>> {
        Box::pin(std::future::ready(self.spawn(operation)))
    }

    fn get<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, Result<DetailedTask, McpError>> {
        Box::pin(std::future::ready(self.get_now(task_id)))
    }

    fn update<'a>(
        &'a self,
        task_id: &'a str,
        responses: InputResponses,
    ) -> BoxFuture<'a, Result<(), McpError>> {
        Box::pin(std::future::ready(self.update_now(task_id, responses)))
    }

    fn cancel<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, Result<(), McpError>> {
        Box::pin(std::future::ready(self.cancel_now(task_id)))
    }
}

/// rmcp's -32602 for an id it does not hold, saying what that may mean.
pub(crate) fn expired_or_unknown(error: McpError) -> McpError {
    if error.code == ErrorCode::INVALID_PARAMS {
        McpError::invalid_params(
            format!(
                "{}: no such task, or it has expired (a task and its result are kept for the server's --task-ttl)",
                error.message
            ),
            None,
        )
    } else {
        error
    }
}
