//! Conversions from what an author's function returns to what MCP sends.

use std::{borrow::Cow, marker::PhantomData, sync::Arc};

use base64::Engine as _;
use rmcp::model::{
    CallToolResult, ContentBlock, EmbeddedResource, GetPromptResult, PromptMessage,
    ReadResourceResult, ResourceContents, Role,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::{ToolError, extract::JsonObject};

/// A value a tool returns as MCP content, as it is.
///
/// Implemented for text (`String`, `&'static str`, `Cow<'static, str>`), `()` (no content),
/// [`ContentBlock`] and `Vec<ContentBlock>`, [`Image`], [`Audio`], [`Embedded`] (and rmcp's
/// `EmbeddedResource`), rmcp's `CallToolResult`, and [`Json`] (structured output). Whether a tool's
/// return type is content is decided by this trait, so a type alias of `String` is text, and a type of
/// your own that implements it is content too. A tool returning any other type returns structured
/// output: the type must implement `Serialize + JsonSchema`, and its schema is the tool's `outputSchema`.
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
        // Written straight into a buffer: `Value`'s `Display` goes through `fmt::Formatter` a
        // token at a time, which cost a rows-sized result (postgres-mcp's) twice as much.
        let text = serde_json::to_string(&value).map_err(|e| {
            ToolError::internal(format!("the tool's result could not be serialized: {e}"))
        })?;
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(value);
        Ok(result)
    }
}

/// A type a tool can return as structured output: `Serialize + JsonSchema`.
pub trait StructuredOutput: Serialize + JsonSchema {}

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
    let schema = crate::schema::settings()
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
    // schemars titles a root with the Rust type's name (`uint`, `Array_of_String`): no title for a
    // client inside the wrapper.
    if object.get("title").and_then(Value::as_str) == Some(T::schema_name().as_ref()) {
        object.remove("title");
    }
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

/// How the macros convert a resource's return value that is not text, bytes or contents: as JSON.
pub trait IntoJsonResource {
    /// The value serialized as the resource's JSON body.
    fn into_json_body(self) -> Result<ResourceBody, ToolError>;
}

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

// What a return type becomes is decided by the traits it implements, at the expansion site, where the
// macro names the concrete type: autoref specialization (dtolnay's write-up of the technique). The
// macro calls `(&&&Select::<T>::NEW).tool_return()`; method lookup tries the receiver with the most
// references first, so the first selector below whose bound `T` meets wins, and the result's type
// (a "kind") carries the conversion and, for tools, the output schema as a constant, which the
// definition (a static) can hold. The last selector takes any type and yields `Unsupported`, which
// `tool_kind`/`resource_kind` then refuse with one error, in the author's terms, at the author's type.

/// The probe the selectors are implemented on; `T` is the function's success type.
pub struct Select<T>(PhantomData<fn() -> T>);

impl<T> Select<T> {
    /// The probe for `T`.
    pub const NEW: Select<T> = Select(PhantomData);
}

/// The return type is sent as it is: it implements [`IntoToolContent`] or [`IntoResourceBody`].
pub struct AsIs;

/// The return type is sent as JSON: structured output for a tool, a JSON body for a resource.
pub struct AsJson;

/// The return type cannot be returned; chosen only by a selector whose bound fails to compile.
pub struct Unsupported;

/// What a tool's return type becomes: its conversion, and its output schema if it is structured.
pub trait ToolReturn<T> {
    /// The output schema, for structured output.
    const OUTPUT_SCHEMA: Option<fn() -> OutputSchema>;

    /// The tool result for a value.
    fn into_result(value: T) -> Result<CallToolResult, ToolError>;
}

impl<T: IntoToolContent> ToolReturn<T> for AsIs {
    const OUTPUT_SCHEMA: Option<fn() -> OutputSchema> = None;

    fn into_result(value: T) -> Result<CallToolResult, ToolError> {
        value.into_tool_result()
    }
}

impl<T: StructuredOutput> ToolReturn<T> for AsJson {
    const OUTPUT_SCHEMA: Option<fn() -> OutputSchema> = Some(output_schema::<T>);

    fn into_result(value: T) -> Result<CallToolResult, ToolError> {
        Json(value).into_tool_result()
    }
}

// Implemented for every `T` so that the failed selector's error is the only one.
impl<T> ToolReturn<T> for Unsupported {
    const OUTPUT_SCHEMA: Option<fn() -> OutputSchema> = None;

    fn into_result(_: T) -> Result<CallToolResult, ToolError> {
        Err(ToolError::internal("unsupported return type"))
    }
}

/// First choice for a tool: content.
pub trait ToolAsIs {
    /// Content, sent as it is.
    fn tool_return(&self) -> AsIs {
        AsIs
    }
}

impl<T: IntoToolContent> ToolAsIs for &&Select<T> {}

/// Second choice for a tool: structured output.
pub trait ToolAsJson {
    /// Structured output, with an output schema.
    fn tool_return(&self) -> AsJson {
        AsJson
    }
}

impl<T: StructuredOutput> ToolAsJson for &Select<T> {}

/// Last choice for a tool: nothing fits; [`tool_kind`] then says what to implement.
pub trait ToolUnsupported {
    /// `T` is neither content nor structured output.
    fn tool_return(&self) -> Unsupported {
        Unsupported
    }
}

impl<T> ToolUnsupported for Select<T> {}

/// Holds for every return type a kind can send. Only [`Unsupported`] can fail it, and then the one
/// error the author sees is this trait's, at the return type, naming what to implement.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a #[cm_tool] function",
    label = "unsupported return type",
    note = "return String, a content type (ContentBlock, Image, Audio, CallToolResult, or any type that implements IntoToolContent), or a type that implements serde::Serialize and schemars::JsonSchema (structured output)"
)]
pub trait ContentOrStructured<K> {}

impl<T> ContentOrStructured<AsIs> for T {}
impl<T> ContentOrStructured<AsJson> for T {}
// Not recommended in errors: the message above, not "`File` does not implement StructuredOutput".
#[diagnostic::do_not_recommend]
impl<T: StructuredOutput> ContentOrStructured<Unsupported> for T {}

/// The selected kind, once `T` is known to fit it. Generated code names `T` as written, so that
/// rustc reports an unsupported return type at the author's type.
pub fn tool_kind<T: ContentOrStructured<K>, K: ToolReturn<T>>(kind: K) -> K {
    kind
}

/// The output schema of the kind `kind` returns; `const` because the definition is a static.
pub const fn tool_output_schema<T, K: ToolReturn<T>>(
    _kind: fn() -> K,
) -> Option<fn() -> OutputSchema> {
    K::OUTPUT_SCHEMA
}

/// Converts a tool's successful return value as the kind `kind` returns says.
pub fn tool_result<T, K: ToolReturn<T>>(
    _kind: fn() -> K,
    value: T,
) -> Result<CallToolResult, ToolError> {
    K::into_result(value)
}

/// What a resource's return type becomes.
pub trait ResourceReturn<T> {
    /// The body for a value.
    fn into_body(value: T) -> Result<ResourceBody, ToolError>;
}

impl<T: IntoResourceBody> ResourceReturn<T> for AsIs {
    fn into_body(value: T) -> Result<ResourceBody, ToolError> {
        value.into_body()
    }
}

impl<T: IntoJsonResource> ResourceReturn<T> for AsJson {
    fn into_body(value: T) -> Result<ResourceBody, ToolError> {
        value.into_json_body()
    }
}

impl<T> ResourceReturn<T> for Unsupported {
    fn into_body(_: T) -> Result<ResourceBody, ToolError> {
        Err(ToolError::internal("unsupported return type"))
    }
}

/// First choice for a resource: text, bytes or contents.
pub trait ResourceAsIs {
    /// Sent as it is.
    fn resource_return(&self) -> AsIs {
        AsIs
    }
}

impl<T: IntoResourceBody> ResourceAsIs for &&Select<T> {}

/// Second choice for a resource: JSON.
pub trait ResourceAsJson {
    /// Serialized to JSON.
    fn resource_return(&self) -> AsJson {
        AsJson
    }
}

impl<T: IntoJsonResource> ResourceAsJson for &Select<T> {}

/// Last choice for a resource: nothing fits; [`resource_kind`] then says what to implement.
pub trait ResourceUnsupported {
    /// `T` is neither a resource body nor `Serialize`.
    fn resource_return(&self) -> Unsupported {
        Unsupported
    }
}

impl<T> ResourceUnsupported for Select<T> {}

/// Holds for every return type a kind can send (see [`ContentOrStructured`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a #[cm_resource] function",
    label = "unsupported return type",
    note = "return String (text), Vec<u8> (binary), ResourceContents, any type that implements IntoResourceBody, or a type that implements serde::Serialize (sent as JSON)"
)]
pub trait BodyOrSerialize<K> {}

impl<T> BodyOrSerialize<AsIs> for T {}
impl<T> BodyOrSerialize<AsJson> for T {}
#[diagnostic::do_not_recommend]
impl<T: IntoJsonResource> BodyOrSerialize<Unsupported> for T {}

/// The selected kind, once `T` is known to fit it (see [`tool_kind`]).
pub fn resource_kind<T: BodyOrSerialize<K>, K: ResourceReturn<T>>(kind: K) -> K {
    kind
}

/// Converts a resource's return value as the kind `kind` returns says.
pub fn resource_body<T, K: ResourceReturn<T>>(
    _kind: fn() -> K,
    value: T,
) -> Result<ResourceBody, ToolError> {
    K::into_body(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    // What the macros generate, for a type they would see.
    macro_rules! tool_kind {
        ($t:ty) => {{
            fn kind() -> impl ToolReturn<$t> {
                tool_kind::<$t, _>((&&&Select::<$t>::NEW).tool_return())
            }
            kind
        }};
    }

    macro_rules! resource_kind {
        ($t:ty) => {{
            fn kind() -> impl ResourceReturn<$t> {
                resource_kind::<$t, _>((&&&Select::<$t>::NEW).resource_return())
            }
            kind
        }};
    }

    type Reply = String;

    struct Shout(String);

    impl IntoToolContent for Shout {
        fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
            self.0.to_uppercase().into_tool_result()
        }
    }

    #[derive(Serialize, JsonSchema)]
    struct Report {
        rows: u32,
    }

    fn text(result: &CallToolResult) -> &str {
        result.content[0]
            .as_text()
            .map(|t| t.text.as_str())
            .unwrap()
    }

    #[test]
    fn a_type_implementing_into_tool_content_is_content_whatever_its_name() {
        let kind = tool_kind!(Reply);
        assert!(tool_output_schema(kind).is_none());
        let result = tool_result(kind, "hi".to_string()).unwrap();
        assert_eq!(text(&result), "hi");
        assert!(result.structured_content.is_none());

        let kind = tool_kind!(Shout);
        assert!(tool_output_schema(kind).is_none());
        assert_eq!(text(&tool_result(kind, Shout("hi".into())).unwrap()), "HI");
    }

    #[test]
    fn any_other_serializable_type_is_structured_output_with_a_schema() {
        let kind = tool_kind!(Report);
        let schema = tool_output_schema(kind).expect("an output schema")();
        assert!(!schema.wrapped);
        assert!(schema.schema["properties"].get("rows").is_some());
        let result = tool_result(kind, Report { rows: 3 }).unwrap();
        assert_eq!(
            result.structured_content,
            Some(serde_json::json!({"rows": 3}))
        );

        let schema = tool_output_schema(tool_kind!(Vec<String>)).expect("an output schema")();
        assert!(schema.wrapped);
    }

    #[test]
    fn resources_send_bodies_as_they_are_and_anything_else_as_json() {
        type Page = Cow<'static, str>;
        let body = resource_body(resource_kind!(Page), Cow::Borrowed("x")).unwrap();
        assert!(matches!(body, ResourceBody::Text(t) if t == "x"));
        let body = resource_body(resource_kind!(Vec<u8>), vec![1, 2]).unwrap();
        assert!(matches!(body, ResourceBody::Blob(b) if b == [1, 2]));
        let body = resource_body(resource_kind!(Report), Report { rows: 1 }).unwrap();
        assert!(matches!(body, ResourceBody::Json(j) if j == r#"{"rows":1}"#));
    }
}
