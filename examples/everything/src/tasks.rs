//! The tasks extension's scenarios (SEP-2663, `tasks-*` in the suite's 0.2 releases). A tool takes
//! part with `#[cm_tool(task = "optional" | "required")]`; its code is ordinary: a client that
//! declared the extension gets a task when the call waits, and polls `tasks/get` for its result.
//! `ctx.go_async()` starts the task where the function has nothing to wait on yet, so that what it
//! asks next is the task's input (answered with `tasks/update`), not a round of the call.

use std::time::Duration;

use cm_mcp::{Elicitation, prelude::*};
use schemars::JsonSchema;
use serde::Deserialize;

/// Greets `name` (sync only: never a task).
#[cm_tool]
async fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

/// Works for `seconds` seconds, reporting its progress halfway (a task's status message), then
/// reports `label`; stops at once when its task is cancelled.
#[cm_tool(task = "optional")]
async fn slow_compute(
    ctx: &Context,
    seconds: f64,
    label: Option<String>,
) -> Result<String, ToolError> {
    let label = label.unwrap_or_else(|| "compute".into());
    let half = Duration::from_secs_f64(seconds.max(0.0) / 2.0);
    let stopped = || {
        ToolError::new(format!(
            "slow_compute `{label}` saw its cancellation token and stopped"
        ))
    };
    tokio::select! {
        () = tokio::time::sleep(half) => {}
        () = ctx.cancellation_token().cancelled() => return Err(stopped()),
    }
    ctx.report_progress(seconds / 2.0, Some(seconds), Some(&label))
        .await;
    tokio::select! {
        () = tokio::time::sleep(half) => Ok(format!("{label}: done after {seconds}s")),
        () = ctx.cancellation_token().cancelled() => Err(stopped()),
    }
}

/// Works for a moment, then fails as a tool does (a completed task whose result has `isError`).
#[cm_tool(task = "required")]
async fn failing_job() -> Result<String, ToolError> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    Err(ToolError::new("failing_job failed, as it always does"))
}

/// Works for a moment, then panics: a fault of the server, so a failed task with an error object.
#[cm_tool(task = "optional")]
async fn protocol_error_job() -> String {
    tokio::time::sleep(Duration::from_millis(200)).await;
    panic!("protocol_error_job panics on purpose");
}

/// The form of `confirm_delete`.
#[derive(Deserialize, JsonSchema)]
struct Confirm {
    /// Delete the file?
    confirm: bool,
}

/// Asks, inside its task, whether to delete `filename`.
#[cm_tool(task = "optional")]
async fn confirm_delete(ctx: &Context, filename: String) -> Result<String, ToolError> {
    ctx.go_async().await;
    let answer = ctx.elicit::<Confirm>(format!("Delete {filename}?")).await?;
    Ok(match answer {
        Elicitation::Accept(Confirm { confirm: true }) => format!("Deleted {filename}"),
        _ => format!("Kept {filename}"),
    })
}

/// The forms of `multi_input`.
#[derive(Deserialize, JsonSchema)]
struct Detail {
    /// A name.
    name: Option<String>,
    /// A confirmation.
    confirm: Option<bool>,
}

/// Asks two questions at once inside its task.
#[cm_tool(task = "optional")]
async fn multi_input(ctx: &Context) -> Result<String, ToolError> {
    ctx.go_async().await;
    let (first, second) = tokio::join!(
        ctx.elicit::<Detail>("First question"),
        ctx.elicit::<Detail>("Second question"),
    );
    let read = |answer: Elicitation<Detail>| match answer {
        Elicitation::Accept(detail) => format!(
            "{} ({})",
            detail.name.unwrap_or_default(),
            detail.confirm.unwrap_or_default()
        ),
        other => format!("({})", other.action()),
    };
    Ok(format!("answers: {}, {}", read(first?), read(second?)))
}

/// The form of `user_name`.
#[derive(Deserialize, JsonSchema)]
struct Name {
    name: String,
}

/// Asks the user's name in a round of the call (`user_name`), then goes on as a task that greets them.
#[cm_tool(task = "required")]
async fn test_tool_with_task(ctx: &Context) -> Result<String, ToolError> {
    let answer = ctx
        .input("user_name")
        .elicit::<Name>("What is your name?")
        .await?;
    ctx.go_async().await;
    let name = match answer {
        Elicitation::Accept(Name { name }) => name,
        other => format!("({})", other.action()),
    };
    Ok(format!("Hello, {name}! (from the task)"))
}
