//! The scenarios of protocol 2026-07-28 in the suite's 0.2 releases: input-required results (SEP-2322,
//! `input-required-result-*`) and the diagnostic tools of `server-stateless` (SEP-2575). Each is
//! ordinary code: `ctx.elicit`, `ctx.sample` and `ctx.list_roots` end the round for a client of
//! 2026-07-28, and the function runs again with the answers; older clients get the same requests sent
//! to them. `ctx.input("key")` gives a request the key the scenario names.

#![allow(deprecated)] // Roots are deprecated by SEP-2577; 2026-07-28 still carries roots/list in rounds.

use cm_mcp::{Elicitation, SamplingRequest, prelude::*};
use schemars::JsonSchema;
use serde::Deserialize;

/// The form of `user_name` and `step1`.
#[derive(Deserialize, JsonSchema)]
struct Name {
    name: String,
}

/// The form of `confirm`.
#[derive(Deserialize, JsonSchema)]
struct Confirmation {
    ok: bool,
}

/// The form of `step2`.
#[derive(Deserialize, JsonSchema)]
struct Colour {
    color: String,
}

/// The form of `user_context`.
#[derive(Deserialize, JsonSchema)]
struct PromptContext {
    context: String,
}

/// What a form's answer reads as in a result.
fn named<T>(answer: Elicitation<T>, field: impl Fn(T) -> String) -> String {
    match answer {
        Elicitation::Accept(value) => field(value),
        other => format!("({})", other.action()),
    }
}

/// Asks the user's name (`user_name`), then greets them.
#[cm_tool]
async fn test_input_required_result_elicitation(ctx: &Context) -> Result<String, ToolError> {
    let answer = ctx
        .input("user_name")
        .elicit::<Name>("What is your name?")
        .await?;
    Ok(format!("Hello, {}!", named(answer, |n| n.name)))
}

/// Asks the client's model a question (`capital_question`), and returns its answer.
#[cm_tool]
async fn test_input_required_result_sampling(ctx: &Context) -> Result<String, ToolError> {
    let request = SamplingRequest::new("What is the capital of France?").max_tokens(100);
    let reply = ctx.input("capital_question").sample(request).await?;
    Ok(format!("Sampling response: {}", reply.text()))
}

/// Asks the client for its roots (`client_roots`), and lists them.
#[cm_tool]
async fn test_input_required_result_list_roots(ctx: &Context) -> Result<String, ToolError> {
    let roots = ctx.input("client_roots").list_roots().await?;
    let uris: Vec<&str> = roots.iter().map(|root| root.uri.as_str()).collect();
    Ok(format!("Client roots: {}", uris.join(", ")))
}

/// Asks for a confirmation (`confirm`). The framework verified the echoed `requestState` before the
/// function ran again, hence "state-ok".
#[cm_tool]
async fn test_input_required_result_request_state(ctx: &Context) -> Result<String, ToolError> {
    let answer = ctx
        .input("confirm")
        .elicit::<Confirmation>("Please confirm")
        .await?;
    Ok(format!(
        "state-ok: confirmed {}",
        named(answer, |c| c.ok.to_string())
    ))
}

/// Asks for a name, a greeting from the model and the roots, all in one round.
#[cm_tool]
async fn test_input_required_result_multiple_inputs(ctx: &Context) -> Result<String, ToolError> {
    let (name, greeting, roots) = tokio::join!(
        ctx.input("user_name").elicit::<Name>("What is your name?"),
        ctx.input("greeting")
            .sample(SamplingRequest::new("Generate a greeting").max_tokens(50)),
        ctx.input("client_roots").list_roots(),
    );
    Ok(format!(
        "{} {} ({} roots)",
        greeting?.text(),
        named(name?, |n| n.name),
        roots?.len()
    ))
}

/// Asks for a name (`step1`), then, in a second round, a colour (`step2`).
#[cm_tool]
async fn test_input_required_result_multi_round(ctx: &Context) -> Result<String, ToolError> {
    let name = ctx
        .input("step1")
        .elicit::<Name>("Step 1: What is your name?")
        .await?;
    let colour = ctx
        .input("step2")
        .elicit::<Colour>("Step 2: What is your favorite color?")
        .await?;
    Ok(format!(
        "{} likes {}",
        named(name, |n| n.name),
        named(colour, |c| c.color)
    ))
}

/// Asks for a confirmation; the scenario then sends the state back altered, which the framework
/// refuses before the function runs.
#[cm_tool]
async fn test_input_required_result_tampered_state(ctx: &Context) -> Result<String, ToolError> {
    let answer = ctx
        .input("confirm")
        .elicit::<Confirmation>("Please confirm")
        .await?;
    Ok(format!("confirmed {}", named(answer, |c| c.ok.to_string())))
}

/// Asks the user's name and the model's greeting at once; a client that declared only sampling is
/// asked only for the greeting (asking for a form it cannot show is an error the tool reports).
#[cm_tool]
async fn test_input_required_result_capabilities(ctx: &Context) -> Result<String, ToolError> {
    let (name, greeting) = tokio::join!(
        ctx.input("user_name").elicit::<Name>("What is your name?"),
        ctx.input("greeting")
            .sample(SamplingRequest::new("Generate a greeting").max_tokens(50)),
    );
    let name = name.map_or_else(|_| "(no form)".into(), |n| named(n, |n| n.name));
    Ok(format!("{} {name}", greeting?.text()))
}

/// A prompt that asks the user for its context (`user_context`) first.
#[cm_prompt]
async fn test_input_required_result_prompt(ctx: &Context) -> Result<String, ToolError> {
    let answer = ctx
        .input("user_context")
        .elicit::<PromptContext>("What context should the prompt use?")
        .await?;
    Ok(format!(
        "Answer with this context in mind: {}",
        named(answer, |c| c.context)
    ))
}

/// Needs the client's `sampling` capability: a client of 2026-07-28 that did not declare it in the
/// request's `_meta` gets -32021 (HTTP 400) naming it.
#[cm_tool]
async fn test_missing_capability(ctx: &Context) -> Result<String, ToolError> {
    let reply = ctx.sample("Say hello").await?;
    Ok(format!("Sampling response: {}", reply.text()))
}

/// Logs to the client at every level; under 2026-07-28 only a request whose `_meta` asks for a log
/// level hears them.
#[cm_tool]
async fn test_logging_tool(ctx: &Context) -> &'static str {
    ctx.debug("a debug message").await;
    ctx.info("an info message").await;
    ctx.warning("a warning message").await;
    "Logged at debug, info and warning"
}

/// Asks the user for their name on the call's own stream: a server-to-client request up to
/// 2025-11-25, an input-required result under 2026-07-28 (never a request on the stream).
#[cm_tool]
async fn test_streaming_elicitation(ctx: &Context) -> Result<String, ToolError> {
    ctx.info("about to ask for a name").await;
    let answer = ctx.elicit::<Name>("What is your name?").await?;
    Ok(format!("Hello, {}!", named(answer, |n| n.name)))
}

/// Reports the region it was called for. A client of 2026-07-28 also sends the region in the HTTP
/// header `Mcp-Param-Region` (SEP-2243); a header that disagrees with the argument is refused before
/// the tool runs.
///
/// # Arguments
/// * `region` - Where the request is served
#[cm_tool]
async fn test_custom_header(#[arg(header = "Region")] region: String) -> String {
    format!("Region: {region}")
}
