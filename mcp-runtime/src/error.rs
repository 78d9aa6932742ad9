//! `ToolError`: what a tool, resource or prompt returns when it fails.

use std::{borrow::Cow, fmt};

/// What kind of failure a [`ToolError`] is; decides the JSON-RPC code for resources and prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The call ran and failed (the default).
    Execution,
    /// The caller's arguments were missing or malformed.
    InvalidArguments,
    /// The thing asked for does not exist (an unknown resource, a missing row).
    NotFound,
    /// A connector or database this call needs is not connected yet.
    NotConnected,
    /// The caller cancelled the request.
    Cancelled,
    /// Something inside the server is wrong (missing state, a serialization failure).
    Internal,
    /// The call needs a client capability (sampling, elicitation, roots) the client did not declare.
    /// Under protocol 2026-07-28 this is JSON-RPC error -32021 (HTTP 400), for every kind of call.
    MissingCapability,
}

/// The error a tool returns: a message the caller (often a model) reads, and a type name for the logs.
///
/// A tool returning `Err(ToolError)` produces a result with `isError: true` carrying the message; it is
/// never a transport error and never a panic. Any `std::error::Error` converts with `?`, keeping its
/// type name as `error_type` in the `*.error` event.
///
/// ```
/// use mcp_runtime::ToolError;
/// fn parse(n: &str) -> Result<u32, ToolError> {
///     Ok(n.parse::<u32>()?) // a ParseIntError becomes a ToolError
/// }
/// assert_eq!(parse("x").unwrap_err().error_type(), "ParseIntError");
/// ```
pub struct ToolError {
    message: String,
    error_type: Cow<'static, str>,
    kind: ErrorKind,
    /// What the log says instead of `message`, when the caller must not see it (a panic's text).
    logged: Option<String>,
    /// The client capability whose absence this error is ([`ErrorKind::MissingCapability`]).
    capability: Option<&'static str>,
}

impl ToolError {
    /// A failure with this message (`error_type` "ToolError").
    pub fn new(message: impl fmt::Display) -> ToolError {
        ToolError {
            message: message.to_string(),
            error_type: Cow::Borrowed("ToolError"),
            kind: ErrorKind::Execution,
            logged: None,
            capability: None,
        }
    }

    /// The client did not declare `capability` (`sampling`, `elicitation`, `roots`), which the call
    /// needs (`error_type` as given).
    pub(crate) fn missing_capability(
        message: impl fmt::Display,
        capability: &'static str,
        error_type: &'static str,
    ) -> ToolError {
        let mut error = ToolError::new(message)
            .with_kind(ErrorKind::MissingCapability)
            .with_type(error_type);
        error.capability = Some(capability);
        error
    }

    /// The capability a [`ErrorKind::MissingCapability`] error names.
    pub(crate) fn capability(&self) -> Option<&'static str> {
        self.capability
    }

    /// The caller's arguments are wrong (`error_type` "ValidationError").
    pub fn invalid_arguments(message: impl fmt::Display) -> ToolError {
        ToolError::new(message)
            .with_kind(ErrorKind::InvalidArguments)
            .with_type("ValidationError")
    }

    /// What was asked for does not exist (`error_type` "NotFound").
    pub fn not_found(message: impl fmt::Display) -> ToolError {
        ToolError::new(message)
            .with_kind(ErrorKind::NotFound)
            .with_type("NotFound")
    }

    /// A connection this call needs is not available yet (`error_type` "NotConnected").
    pub fn not_connected(message: impl fmt::Display) -> ToolError {
        ToolError::new(message)
            .with_kind(ErrorKind::NotConnected)
            .with_type("NotConnected")
    }

    /// A fault inside the server (`error_type` "InternalError").
    pub fn internal(message: impl fmt::Display) -> ToolError {
        ToolError::new(message)
            .with_kind(ErrorKind::Internal)
            .with_type("InternalError")
    }

    pub(crate) fn cancelled() -> ToolError {
        ToolError::new("the request was cancelled by the client")
            .with_kind(ErrorKind::Cancelled)
            .with_type("Cancelled")
    }

    /// The function `name` panicked: the caller learns that, the log also gets the panic's text.
    pub(crate) fn panicked(name: &str, text: &str) -> ToolError {
        let mut error = ToolError::internal(format!(
            "`{name}` failed: the server's code panicked (the server's log has the details)"
        ))
        .with_type("Panic");
        error.logged = Some(format!("`{name}` panicked: {text}"));
        error
    }

    /// What the `*.error` event says.
    pub(crate) fn logged(&self) -> &str {
        self.logged.as_deref().unwrap_or(&self.message)
    }

    /// Sets the type name logged as `error_type`.
    pub fn with_type(mut self, error_type: impl Into<Cow<'static, str>>) -> ToolError {
        self.error_type = error_type.into();
        self
    }

    /// Sets the kind.
    pub fn with_kind(mut self, kind: ErrorKind) -> ToolError {
        self.kind = kind;
        self
    }

    /// The message the caller sees.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The type name logged as `error_type`.
    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolError")
            .field("message", &self.message)
            .field("error_type", &self.error_type)
            .field("kind", &self.kind)
            .finish()
    }
}

/// How the macros convert a function's error type into [`ToolError`]: a trait of its own, so that an
/// error type that does not convert is reported with what to do about it.
///
/// `M` only tells the impls apart, so that `anyhow::Error` and `Box<dyn Error + Send + Sync>`
/// (neither is a `std::error::Error`, so neither converts with `From`) can have impls beside the
/// blanket one without overlapping; generated code leaves it to inference (`IntoToolError<_>`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error type of a #[cm_tool], #[cm_resource] or #[cm_prompt] function",
    label = "does not convert into ToolError",
    note = "return ToolError, anyhow::Error, Box<dyn Error + Send + Sync>, or an error type that implements std::error::Error + Send + Sync + 'static (e.g. derive thiserror::Error); or convert the error inside the function with `.map_err(ToolError::new)`"
)]
pub trait IntoToolError<M> {
    /// The error as the call's failure.
    fn into_tool_error(self) -> ToolError;
}

/// The markers of [`IntoToolError`]'s impls.
pub mod via {
    /// `Into<ToolError>`: `ToolError` itself and every `std::error::Error + Send + Sync + 'static`.
    pub struct Into;
    /// `anyhow::Error`.
    pub struct Anyhow;
    /// `Box<dyn std::error::Error + Send + Sync>`.
    pub struct Boxed;
}

#[diagnostic::do_not_recommend]
impl<E: Into<ToolError>> IntoToolError<via::Into> for E {
    fn into_tool_error(self) -> ToolError {
        self.into()
    }
}

impl IntoToolError<via::Anyhow> for anyhow::Error {
    fn into_tool_error(self) -> ToolError {
        // `{:#}` is the whole chain of contexts, as `From<E: Error>` writes an error's sources.
        let message = format!("{self:#}");
        let error_type = root_cause_type(self.root_cause());
        ToolError {
            message,
            error_type: Cow::Owned(error_type),
            kind: ErrorKind::Execution,
            logged: None,
            capability: None,
        }
    }
}

impl IntoToolError<via::Boxed> for Box<dyn std::error::Error + Send + Sync> {
    fn into_tool_error(self) -> ToolError {
        let message = with_causes(&*self);
        ToolError {
            error_type: Cow::Owned(root_cause_type(&*self)),
            message,
            kind: ErrorKind::Execution,
            logged: None,
            capability: None,
        }
    }
}

/// The type name of an error known only as `dyn Error`, for `error_type`: what its `Debug` output
/// starts with when that is a type's name (`ParseIntError { kind: InvalidDigit }`), `io::Error` for
/// I/O errors (whose `Debug` starts with a variant), and `Error` when nothing names it (a message
/// made with `anyhow!`).
fn root_cause_type(error: &(dyn std::error::Error + 'static)) -> String {
    if error.is::<std::io::Error>() {
        return "io::Error".into();
    }
    let debug = format!("{error:?}");
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let rest = &debug[name.len()..];
    let named = name.starts_with(|c: char| c.is_ascii_uppercase())
        && (rest.is_empty() || rest.starts_with(" {") || rest.starts_with('('));
    if named { name } else { "Error".into() }
}

// ToolError deliberately does not implement std::error::Error, so that this blanket conversion can
// exist (the same trade-off anyhow makes).
impl<E: std::error::Error + Send + Sync + 'static> From<E> for ToolError {
    fn from(error: E) -> ToolError {
        let message = with_causes(&error);
        ToolError {
            message,
            error_type: Cow::Owned(short_type_name(std::any::type_name::<E>())),
            kind: ErrorKind::Execution,
            logged: None,
            capability: None,
        }
    }
}

/// The error's message followed by each cause's that it does not already contain.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// `std::num::error::ParseIntError` → `ParseIntError`; `std::io::error::Error` → `io::Error`.
pub(crate) fn short_type_name(full: &str) -> String {
    let base = full.split('<').next().unwrap_or(full);
    let segments: Vec<&str> = base.split("::").collect();
    let last = segments.last().copied().unwrap_or(base);
    if last == "Error"
        && let Some(module) = segments
            .iter()
            .rev()
            .skip(1)
            .find(|s| !s.eq_ignore_ascii_case("error"))
    {
        return format!("{module}::Error");
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(
            short_type_name("std::num::error::ParseIntError"),
            "ParseIntError"
        );
        assert_eq!(short_type_name("std::io::error::Error"), "io::Error");
        assert_eq!(
            short_type_name("serde_json::error::Error"),
            "serde_json::Error"
        );
        assert_eq!(short_type_name("my::Thing<u8>"), "Thing");
    }

    #[test]
    fn anyhow_and_boxed_errors_keep_their_chain_and_name_their_root_cause() {
        use anyhow::Context as _;
        let parsed: anyhow::Result<u8> = "x".parse::<u8>().context("reading the count");
        let e = parsed.unwrap_err().into_tool_error();
        assert_eq!(
            e.message(),
            "reading the count: invalid digit found in string"
        );
        assert_eq!(e.error_type(), "ParseIntError");
        let e = anyhow::anyhow!("not https").into_tool_error();
        assert_eq!((e.message(), e.error_type()), ("not https", "Error"));
        let io: Box<dyn std::error::Error + Send + Sync> =
            Box::new(std::io::Error::other("disk on fire"));
        let e = io.into_tool_error();
        assert_eq!((e.message(), e.error_type()), ("disk on fire", "io::Error"));
        let text: Box<dyn std::error::Error + Send + Sync> = "plain text".into();
        assert_eq!(text.into_tool_error().message(), "plain text");
    }

    #[test]
    fn from_std_error_keeps_type_and_message() {
        let e: ToolError = "x".parse::<u8>().unwrap_err().into();
        assert_eq!(e.error_type(), "ParseIntError");
        assert_eq!(e.message(), "invalid digit found in string");
        assert_eq!(e.kind(), ErrorKind::Execution);
    }
}
