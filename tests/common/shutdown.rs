//! What the shutdown tests (lifecycle.rs, signals.rs) compare: the order of a shutdown's events.

/// The platform events of a shutdown, and of the `wait_for_gate` call, in the order they were logged.
pub fn shutdown_sequence(logs: &cm_test_support::Logs) -> Vec<String> {
    logs.events()
        .into_iter()
        .filter_map(|v| {
            let t = v["event_type"].as_str()?;
            let relevant = t.starts_with("service.shutdown")
                || t == "fixture.shutdown.hook"
                || (t.starts_with("tool.execution") && v["data"]["tool_name"] == "wait_for_gate");
            relevant.then(|| t.to_string())
        })
        .collect()
}

/// What a drained shutdown logs: the call in flight completes after the signal and before the
/// shutdown hook.
pub const DRAINED_SHUTDOWN: [&str; 6] = [
    "tool.execution.start",
    "service.shutdown.signal",
    "tool.execution.complete",
    "service.shutdown.start",
    "fixture.shutdown.hook",
    "service.shutdown.complete",
];
