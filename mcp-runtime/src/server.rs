//! [`Server`]: the builder an author's `main` calls, and the lifecycle around the transports
//! (startup hook, signals, graceful shutdown).

use std::{
    any::{Any, TypeId},
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use clap::CommandFactory;
use rmcp::model::{
    Implementation, ResourcesCapability, ServerCapabilities, ServerConfig, TASKS_EXTENSION_ID,
};
use tokio_util::sync::CancellationToken;

#[cfg(feature = "platform")]
use crate::platform::{ServiceSettings, Settings};
use crate::{
    State, Subscriptions,
    cli::{Cli, LogLevel, Transport},
    context::{StateKeys, StateMap},
    events::{self, LogFormat},
    extract::JsonObject,
    handler::Shared,
    metrics::Metrics,
    otel::Traces,
    platform::{
        self, Connections, Connector, ConnectorsBlock, Health, Mode, SettingsError, SettingsSource,
        health::HealthHook,
    },
    registry::{BoxFuture, Registry},
    replicas::{Replicas, SharedTaskStore},
    tasks::{InMemoryTaskStore, TaskStore, TaskSupport},
    transport::{self, HttpOptions},
};

type StartupHook = Box<dyn FnOnce(Startup) -> BoxFuture<anyhow::Result<()>> + Send>;
type ShutdownHook = Box<dyn FnOnce() -> BoxFuture<()> + Send>;
/// Loads the settings (at start, after `.env`), makes them injectable, and hands them to the manager client.
type SettingsLoader = Box<dyn FnOnce(&StateMap) -> anyhow::Result<Arc<dyn SettingsSource>> + Send>;

/// An MCP server serving every `#[cm_tool]`, `#[cm_resource]` and `#[cm_prompt]` linked into the binary.
///
/// ```no_run
/// # async fn main_() -> anyhow::Result<()> {
/// mcp_runtime::Server::new("my-service")
///     .version(env!("CARGO_PKG_VERSION"))
///     .instructions("Tools for my service.")
///     .run() // parses the command line: --stdio, --port, --log-level, --manifest, ...
///     .await
/// # }
/// ```
pub struct Server {
    name: String,
    version: String,
    title: Option<String>,
    instructions: Option<String>,
    state: StateMap,
    startup: Option<StartupHook>,
    startup_timeout: Duration,
    shutdown: Option<ShutdownHook>,
    health_hooks: Vec<HealthHook>,
    connectors: Vec<Connector>,
    settings: Option<SettingsLoader>,
    tasks: Option<Arc<dyn TaskStore>>,
    /// Set by `serve` from the `OTEL_*` variables.
    traces: Option<Arc<Traces>>,
}

impl Server {
    /// A server called `name` (its `serverInfo.name`, and `service` in `/health`).
    pub fn new(name: impl Into<String>) -> Server {
        Server {
            name: name.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            title: None,
            instructions: None,
            state: StateMap::default(),
            startup: None,
            startup_timeout: Duration::from_secs(5),
            shutdown: None,
            health_hooks: Vec::new(),
            connectors: Vec::new(),
            settings: None,
            tasks: None,
            traces: None,
        }
    }

    /// The version reported to clients (default: the framework's version); pass
    /// `env!("CARGO_PKG_VERSION")`.
    pub fn version(mut self, version: impl Into<String>) -> Server {
        self.version = version.into();
        self
    }

    /// A human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Server {
        self.title = Some(title.into());
        self
    }

    /// Instructions for the model using the server, sent at initialization.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Server {
        self.instructions = Some(instructions.into());
        self
    }

    /// Keeps the server's tasks (the MCP tasks extension, tools with `#[cm_tool(task = "..")]`) in
    /// `store` instead of the default [`InMemoryTaskStore`] made from `--task-ttl` and `--max-tasks`.
    pub fn task_store(mut self, store: impl TaskStore) -> Server {
        self.tasks = Some(Arc::new(store));
        self
    }

    /// Shares `value` with every call: tools take it as `State<T>`.
    pub fn state<T: Send + Sync + 'static>(self, value: T) -> Server {
        self.state.insert_arc(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// Runs `hook` at startup, once the mode is known, the settings are loaded and the connectors
    /// are starting; it receives them in [`Startup`]. The value it returns becomes `State<T>`; a hook
    /// that only prepares something returns `Ok(())`, which adds no state. The server waits for it up
    /// to the startup timeout; an error (`service.init.error`) or a timeout (`service.init.timeout`) is
    /// logged and does not stop the server. After a timeout the hook keeps running, and its state
    /// becomes available when it finishes.
    ///
    /// ```no_run
    /// # use mcp_runtime::Server;
    /// # struct Db;
    /// # impl Db { async fn connect(_: bool) -> anyhow::Result<Db> { Ok(Db) } }
    /// # async fn main_() -> anyhow::Result<()> {
    /// Server::new("my-service")
    ///     .on_startup(|start| async move { Db::connect(start.mode().is_stack()).await }) // State<Db>
    ///     .run()
    ///     .await
    /// # }
    /// ```
    pub fn on_startup<F, Fut, T>(mut self, hook: F) -> Server
    where
        F: FnOnce(Startup) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
        T: Send + Sync + 'static,
    {
        self.startup = Some(Box::new(move |start: Startup| {
            Box::pin(async move {
                let state = start.state.clone();
                let value = hook(start).await?;
                // `()` is "nothing to share": no `State<()>` to confuse anyone.
                if TypeId::of::<T>() != TypeId::of::<()>() {
                    state.insert_arc(
                        TypeId::of::<T>(),
                        Arc::new(value) as Arc<dyn Any + Send + Sync>,
                    );
                }
                Ok(())
            })
        }));
        self
    }

    /// How long startup waits for the startup hook (default 5 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Server {
        self.startup_timeout = timeout;
        self
    }

    /// Runs `hook` on shutdown, after in-flight calls have finished (or the grace period ran out).
    pub fn on_shutdown<F, Fut>(mut self, hook: F) -> Server
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shutdown = Some(Box::new(move || Box::pin(hook())));
        self
    }

    /// Adds or overrides fields of the `/health` document.
    pub fn health(mut self, hook: impl Fn(&mut JsonObject) + Send + Sync + 'static) -> Server {
        self.health_hooks.push(Arc::new(hook));
        self
    }

    /// Declares a connector: a service of the stack this server uses. Tools take its
    /// [`Connection`](crate::Connection); `/health` reports whether it is connected. Its URL comes from
    /// `{ID}_URL` locally and from the config manager in a stack.
    ///
    /// ```no_run
    /// # use mcp_runtime::{Connector, Server};
    /// # async fn main_() -> anyhow::Result<()> {
    /// Server::new("my-service")
    ///     .connector(Connector::api("MYSERVICE", "My Service"))
    ///     .run()
    ///     .await
    /// # }
    /// ```
    pub fn connector(mut self, connector: Connector) -> Server {
        self.connectors.push(connector);
        self
    }

    /// Loads settings of type `T` at start from `{prefix}FIELD` env vars (and `.env`) over
    /// `T::default()`; a value that does not convert stops the start with an error naming the
    /// variable. Tools take them as `Settings<T>`. In a stack they are the `config` the service
    /// registers (with `T`'s JSON Schema), and the config manager's config replaces them.
    /// (Feature `platform`.)
    #[cfg(feature = "platform")]
    pub fn settings<T: ServiceSettings>(mut self, prefix: impl Into<String>) -> Server {
        let prefix = prefix.into();
        self.settings = Some(Box::new(move |state: &StateMap| {
            let settings = Settings::<T>::from_env(&prefix)?;
            Ok(register_settings(state, settings))
        }));
        self
    }

    /// Like [`settings`](Server::settings), with settings the caller already loaded (e.g. with
    /// [`Settings::from_env`] in `main`, to use them there too). (Feature `platform`.)
    #[cfg(feature = "platform")]
    pub fn with_settings<T: ServiceSettings>(mut self, settings: Settings<T>) -> Server {
        self.settings = Some(Box::new(move |state: &StateMap| {
            Ok(register_settings(state, settings))
        }));
        self
    }

    /// Loads `.env`, parses the command line, sets up logging, and serves until stdin closes (stdio)
    /// or SIGINT/SIGTERM arrives.
    ///
    /// Bad configuration (an invalid flag or variable, a malformed URL, settings that do not load, a
    /// port that cannot be listened on) is logged as one `service.init.error` line naming the variable
    /// and the fix, and the process exits with status 2.
    pub async fn run(self) -> anyhow::Result<()> {
        // The platform's SDK lets .env values override the environment.
        let _ = dotenvy::dotenv_override();
        let command = Cli::command()
            .about(format!(
                "{}: an MCP server built with cm-mcp (stdio or streamable HTTP at /mcp, /health at the root)",
                self.name
            ))
            .name(self.name.clone())
            .version(self.version.clone());
        match crate::cli::parse(command) {
            Ok(cli) => self.run_with(cli).await,
            Err(error) => {
                let logs = events::init(log_format(), LogLevel::Info.directive());
                exit_misconfigured(&error, logs)
            }
        }
    }

    /// [`run`](Server::run) with flags given by the caller instead of the command line: for a server
    /// with flags of its own, which flattens [`Cli`] into its own parser. (`run` also loads `.env`
    /// before parsing; call `dotenvy::dotenv_override()` first to do the same.)
    ///
    /// ```no_run
    /// use clap::Parser;
    /// use mcp_runtime::{Server, cli::Cli};
    ///
    /// #[derive(Parser)]
    /// struct Args {
    ///     #[command(flatten)]
    ///     server: Cli,
    ///     /// Where the documents are.
    ///     #[arg(long, env = "DOCS_DIR", default_value = "docs")]
    ///     docs_dir: std::path::PathBuf,
    /// }
    ///
    /// # async fn main_() -> anyhow::Result<()> {
    /// let args = Args::parse();
    /// Server::new("docs")
    ///     .state(args.docs_dir)
    ///     .run_with(args.server)
    ///     .await
    /// # }
    /// ```
    pub async fn run_with(self, cli: Cli) -> anyhow::Result<()> {
        let format = log_format();
        let filter = match (cli.log_level, std::env::var("RUST_LOG")) {
            (Some(level), _) => Ok(level.directive().to_string()),
            (None, Ok(rust_log)) if !rust_log.trim().is_empty() => {
                match tracing_subscriber::EnvFilter::try_new(&rust_log) {
                    Ok(_) => Ok(rust_log),
                    Err(error) => Err(SettingsError::new(
                        "RUST_LOG",
                        format!(
                            "RUST_LOG is not a log filter ({error}): use a level such as `info`, directives such as `info,my_crate=debug`, or LOG_LEVEL instead"
                        ),
                    )),
                }
            }
            (None, _) if format == LogFormat::Human => Ok(LogLevel::Debug.directive().into()),
            (None, _) => Ok(LogLevel::Info.directive().into()),
        };
        let logs = events::init(
            format,
            filter.as_deref().unwrap_or(LogLevel::Info.directive()),
        );
        let logs = match filter {
            Ok(_) => logs,
            Err(error) => exit_misconfigured(&error, logs),
        };
        let stdio = !cli.manifest && matches!(cli.transport(), Ok(Transport::Stdio));
        let result = self.serve(cli).await;
        if let Err(error) = &result {
            if let Some(misconfigured) = error
                .chain()
                .find_map(|e| e.downcast_ref::<SettingsError>())
            {
                exit_misconfigured(misconfigured, logs);
            }
            tracing::error!(
                event_type = "service.init.error",
                success = false,
                error = %format!("{error:#}"),
                error_type = "StartupError",
                "Service could not start"
            );
        }
        if stdio && result.is_ok() {
            // tokio's stdin reader is a blocking thread that would keep the runtime (and the process)
            // alive until the client closes stdin, even after a signal ended the session: exit here,
            // once the logs are flushed.
            drop(logs);
            std::process::exit(0);
        }
        drop(logs);
        result
    }

    fn capabilities(registry: &Registry) -> ServerCapabilities {
        let mut caps = ServerCapabilities::default();
        caps.tools = Some(Default::default());
        if registry
            .tools
            .iter()
            .any(|tool| tool.def.task != TaskSupport::Forbidden)
        {
            // SEP-2663: the tasks extension, advertised only by a server with a tool that uses it
            // (tasks/* are then -32601 elsewhere).
            caps.extensions
                .get_or_insert_with(Default::default)
                .insert(TASKS_EXTENSION_ID.to_string(), JsonObject::new());
        }
        if !registry.resources.is_empty() {
            // Every resource can be subscribed to: the handler tracks subscriptions per session.
            let mut resources = ResourcesCapability::default();
            resources.subscribe = Some(true);
            caps.resources = Some(resources);
        }
        if !registry.prompts.is_empty() {
            caps.prompts = Some(Default::default());
        }
        caps.logging = Some(JsonObject::new());
        caps.completions = Some(JsonObject::new());
        caps
    }

    /// Splits the builder into what the transports share and the lifecycle hooks, for `mode`.
    fn into_parts(
        self,
        mode: Mode,
        tasks: InMemoryTaskStore,
        cli: Option<&Cli>,
    ) -> anyhow::Result<(Arc<Shared>, Arc<Health>, Lifecycle)> {
        let registry = Registry::collect().context("the server's tools, resources and prompts cannot be served as written (fix each problem below and rebuild)")?;
        let mut implementation = Implementation::new(self.name.clone(), self.version);
        if let Some(title) = self.title {
            implementation = implementation.with_title(title);
        }
        let mut info =
            ServerConfig::new(Self::capabilities(&registry)).with_server_info(implementation);
        if let Some(instructions) = self.instructions {
            info = info.with_instructions(instructions);
        }
        let connections = Connections::new(self.connectors, &mode)?;
        self.state
            .insert_arc(TypeId::of::<Mode>(), Arc::new(mode.clone()));
        if !connections.is_empty() {
            self.state
                .insert_arc(TypeId::of::<Connections>(), Arc::new(connections.clone()));
        }
        let state_keys = StateKeys::from_env()?;
        let replicas = match cli {
            Some(cli) => Replicas::from_cli(cli, &self.name, &state_keys)?,
            None => Replicas::default(),
        };
        let metrics = cli
            .is_none_or(|cli| cli.metrics)
            .then(|| Metrics::new(Some(connections.clone())));
        let subscriptions = match replicas.redis() {
            Some(redis) => Subscriptions::shared(redis.clone()),
            None => Subscriptions::default(),
        };
        let shared = Arc::new(Shared {
            registry,
            info,
            state: self.state,
            subscriptions,
            state_keys: Arc::new(state_keys),
            tasks: self
                .tasks
                .clone()
                .unwrap_or_else(|| match replicas.redis() {
                    Some(redis) => Arc::new(SharedTaskStore::new(tasks, redis.clone())),
                    None => Arc::new(tasks),
                }),
            replicas: replicas.clone(),
            metrics,
            traces: self.traces,
        });
        let health = Arc::new(Health {
            service: self.name,
            mode: mode.clone(),
            hooks: self.health_hooks,
            connections: connections.clone(),
            replicas,
        });
        let lifecycle = Lifecycle {
            startup: self.startup,
            startup_timeout: self.startup_timeout,
            shutdown: self.shutdown,
            settings: self.settings,
            connections,
            mode,
        };
        Ok((shared, health, lifecycle))
    }

    /// The manifest `--manifest` prints: server info, every definition with its schemas, and the
    /// connectors the service registers with the config manager.
    pub fn manifest(self) -> anyhow::Result<serde_json::Value> {
        let mut connectors = serde_json::to_value(ConnectorsBlock::declared(&self.connectors))?;
        // The manager's wire shape allows `null` for no array connectors; a manifest's lists are
        // lists, so that a reader iterates them without a check.
        if connectors["array_connectors"].is_null() {
            connectors["array_connectors"] = serde_json::json!([]);
        }
        // The manifest describes the server, wherever it would run.
        let (shared, _, _) = self.into_parts(Mode::Local, InMemoryTaskStore::default(), None)?;
        let mut manifest = shared.registry.manifest();
        let server = &shared.info;
        manifest["server"] = serde_json::json!({
            "name": server.server_info.name,
            "version": server.server_info.version,
            "instructions": server.instructions,
        });
        manifest["connectors"] = connectors;
        Ok(manifest)
    }

    async fn serve(mut self, cli: Cli) -> anyhow::Result<()> {
        if cli.manifest {
            let manifest = self.manifest()?;
            println!("{}", serde_json::to_string_pretty(&manifest)?);
            return Ok(());
        }
        let transport = cli.transport()?;
        let (mode, local_reason) = platform::detect()?;
        self.traces = Traces::from_env(&self.name, &self.version)?;
        let tasks = InMemoryTaskStore::new(cli.task_ttl, cli.max_tasks);
        let (shared, health, mut lifecycle) = self.into_parts(mode, tasks, Some(&cli))?;
        let shutdown = CancellationToken::new();
        tokio::spawn(watch_signals(shutdown.clone()));
        tracing::info!(
            event_type = "service.init.start",
            data.service = health.service.as_str(),
            data.server_mode = health.mode.as_str(),
            data.transport = if transport == Transport::Stdio {
                "stdio"
            } else {
                "streamable-http"
            },
            "Service starting"
        );
        if shared.state_keys.random {
            tracing::info!(
                event_type = "service.init.state_key",
                data.state_key = "random",
                "requestState (protocol 2026-07-28's input-required rounds) is sealed with a random key of this process: set MCP_STATE_KEY, the same on every replica, so that a client's next round may reach another replica or a restarted one"
            );
        }
        lifecycle.start_platform(&shared, local_reason, &shutdown)?;
        lifecycle.run_startup(&shared).await;
        let served = match transport {
            Transport::Stdio => {
                transport::serve_stdio(shared.clone(), shutdown.clone(), cli.shutdown_grace).await
            }
            Transport::StreamableHttp => {
                let addr = cli.listen_addr().await?;
                let options = HttpOptions::from_cli(&cli);
                let running =
                    transport::start_http(shared.clone(), health, addr, options, shutdown.clone())
                        .await?;
                tracing::info!(
                    event_type = "service.ready",
                    success = true,
                    data.transport = "streamable-http",
                    data.address = %running.local_addr(),
                    "Serving MCP at http://{}/mcp",
                    running.local_addr()
                );
                running.wait().await
            }
        };
        // Tasks still running now will not end here: a store shared with other replicas says so.
        let _ = tokio::time::timeout(Duration::from_secs(2), shared.tasks.stopping()).await;
        lifecycle.run_shutdown().await;
        if let Some(traces) = &shared.traces {
            // After the calls drained and the hook ran: their spans are queued by now.
            traces.shutdown().await;
        }
        served
    }

    /// Serves streamable HTTP on `addr` in the background, for tests and embedding; no flags, no
    /// signals, no logging set-up. Stop it with [`RunningServer::shutdown`].
    pub async fn start_http(
        self,
        addr: SocketAddr,
        options: HttpOptions,
    ) -> anyhow::Result<RunningServer> {
        let (mode, local_reason) = platform::detect()?;
        let tasks = InMemoryTaskStore::default();
        let (shared, health, mut lifecycle) = self.into_parts(mode, tasks, None)?;
        let shutdown = CancellationToken::new();
        if shared.state_keys.random {
            tracing::info!(
                event_type = "service.init.state_key",
                data.state_key = "random",
                "requestState (protocol 2026-07-28's input-required rounds) is sealed with a random key of this process: set MCP_STATE_KEY, the same on every replica, so that a client's next round may reach another replica or a restarted one"
            );
        }
        lifecycle.start_platform(&shared, local_reason, &shutdown)?;
        lifecycle.run_startup(&shared).await;
        transport::start_http(shared, health, addr, options, shutdown).await
    }
}

impl Server {
    /// Sets the server up as [`run`](Server::run) does, in local mode and without a transport, for
    /// [`testing::Client`](crate::testing::Client): returns the handler of its one session and the
    /// shutdown (hook and events) to run when that session ends. Platform tasks stop with `shutdown`.
    #[cfg(feature = "testing")]
    pub(crate) async fn start_in_process(
        self,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<(
        crate::handler::McpHandler,
        impl Future<Output = ()> + Send + 'static,
    )> {
        let tasks = InMemoryTaskStore::default();
        let (shared, _, mut lifecycle) = self.into_parts(Mode::Local, tasks, None)?;
        lifecycle.start_platform(&shared, "an in-process test client", shutdown)?;
        lifecycle.run_startup(&shared).await;
        Ok((
            crate::handler::McpHandler::new(shared),
            lifecycle.run_shutdown(),
        ))
    }
}

/// Makes `settings` injectable (`Settings<T>`, and `State<Settings<T>>`).
#[cfg(feature = "platform")]
fn register_settings<T: ServiceSettings>(
    state: &StateMap,
    settings: Settings<T>,
) -> Arc<dyn SettingsSource> {
    state.insert_arc(TypeId::of::<Settings<T>>(), Arc::new(settings.clone()));
    Arc::new(settings)
}

pub use crate::transport::RunningServer;

/// What a startup hook ([`Server::on_startup`]) receives: the mode the server runs in and what the
/// server has set up before it (the settings, the shared state, the connectors' connections).
pub struct Startup {
    mode: Mode,
    state: StateMap,
}

impl Startup {
    /// The mode the server runs in, as it was read at start.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The settings of type `T` the server loaded ([`Server::settings`] or
    /// [`Server::with_settings`]); `None` when it has none of that type. (Feature `platform`.)
    #[cfg(feature = "platform")]
    pub fn settings<T: ServiceSettings>(&self) -> Option<Settings<T>> {
        self.state.get::<Settings<T>>().map(|s| (*s).clone())
    }

    /// A value shared with [`Server::state`]; `None` when there is none of type `T`.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        self.state.get::<T>()
    }

    /// The connection of the connector `config_id`, if the server declares it.
    pub fn connection(&self, config_id: &str) -> Option<crate::Connection> {
        self.state.get::<Connections>()?.get(config_id)
    }
}

impl std::fmt::Debug for Startup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Startup")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

struct Lifecycle {
    startup: Option<StartupHook>,
    startup_timeout: Duration,
    shutdown: Option<ShutdownHook>,
    settings: Option<SettingsLoader>,
    connections: Connections,
    mode: Mode,
}

impl Lifecycle {
    /// Loads the settings and starts what keeps the connectors current (env vars locally, the config
    /// manager in a stack), until `shutdown`. Invalid settings or a malformed local API key stop the
    /// start; an unreachable manager does not.
    fn start_platform(
        &mut self,
        shared: &Shared,
        local_reason: &str,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let settings = self
            .settings
            .take()
            .map(|load| load(&shared.state))
            .transpose()?;
        platform::start(
            &self.mode,
            local_reason,
            settings,
            &self.connections,
            shutdown,
        )
    }

    /// Runs the startup hook; `service.init.complete` (or `.error`, or `.timeout` and a late
    /// `.complete`) says how it went, and is written without a hook too, so that every start has one.
    async fn run_startup(&mut self, shared: &Arc<Shared>) {
        let started = Instant::now();
        let Some(hook) = self.startup.take() else {
            tracing::info!(
                event_type = "service.init.complete",
                duration_ms = crate::events::elapsed_ms(started),
                success = true,
                data.startup_hook = false,
                "Service initialized (no startup hook)"
            );
            return;
        };
        let mut task = tokio::spawn(hook(Startup {
            mode: self.mode.clone(),
            state: shared.state.clone(),
        }));
        let report = move |result: Result<anyhow::Result<()>, tokio::task::JoinError>,
                           late: bool| {
            let duration_ms = crate::events::elapsed_ms(started);
            match result {
                Ok(Ok(())) => tracing::info!(
                    event_type = "service.init.complete",
                    duration_ms,
                    success = true,
                    data.startup_hook = true,
                    data.late = late,
                    "Startup hook completed"
                ),
                Ok(Err(error)) => tracing::error!(
                    event_type = "service.init.error",
                    duration_ms,
                    success = false,
                    error = %format!("{error:#}"),
                    error_type = "StartupError",
                    "Startup hook failed; serving without its state"
                ),
                Err(join) => tracing::error!(
                    event_type = "service.init.error",
                    duration_ms,
                    success = false,
                    error = %join,
                    error_type = "Panic",
                    "Startup hook panicked; serving without its state"
                ),
            }
        };
        match tokio::time::timeout(self.startup_timeout, &mut task).await {
            Ok(result) => report(result, false),
            Err(_) => {
                tracing::warn!(
                    event_type = "service.init.timeout",
                    duration_ms = crate::events::elapsed_ms(started),
                    success = false,
                    data.timeout_s = self.startup_timeout.as_secs_f64(),
                    "Startup hook did not finish in time; serving now, its state arrives when it finishes"
                );
                tokio::spawn(async move { report(task.await, true) });
            }
        }
    }

    async fn run_shutdown(self) {
        let started = Instant::now();
        tracing::info!(
            event_type = "service.shutdown.start",
            "Service shutting down"
        );
        if let Some(hook) = self.shutdown
            && let Err(join) = tokio::spawn(hook()).await
        {
            tracing::error!(
                event_type = "service.shutdown.error",
                success = false,
                error = %join,
                error_type = "Panic",
                "Shutdown hook panicked"
            );
        }
        tracing::info!(
            event_type = "service.shutdown.complete",
            duration_ms = crate::events::elapsed_ms(started),
            success = true,
            "Service stopped"
        );
    }
}

/// The log format `DEBUG` selects: human-readable lines when it is true, the platform's JSON otherwise.
fn log_format() -> LogFormat {
    let debug = std::env::var("DEBUG")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    if debug {
        LogFormat::Human
    } else {
        LogFormat::Json
    }
}

/// Logs bad configuration as the start's one error line and exits with status 2, the status of a
/// usage error: an operator fixes the variable named, there is nothing to retry.
fn exit_misconfigured(error: &SettingsError, logs: events::LogGuard) -> ! {
    tracing::error!(
        event_type = "service.init.error",
        success = false,
        error = %error,
        error_type = "ConfigError",
        data.variable = error.variable(),
        "Service could not start: bad configuration"
    );
    drop(logs); // flushes the line: `exit` runs no destructors
    std::process::exit(2);
}

/// Cancels `shutdown` on the first SIGINT/SIGTERM; a second one exits at once.
async fn watch_signals(shutdown: CancellationToken) {
    wait_for_signal().await;
    tracing::info!(
        event_type = "service.shutdown.signal",
        "Shutdown requested; a second signal exits at once"
    );
    shutdown.cancel();
    wait_for_signal().await;
    tracing::warn!("Second signal: exiting now");
    std::process::exit(130);
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
