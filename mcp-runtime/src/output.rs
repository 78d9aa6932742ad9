//! Conversions from what an author's function returns to what MCP sends.

use std::{borrow::Cow, sync::Arc};

use base64::Engine as _;
use rmcp::model::{
    CallToolResult, ContentBlock, EmbeddedResource, GetPromptResult, PromptMessage,
    ReadResourceResult, ResourceContents, Role,
};
use schemars::{JsonSchema, generate::SchemaSettings};
use serde::Serialize;
use serde_json::Value;

use crate::{ToolError, extract::JsonObject};

/// A value a tool returns as MCP content, as it is.
///
/// Implemented for text (`String`, `&'static str`, `Cow<'static, str>`), `()` (no content),
/// [`ContentBlock`] and `Vec<ContentBlock>`, [`Image`], [`Audio`], [`Embedded`] (and rmcp's
/// `EmbeddedResource`), rmcp's `CallToolResult`, and [`Json`] (structured output). A tool returning any other type returns structured output: the type
/// must implement `Serialize + JsonSchema`.
pub trait IntoToolContent {
    /// The tool result.
    fn into_tool_result(self) -> Result<CallToolResult, ToolError>;
}

impl IntoToolContent for String {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::success(vec![ContentBlock::text(self)]))
    }
}

impl IntoToolContent for &'static str {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::success(vec![ContentBlock::text(self)]))
    }
}

impl IntoToolContent for Cow<'static, str> {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::success(vec![ContentBlock::text(self)]))
    }
}

impl IntoToolContent for () {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::success(Vec::new()))
    }
}

impl IntoToolContent for CallToolResult {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(self)
    }
}

impl IntoToolContent for ContentBlock {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::success(vec![self]))
    }
}

impl IntoToolContent for Vec<ContentBlock> {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::success(self))
    }
}

/// An image result: raw bytes and a MIME type (sent base64-encoded).
#[derive(Debug, Clone)]
pub struct Image {
    /// The encoded image (PNG, JPEG, ...).
    pub data: Vec<u8>,
    /// e.g. `image/png`.
    pub mime_type: String,
}

impl Image {
    /// An image of the given MIME type.
    pub fn new(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Image {
        Image {
            data: data.into(),
            mime_type: mime_type.into(),
        }
    }

    /// A PNG image.
    pub fn png(data: impl Into<Vec<u8>>) -> Image {
        Image::new(data, "image/png")
    }
}

impl From<Image> for ContentBlock {
    fn from(image: Image) -> ContentBlock {
        ContentBlock::image(base64_encode(&image.data), image.mime_type)
    }
}

impl IntoToolContent for Image {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::success(vec![self.into()]))
    }
}

/// An audio result: raw bytes and a MIME type (sent base64-encoded).
#[derive(Debug, Clone)]
pub struct Audio {
    /// The encoded audio (WAV, MP3, ...).
    pub data: Vec<u8>,
    /// e.g. `audio/wav`.
    pub mime_type: String,
}

impl Audio {
    /// Audio of the given MIME type.
    pub fn new(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Audio {
        Audio {
            data: data.into(),
            mime_type: mime_type.into(),
        }
    }
}

impl From<Audio> for ContentBlock {
    fn from(audio: Audio) -> ContentBlock {
        ContentBlock::audio(base64_encode(&audio.data), audio.mime_type)
    }
}

impl IntoToolContent for Audio {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::success(vec![self.into()]))
    }
}

/// A resource embedded in a tool result or a prompt message (content of type `resource`): its URI,
/// MIME type and contents, sent inline so the client need not read it.
///
/// ```
/// # use mcp_runtime::{Embedded, rmcp::model::{ContentBlock, PromptMessage, Role}};
/// let note = Embedded::text("notes://today", "Buy milk."); // text/plain
/// let data = Embedded::text("data://stats", r#"{"rows":3}"#).mime_type("application/json");
/// let logo = Embedded::blob("images://logo", vec![0x89, b'P', b'N', b'G']).mime_type("image/png");
/// let content: Vec<ContentBlock> = vec![note.into(), data.into(), logo.into()];
/// let message = PromptMessage::new(Role::User, Embedded::text("notes://x", "y").into());
/// ```
#[derive(Debug, Clone)]
pub struct Embedded {
    uri: String,
    mime_type: Option<String>,
    body: EmbeddedBody,
}

#[derive(Debug, Clone)]
enum EmbeddedBody {
    Text(String),
    Blob(Vec<u8>),
}

impl Embedded {
    /// Text contents (MIME type `text/plain` unless set with [`mime_type`](Embedded::mime_type)).
    pub fn text(uri: impl Into<String>, text: impl Into<String>) -> Embedded {
        Embedded {
            uri: uri.into(),
            mime_type: None,
            body: EmbeddedBody::Text(text.into()),
        }
    }

    /// Binary contents, sent base64-encoded (MIME type `application/octet-stream` unless set).
    pub fn blob(uri: impl Into<String>, data: impl Into<Vec<u8>>) -> Embedded {
        Embedded {
            uri: uri.into(),
            mime_type: None,
            body: EmbeddedBody::Blob(data.into()),
        }
    }

    /// The MIME type of the contents.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Embedded {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// The resource contents, as `resources/read` would return them.
    pub fn into_contents(self) -> ResourceContents {
        match self.body {
            EmbeddedBody::Text(text) => ResourceContents::text(text, self.uri)
                .with_mime_type(self.mime_type.as_deref().unwrap_or("text/plain")),
            EmbeddedBody::Blob(data) => ResourceContents::blob(base64_encode(&data), self.uri)
                .with_mime_type(
                    self.mime_type
                        .as_deref()
                        .unwrap_or("application/octet-stream"),
                ),
        }
    }
}

impl From<Embedded> for ContentBlock {
    fn from(embedded: Embedded) -> ContentBlock {
        ContentBlock::resource(embedded.into_contents())
    }
}

impl IntoToolContent for Embedded {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::success(vec![self.into()]))
    }
}

impl IntoToolContent for EmbeddedResource {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::success(vec![ContentBlock::Resource(self)]))
    }
}

fn base64_encode(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Structured output: sent as `structuredContent` plus a JSON text copy for clients that read only
/// text. Tools returning a `Serialize + JsonSchema` type are wrapped in it automatically.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoToolContent for Json<T> {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        let value = serde_json::to_value(&self.0).map_err(|e| {
            ToolError::internal(format!("the tool's result could not be serialized: {e}"))
        })?;
        let text = value.to_string();
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(value);
        Ok(result)
    }
}

/// A type a tool can return as structured output.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a #[cm_tool] function",
    label = "unsupported return type",
    note = "return String, a content type (ContentBlock, Image, Audio, CallToolResult), or a type that implements serde::Serialize and schemars::JsonSchema (structured output)"
)]
pub trait StructuredOutput: Serialize + JsonSchema {}

// Not recommended in errors: an unsupported return type reports `StructuredOutput`'s own message once
// instead of one error per missing bound, each with a list of unrelated implementors.
#[diagnostic::do_not_recommend]
impl<T: Serialize + JsonSchema> StructuredOutput for T {}

/// The output schema of a tool returning `T`.
pub struct OutputSchema {
    /// The JSON schema (always of type object, as MCP requires).
    pub schema: Arc<JsonObject>,
    /// Whether values are sent as `{"result": value}` because `T` is not an object.
    pub wrapped: bool,
}

/// Generates the output schema for `T`; a non-object `T` is wrapped as `{"result": T}`.
pub fn output_schema<T: JsonSchema>() -> OutputSchema {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut object = match schema.to_value() {
        Value::Object(map) => map,
        other => {
            let mut map = JsonObject::new();
            map.insert("const".into(), other);
            map
        }
    };
    if object.get("type").and_then(Value::as_str) == Some("object") {
        return OutputSchema {
            schema: Arc::new(object),
            wrapped: false,
        };
    }
    let dialect = object.remove("$schema");
    let defs = object.remove("$defs");
    let mut wrapper = JsonObject::new();
    if let Some(dialect) = dialect {
        wrapper.insert("$schema".into(), dialect);
    }
    wrapper.insert("type".into(), "object".into());
    let mut properties = JsonObject::new();
    properties.insert("result".into(), Value::Object(object));
    wrapper.insert("properties".into(), properties.into());
    wrapper.insert("required".into(), vec![Value::from("result")].into());
    if let Some(defs) = defs {
        wrapper.insert("$defs".into(), defs);
    }
    OutputSchema {
        schema: Arc::new(wrapper),
        wrapped: true,
    }
}

/// What a resource read produced, before the URI and MIME type are attached.
#[derive(Debug)]
pub enum ResourceBody {
    /// Text (default MIME type `text/plain`).
    Text(String),
    /// Bytes, sent base64-encoded (default `application/octet-stream`).
    Blob(Vec<u8>),
    /// Serialized JSON (default `application/json`).
    Json(String),
    /// Contents built by the author, sent as they are.
    Contents(Vec<ResourceContents>),
}

impl ResourceBody {
    pub(crate) fn into_result(self, uri: &str, mime_type: Option<&str>) -> ReadResourceResult {
        let contents = match self {
            ResourceBody::Text(text) => vec![
                ResourceContents::text(text, uri).with_mime_type(mime_type.unwrap_or("text/plain")),
            ],
            ResourceBody::Json(text) => vec![
                ResourceContents::text(text, uri)
                    .with_mime_type(mime_type.unwrap_or("application/json")),
            ],
            ResourceBody::Blob(bytes) => vec![
                ResourceContents::blob(base64_encode(&bytes), uri)
                    .with_mime_type(mime_type.unwrap_or("application/octet-stream")),
            ],
            ResourceBody::Contents(contents) => contents,
        };
        ReadResourceResult::new(contents)
    }

    /// Characters (text) or bytes (blob) read, for the logs.
    pub(crate) fn len(&self) -> usize {
        match self {
            ResourceBody::Text(t) | ResourceBody::Json(t) => t.chars().count(),
            ResourceBody::Blob(b) => b.len(),
            ResourceBody::Contents(c) => c.len(),
        }
    }
}

/// A value a resource function returns.
///
/// Text (`String`, `&'static str`, `Cow<'static, str>`), bytes (`Vec<u8>`), rmcp's
/// `ResourceContents`, `Vec<ResourceContents>` or `ReadResourceResult`; any other `Serialize` type
/// is sent as JSON.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a #[cm_resource] function",
    label = "unsupported return type",
    note = "return String (text), Vec<u8> (binary), ResourceContents, or a type that implements serde::Serialize (JSON)"
)]
pub trait IntoResourceBody {
    /// The body.
    fn into_body(self) -> Result<ResourceBody, ToolError>;
}

impl IntoResourceBody for String {
    fn into_body(self) -> Result<ResourceBody, ToolError> {
        Ok(ResourceBody::Text(self))
    }
}

impl IntoResourceBody for &'static str {
    fn into_body(self) -> Result<ResourceBody, ToolError> {
        Ok(ResourceBody::Text(self.into()))
    }
}

impl IntoResourceBody for Cow<'static, str> {
    fn into_body(self) -> Result<ResourceBody, ToolError> {
        Ok(ResourceBody::Text(self.into_owned()))
    }
}

impl IntoResourceBody for Vec<u8> {
    fn into_body(self) -> Result<ResourceBody, ToolError> {
        Ok(ResourceBody::Blob(self))
    }
}

impl IntoResourceBody for ResourceContents {
    fn into_body(self) -> Result<ResourceBody, ToolError> {
        Ok(ResourceBody::Contents(vec![self]))
    }
}

impl IntoResourceBody for Vec<ResourceContents> {
    fn into_body(self) -> Result<ResourceBody, ToolError> {
        Ok(ResourceBody::Contents(self))
    }
}

impl IntoResourceBody for ReadResourceResult {
    fn into_body(self) -> Result<ResourceBody, ToolError> {
        Ok(ResourceBody::Contents(self.contents))
    }
}

/// How the macros convert a resource's return value that is not text, bytes or contents: as JSON. A
/// trait of its own, so that a type that is not `Serialize` is reported in `#[cm_resource]`'s terms.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a #[cm_resource] function",
    label = "unsupported return type",
    note = "return String (text), Vec<u8> (binary), ResourceContents, or a type that implements serde::Serialize (sent as JSON)"
)]
pub trait IntoJsonResource {
    /// The value serialized as the resource's JSON body.
    fn into_json_body(self) -> Result<ResourceBody, ToolError>;
}

#[diagnostic::do_not_recommend]
impl<T> IntoJsonResource for T
where
    Json<T>: IntoResourceBody,
{
    fn into_json_body(self) -> Result<ResourceBody, ToolError> {
        Json(self).into_body()
    }
}

impl<T: Serialize> IntoResourceBody for Json<T> {
    fn into_body(self) -> Result<ResourceBody, ToolError> {
        serde_json::to_string(&self.0)
            .map(ResourceBody::Json)
            .map_err(|e| ToolError::internal(format!("the resource could not be serialized: {e}")))
    }
}

/// A value a prompt function returns: `Vec<PromptMessage>`, one `PromptMessage`, a `String` (one user
/// message), or rmcp's `GetPromptResult`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a #[cm_prompt] function",
    label = "unsupported return type",
    note = "return Vec<PromptMessage>, PromptMessage, String (one user message) or GetPromptResult"
)]
pub trait IntoPromptResult {
    /// The prompt's result.
    fn into_prompt_result(self) -> GetPromptResult;
}

impl IntoPromptResult for GetPromptResult {
    fn into_prompt_result(self) -> GetPromptResult {
        self
    }
}

impl IntoPromptResult for Vec<PromptMessage> {
    fn into_prompt_result(self) -> GetPromptResult {
        GetPromptResult::new(self)
    }
}

impl IntoPromptResult for PromptMessage {
    fn into_prompt_result(self) -> GetPromptResult {
        GetPromptResult::new(vec![self])
    }
}

impl IntoPromptResult for String {
    fn into_prompt_result(self) -> GetPromptResult {
        GetPromptResult::new(vec![PromptMessage::new_text(Role::User, self)])
    }
}

impl IntoPromptResult for &'static str {
    fn into_prompt_result(self) -> GetPromptResult {
        GetPromptResult::new(vec![PromptMessage::new_text(Role::User, self)])
    }
}
