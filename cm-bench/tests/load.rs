//! The load generator against real server processes (the bare rmcp baseline and the limit server
//! built with this package) over every transport and protocol revision: counts, sessions, checked
//! answers, and failures that must show up as errors. Nothing here judges speed.

use std::{path::Path, time::Duration};

use cm_bench::{
    client::{CallSpec, DEFAULT_PROTOCOL_VERSION, HttpEndpoint, PROTOCOL_2026, StderrTo},
    load::{self, LoadOptions, LoadResult, Stop, Target},
    servers::{RunningServer, ServerSpec},
};

fn bare() -> ServerSpec {
    ServerSpec::cm_style("bare rmcp", env!("CARGO_BIN_EXE_bare-rmcp"), StderrTo::Null)
}

fn limit() -> ServerSpec {
    ServerSpec::cm_style("limit", env!("CARGO_BIN_EXE_limit-server"), StderrTo::Null)
}

fn options(call: CallSpec, clients: usize, calls: u64) -> LoadOptions {
    LoadOptions {
        clients,
        stop: Stop::Calls(calls),
        call,
        protocol_version: DEFAULT_PROTOCOL_VERSION.into(),
        timeout: Duration::from_secs(30),
        server_pids: vec![],
    }
}

fn echo(input: &str) -> CallSpec {
    CallSpec::new(
        "my_tool",
        serde_json::json!({ "input_param": input }),
        Some(format!("Processed: {input}")),
    )
    .unwrap()
}

fn workdir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

async fn http(stateless: bool, call: CallSpec, clients: usize, calls: u64) -> LoadResult {
    http_to(
        &bare(),
        stateless,
        DEFAULT_PROTOCOL_VERSION,
        call,
        clients,
        calls,
    )
    .await
}

async fn http_to(
    spec: &ServerSpec,
    stateless: bool,
    protocol_version: &str,
    call: CallSpec,
    clients: usize,
    calls: u64,
) -> LoadResult {
    let server = RunningServer::start(spec, stateless, workdir(), Duration::from_secs(30)).unwrap();
    let target = Target::Http(HttpEndpoint::parse(&server.url()).unwrap());
    let mut options = options(call, clients, calls);
    options.server_pids = vec![server.pid()];
    options.protocol_version = protocol_version.into();
    load::run(&target, &options).await.unwrap()
}

#[tokio::test]
async fn http_sessions_every_call_counted_and_checked() {
    let r = http(false, echo("ünï \"quoted\""), 3, 40).await;
    assert_eq!((r.calls, r.errors), (120, 0), "{:?}", r.error_samples);
    assert!(r.sessions, "the bare server hands out sessions");
    assert_eq!(r.transport, "http");
    assert!(r.latency.p50_ms > 0.0 && r.latency.p50_ms <= r.latency.p99_ms);
    assert!(r.server_rss_kib.is_some_and(|kib| kib > 0));
}

#[tokio::test]
async fn http_stateless_has_no_sessions() {
    let r = http(true, echo("x"), 2, 25).await;
    assert_eq!((r.calls, r.errors), (50, 0), "{:?}", r.error_samples);
    assert!(!r.sessions);
}

#[tokio::test]
async fn wrong_answers_and_unknown_tools_are_errors() {
    let wrong = CallSpec::new(
        "my_tool",
        serde_json::json!({ "input_param": "a" }),
        Some("Processed: b".into()),
    )
    .unwrap();
    let r = http(false, wrong, 1, 5).await;
    assert_eq!((r.calls, r.errors), (5, 5));
    assert!(
        r.error_samples[0].contains("expected \"Processed: b\""),
        "{:?}",
        r.error_samples
    );

    let unknown = CallSpec::new("no_such_tool", serde_json::json!({}), None).unwrap();
    let r = http(false, unknown, 2, 3).await;
    assert_eq!((r.calls, r.errors), (6, 6));
    assert!(
        r.error_samples[0].contains("no_such_tool") || r.error_samples[0].contains("error"),
        "{:?}",
        r.error_samples
    );
}

#[tokio::test]
async fn stdio_with_requests_in_flight() {
    let target = Target::Stdio {
        command: bare().stdio_command(),
        stderr: StderrTo::Null,
        isolate_in: Some(workdir().to_path_buf()),
    };
    let r = load::run(&target, &options(echo("stdio"), 4, 30))
        .await
        .unwrap();
    assert_eq!((r.calls, r.errors), (120, 0), "{:?}", r.error_samples);
    assert_eq!(r.transport, "stdio");
    assert!(
        r.server_cpu_us_per_call.is_some(),
        "the child's CPU is read from /proc"
    );
}

#[tokio::test]
async fn a_time_bounded_run_stops_by_itself() {
    let server = RunningServer::start(&bare(), false, workdir(), Duration::from_secs(30)).unwrap();
    let target = Target::Http(HttpEndpoint::parse(&server.url()).unwrap());
    let mut options = options(echo("t"), 2, 0);
    options.stop = Stop::Time {
        warmup: Duration::from_millis(100),
        duration: Duration::from_millis(300),
    };
    let r = load::run(&target, &options).await.unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    assert!(r.calls > 0);
    // Not a timing check: clients stop only once the window has passed, so the measured span
    // covers at least the duration asked for.
    assert!(r.seconds >= 0.3, "measured {} s", r.seconds);
}

#[tokio::test]
async fn setup_failures_name_the_problem() {
    let port = cm_bench::servers::free_port().unwrap();
    let target =
        Target::Http(HttpEndpoint::parse(&format!("http://127.0.0.1:{port}/mcp")).unwrap());
    let error = load::run(&target, &options(echo("x"), 1, 1))
        .await
        .unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("cannot connect"), "{text}");

    let target = Target::Stdio {
        command: vec!["/nonexistent/server".into()],
        stderr: StderrTo::Null,
        isolate_in: None,
    };
    let error = load::run(&target, &options(echo("x"), 1, 1))
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("cannot start"), "{error:#}");

    // A process that is not an MCP server: it exits without answering initialize.
    let target = Target::Stdio {
        command: vec!["true".into()],
        stderr: StderrTo::Null,
        isolate_in: None,
    };
    let error = load::run(&target, &options(echo("x"), 1, 1))
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("initialize failed"),
        "{error:#}"
    );
}

#[tokio::test]
async fn a_server_of_several_processes_gets_each_ones_share_and_their_sum() {
    let served = RunningServer::start(&bare(), false, workdir(), Duration::from_secs(30)).unwrap();
    let idle = RunningServer::start(&bare(), false, workdir(), Duration::from_secs(30)).unwrap();
    let target = Target::Http(HttpEndpoint::parse(&served.url()).unwrap());
    let mut options = options(echo("several"), 2, 200);
    options.server_pids = vec![served.pid(), idle.pid()];
    let r = load::run(&target, &options).await.unwrap();
    assert_eq!((r.calls, r.errors), (400, 0), "{:?}", r.error_samples);

    let pids: Vec<u32> = r.server_processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids, [served.pid(), idle.pid()], "in the order given");
    for p in &r.server_processes {
        assert_eq!(p.name, "bare-rmcp", "the name from /proc/PID/comm");
        assert!(p.rss_kib.is_some_and(|kib| kib > 0), "{p:?}");
    }
    assert!(
        r.server_processes[0]
            .context_switches_per_call
            .is_some_and(|n| n > 0.0),
        "the served process sleeps between calls: {:?}",
        r.server_processes[0]
    );
    let shares: Vec<f64> = r
        .server_processes
        .iter()
        .map(|p| p.cpu_us_per_call.unwrap())
        .collect();
    let sum = r.server_cpu_us_per_call.unwrap();
    assert!(
        (sum - shares.iter().sum::<f64>()).abs() < 1e-6,
        "{sum} vs {shares:?}"
    );
    let rss: u64 = r.server_processes.iter().filter_map(|p| p.rss_kib).sum();
    assert_eq!(r.server_rss_kib, Some(rss));

    // A process that cannot be read makes the sum unknown rather than too small.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    options.server_pids = vec![served.pid(), gone_pid];
    let r = load::run(&target, &options).await.unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.error_samples);
    assert!(r.server_processes[0].cpu_us_per_call.is_some());
    assert_eq!(r.server_processes[1].cpu_us_per_call, None);
    assert_eq!(r.server_cpu_us_per_call, None);
    assert_eq!(r.server_rss_kib, None);
}

#[tokio::test]
async fn the_limit_server_answers_checked_calls_with_and_without_sessions() {
    for stateless in [false, true] {
        let r = http_to(
            &limit(),
            stateless,
            DEFAULT_PROTOCOL_VERSION,
            echo("ünï \"quoted\""),
            3,
            40,
        )
        .await;
        assert_eq!((r.calls, r.errors), (120, 0), "{:?}", r.error_samples);
        assert_eq!(r.sessions, !stateless, "sessions only without --stateless");
        assert_eq!(r.server_processes[0].name, "limit-server");
    }
}

#[tokio::test]
async fn the_limit_server_answers_checked_calls_over_stdio() {
    // Blocking reads and writes (the limit), and through tokio's stdin and stdout.
    for extra in [None, Some("--tokio-stdio")] {
        let mut command = limit().stdio_command();
        command.extend(extra.map(String::from));
        let target = Target::Stdio {
            command,
            stderr: StderrTo::Null,
            isolate_in: Some(workdir().to_path_buf()),
        };
        let r = load::run(&target, &options(echo("stdio ✓"), 4, 30))
            .await
            .unwrap();
        assert_eq!(
            (r.calls, r.errors),
            (120, 0),
            "{extra:?}: {:?}",
            r.error_samples
        );
    }
}

#[tokio::test]
async fn protocol_2026_calls_need_no_initialize_and_no_session() {
    // The limit server in both of its modes, and bare rmcp (rmcp 3.11 serves 2026-07-28 requests
    // statelessly whatever its mode).
    for (spec, stateless) in [(limit(), false), (limit(), true), (bare(), false)] {
        let r = http_to(&spec, stateless, PROTOCOL_2026, echo("2026 \"x\""), 2, 25).await;
        assert_eq!(
            (r.calls, r.errors),
            (50, 0),
            "{} (stateless {stateless}): {:?}",
            spec.name,
            r.error_samples
        );
        assert!(!r.sessions, "{}: no session under 2026-07-28", spec.name);
    }
}

#[tokio::test]
async fn the_limit_server_reports_unknown_tools_and_wrong_answers_as_errors() {
    let unknown = CallSpec::new("no_such_tool", serde_json::json!({}), None).unwrap();
    for protocol in [DEFAULT_PROTOCOL_VERSION, PROTOCOL_2026] {
        let r = http_to(&limit(), false, protocol, unknown.clone(), 1, 3).await;
        assert_eq!((r.calls, r.errors), (3, 3), "{protocol}");
        assert!(
            r.error_samples[0].contains("no_such_tool"),
            "{protocol}: {:?}",
            r.error_samples
        );
    }
    let wrong = CallSpec::new(
        "my_tool",
        serde_json::json!({ "input_param": "a" }),
        Some("Processed: b".into()),
    )
    .unwrap();
    let r = http_to(&limit(), true, PROTOCOL_2026, wrong, 1, 2).await;
    assert_eq!((r.calls, r.errors), (2, 2));
}

#[tokio::test]
async fn protocol_2026_over_stdio_is_refused_clearly() {
    let target = Target::Stdio {
        command: limit().stdio_command(),
        stderr: StderrTo::Null,
        isolate_in: Some(workdir().to_path_buf()),
    };
    let mut options = options(echo("x"), 1, 1);
    options.protocol_version = PROTOCOL_2026.into();
    let error = load::run(&target, &options).await.unwrap_err();
    assert!(format!("{error:#}").contains("HTTP only"), "{error:#}");
}

#[tokio::test]
async fn the_baselines_serve_a_quiet_variant_of_the_tool() {
    let quiet = CallSpec::new(
        "my_tool_quiet",
        serde_json::json!({ "input_param": "q" }),
        Some("Processed: q".into()),
    )
    .unwrap();
    for spec in [bare(), limit()] {
        let r = http_to(&spec, true, DEFAULT_PROTOCOL_VERSION, quiet.clone(), 2, 10).await;
        assert_eq!(
            (r.calls, r.errors),
            (20, 0),
            "{}: {:?}",
            spec.name,
            r.error_samples
        );
        let target = Target::Stdio {
            command: spec.stdio_command(),
            stderr: StderrTo::Null,
            isolate_in: Some(workdir().to_path_buf()),
        };
        let r = load::run(&target, &options(quiet.clone(), 2, 10))
            .await
            .unwrap();
        assert_eq!(
            (r.calls, r.errors),
            (20, 0),
            "{}: {:?}",
            spec.name,
            r.error_samples
        );
    }
}
