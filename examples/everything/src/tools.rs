//! Tools: content of every type, logging, progress, errors, sampling, elicitation, and one that changes
//! the watched resource.

use std::time::Duration;

use cm_mcp::{Arguments, Audio, Elicitation, Embedded, SamplingRequest, prelude::*};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    WATCHED_URI, Watched,
    media::{RED_PIXEL_PNG, SILENCE_WAV},
};

/// The pause between the steps of the logging and progress tools, so that a client sees the
/// notifications arrive while the call is running.
const STEP: Duration = Duration::from_millis(50);

/// Returns a simple text response.
#[cm_tool]
async fn test_simple_text() -> &'static str {
    "This is a simple text response for testing."
}

/// Returns an image: a 1×1 red pixel.
#[cm_tool]
async fn test_image_content() -> Image {
    Image::png(RED_PIXEL_PNG)
}

/// Returns audio: a millisecond of silence.
#[cm_tool]
async fn test_audio_content() -> Audio {
    Audio::new(SILENCE_WAV, "audio/wav")
}

/// Returns an embedded text resource.
#[cm_tool]
async fn test_embedded_resource() -> Embedded {
    Embedded::text(
        "test://embedded-resource",
        "This is an embedded resource content.",
    )
}

/// Returns text, an image and an embedded resource in one result.
#[cm_tool]
async fn test_multiple_content_types() -> Vec<ContentBlock> {
    vec![
        ContentBlock::text("Multiple content types test:"),
        Image::png(RED_PIXEL_PNG).into(),
        Embedded::text(
            "test://mixed-content-resource",
            r#"{"test":"data","value":123}"#,
        )
        .mime_type("application/json")
        .into(),
    ]
}

/// Sends three log messages to the client while it runs.
#[cm_tool]
async fn test_tool_with_logging(ctx: &Context) -> &'static str {
    ctx.info("Tool execution started").await;
    tokio::time::sleep(STEP).await;
    ctx.info("Tool processing data").await;
    tokio::time::sleep(STEP).await;
    ctx.info("Tool execution completed").await;
    "Tool with logging executed successfully"
}

/// Reports progress 0, 50 and 100 of 100 while it runs (when the caller asked for progress).
#[cm_tool]
async fn test_tool_with_progress(ctx: &Context) -> String {
    for (step, progress) in [0.0, 50.0, 100.0].into_iter().enumerate() {
        if step > 0 {
            tokio::time::sleep(STEP).await;
        }
        ctx.report_progress(progress, Some(100.0), None).await;
    }
    format!("Progress completed for request {}", ctx.request_id())
}

/// Always fails.
#[cm_tool]
async fn test_error_handling() -> Result<String, ToolError> {
    Err(ToolError::new(
        "This tool intentionally returns an error for testing",
    ))
}

/// Asks the client's language model to answer a prompt.
///
/// # Arguments
/// * `prompt` - The prompt to send to the LLM
#[cm_tool]
async fn test_sampling(ctx: &Context, prompt: String) -> Result<String, ToolError> {
    let reply = ctx
        .sample(SamplingRequest::new(prompt).max_tokens(100))
        .await?;
    Ok(format!("LLM response: {}", reply.text()))
}

// The user's details, as `test_elicitation` asks for them (a doc comment would describe the form).
#[derive(Serialize, Deserialize, JsonSchema)]
struct UserInfo {
    /// User's response
    username: String,
    /// User's email address
    email: String,
}

/// Asks the user for their name and email address.
///
/// # Arguments
/// * `message` - The message to show the user
#[cm_tool]
async fn test_elicitation(ctx: &Context, message: String) -> Result<String, ToolError> {
    let answer = ctx.elicit::<UserInfo>(message).await?;
    Ok(format!("User response: {}", describe(&answer)))
}

/// An account's status.
#[derive(Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
enum Status {
    #[default]
    Active,
    Inactive,
    Pending,
}

// A form whose every field has a default (SEP-1034).
#[derive(Serialize, Deserialize, JsonSchema)]
struct DefaultsForm {
    /// Your name
    #[serde(default = "default_name")]
    name: String,
    /// Your age in years
    #[serde(default = "default_age")]
    age: i64,
    /// Your score
    #[serde(default = "default_score")]
    score: f64,
    /// Your account's status
    #[serde(default)]
    status: Status,
    /// Whether you are verified
    #[serde(default = "default_verified")]
    verified: bool,
}

fn default_name() -> String {
    "John Doe".into()
}

fn default_age() -> i64 {
    30
}

fn default_score() -> f64 {
    95.5
}

fn default_verified() -> bool {
    true
}

/// Asks the user for a form whose fields all have defaults (SEP-1034).
#[cm_tool]
async fn test_elicitation_sep1034_defaults(ctx: &Context) -> Result<String, ToolError> {
    let answer = ctx
        .elicit::<DefaultsForm>("Please review your details")
        .await?;
    Ok(format!("Elicitation completed: {}", describe(&answer)))
}

/// An option without a title: the value is what the user sees.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Untitled {
    Option1,
    Option2,
    Option3,
}

/// An option with a title for the user.
#[derive(Serialize, Deserialize, JsonSchema)]
enum TitledOption {
    #[serde(rename = "value1")]
    #[schemars(title = "First Option")]
    First,
    #[serde(rename = "value2")]
    #[schemars(title = "Second Option")]
    Second,
    #[serde(rename = "value3")]
    #[schemars(title = "Third Option")]
    Third,
}

/// A choice with a title for the user, in a multi-select.
#[derive(Serialize, Deserialize, JsonSchema)]
enum TitledChoice {
    #[serde(rename = "value1")]
    #[schemars(title = "First Choice")]
    First,
    #[serde(rename = "value2")]
    #[schemars(title = "Second Choice")]
    Second,
    #[serde(rename = "value3")]
    #[schemars(title = "Third Choice")]
    Third,
}

/// An option of the deprecated kind titled by a parallel `enumNames` list.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Legacy {
    Opt1,
    Opt2,
    Opt3,
}

// A form with every kind of enum field (SEP-1330).
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct EnumsForm {
    /// Pick one (untitled)
    untitled_single: Untitled,
    /// Pick one (titled)
    titled_single: TitledOption,
    /// Pick one (legacy titles)
    #[schemars(extend("enumNames" = ["Option One", "Option Two", "Option Three"]))]
    legacy_enum: Legacy,
    /// Pick any (untitled)
    untitled_multi: Vec<Untitled>,
    /// Pick any (titled)
    titled_multi: Vec<TitledChoice>,
}

/// Asks the user for a form with every kind of enum field (SEP-1330).
#[cm_tool]
async fn test_elicitation_sep1330_enums(ctx: &Context) -> Result<String, ToolError> {
    let answer = ctx
        .elicit::<EnumsForm>("Please choose your options")
        .await?;
    Ok(format!("Elicitation completed: {}", describe(&answer)))
}

/// `action=<action>, content=<JSON>` for an elicitation's answer.
fn describe<T: Serialize>(answer: &Elicitation<T>) -> String {
    let content = match answer {
        Elicitation::Accept(content) => serde_json::to_string(content).unwrap_or_default(),
        Elicitation::Decline | Elicitation::Cancel => "{}".into(),
    };
    format!("action={}, content={content}", answer.action())
}

/// Replaces the watched resource's content and notifies its subscribers.
///
/// # Arguments
/// * `content` - The new content of test://watched-resource
#[cm_tool]
async fn test_update_watched_resource(
    ctx: &Context,
    watched: State<Watched>,
    content: String,
) -> String {
    watched.set(content);
    let notified = ctx.notify_resource_updated(WATCHED_URI).await;
    format!("Updated {WATCHED_URI}; notified {notified} subscriber(s)")
}

/// Answers after a short pause; the SSE polling scenario (SEP-1699) calls it over a raw stream.
#[cm_tool]
async fn test_reconnection() -> &'static str {
    tokio::time::sleep(STEP).await;
    "Reconnection test completed"
}

/// A postal address.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "address", extend("$anchor" = "addressDef"))]
#[allow(dead_code)] // the tool only reports what it received
struct Address {
    street: Option<String>,
    city: Option<String>,
}

/// How to reach the person.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum ContactMethod {
    Phone,
    Email,
}

// The whole argument object of `json_schema_2020_12_tool`: its schema keeps `$schema`, `$defs` and,
// because unknown arguments are refused, `additionalProperties: false`; the composition and
// conditional keywords (SEP-2106) are written through schemars as they are.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend(
    "allOf" = [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if" = {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then" = {"required": ["phone"]},
    "else" = {"required": ["email"]},
))]
#[allow(dead_code)] // the tool only reports what it received
struct SchemaArgs {
    name: Option<String>,
    address: Option<Address>,
    contact_method: Option<ContactMethod>,
    phone: Option<String>,
    email: Option<String>,
}

/// Tool with JSON Schema 2020-12 features
#[cm_tool]
async fn json_schema_2020_12_tool(args: Arguments<SchemaArgs>) -> String {
    let Arguments(args) = args;
    let city = args.address.and_then(|a| a.city);
    format!(
        "Received name={}, city={}",
        args.name.as_deref().unwrap_or("none"),
        city.as_deref().unwrap_or("none")
    )
}
