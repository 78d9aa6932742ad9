//! Sampling's request and answer: what [`Context::sample`](super::Context::sample) sends the client's
//! language model and what comes back.

// Sampling is deprecated by SEP-2577 (protocol 2026-07-28 replaces it with input-required results); every
// client of the 2025 protocol versions still uses it.
#![allow(deprecated)]

use rmcp::model::{
    CreateMessageRequestParams, CreateMessageResult, Role, SamplingContent, SamplingMessage,
    SamplingMessageContentBlock,
};

/// What a tool asks the client's model: messages, a token budget, and optional preferences.
///
/// A string converts into a request with one user message and [`SamplingRequest::DEFAULT_MAX_TOKENS`]:
///
/// ```no_run
/// # use mcp_runtime::{Context, SamplingRequest, ToolError};
/// # async fn tool(ctx: &Context) -> Result<String, ToolError> {
/// let reply = ctx.sample("Summarize: ...").await?;
/// let short = ctx
///     .sample(SamplingRequest::new("Name three colours").max_tokens(50).system_prompt("Be brief."))
///     .await?;
/// Ok(format!("{} / {}", reply.text(), short.text()))
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SamplingRequest {
    params: CreateMessageRequestParams,
}

impl SamplingRequest {
    /// The token budget of a request that does not set one.
    pub const DEFAULT_MAX_TOKENS: u32 = 1000;

    /// A request with one user message.
    pub fn new(prompt: impl Into<String>) -> SamplingRequest {
        SamplingRequest {
            params: CreateMessageRequestParams::new(
                vec![SamplingMessage::user_text(prompt)],
                Self::DEFAULT_MAX_TOKENS,
            ),
        }
    }

    /// The most tokens the model may generate.
    pub fn max_tokens(mut self, max_tokens: u32) -> SamplingRequest {
        self.params.max_tokens = max_tokens;
        self
    }

    /// A system prompt the client may use (it may also ignore or change it).
    pub fn system_prompt(mut self, system_prompt: impl Into<String>) -> SamplingRequest {
        self.params.system_prompt = Some(system_prompt.into());
        self
    }

    /// The sampling temperature.
    pub fn temperature(mut self, temperature: f32) -> SamplingRequest {
        self.params.temperature = Some(temperature);
        self
    }

    /// Appends a user message (for a conversation of several turns).
    pub fn user(mut self, text: impl Into<String>) -> SamplingRequest {
        self.params.messages.push(SamplingMessage::user_text(text));
        self
    }

    /// Appends an assistant message (for a conversation of several turns).
    pub fn assistant(mut self, text: impl Into<String>) -> SamplingRequest {
        self.params
            .messages
            .push(SamplingMessage::assistant_text(text));
        self
    }

    /// The rmcp parameters, for options this builder does not cover (model preferences, stop sequences).
    pub fn params_mut(&mut self) -> &mut CreateMessageRequestParams {
        &mut self.params
    }

    pub(super) fn into_params(self) -> CreateMessageRequestParams {
        self.params
    }
}

impl From<&str> for SamplingRequest {
    fn from(prompt: &str) -> SamplingRequest {
        SamplingRequest::new(prompt)
    }
}

impl From<String> for SamplingRequest {
    fn from(prompt: String) -> SamplingRequest {
        SamplingRequest::new(prompt)
    }
}

impl From<CreateMessageRequestParams> for SamplingRequest {
    fn from(params: CreateMessageRequestParams) -> SamplingRequest {
        SamplingRequest { params }
    }
}

/// The client model's answer to a [`SamplingRequest`].
#[derive(Debug, Clone)]
pub struct Sampled {
    result: CreateMessageResult,
}

impl Sampled {
    pub(super) fn new(result: CreateMessageResult) -> Sampled {
        Sampled { result }
    }

    /// The text of the answer (its text blocks joined; empty when it has none).
    pub fn text(&self) -> String {
        let blocks: Vec<&SamplingMessageContentBlock> = match &self.result.message.content {
            SamplingContent::Single(block) => vec![block],
            SamplingContent::Multiple(blocks) => blocks.iter().collect(),
        };
        blocks
            .into_iter()
            .filter_map(|block| match block {
                SamplingMessageContentBlock::Text(text) => Some(text.text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The model the client used, as it names it.
    pub fn model(&self) -> &str {
        &self.result.model
    }

    /// Why the model stopped (`endTurn`, `maxTokens`, ...), when the client says.
    pub fn stop_reason(&self) -> Option<&str> {
        self.result.stop_reason.as_deref()
    }

    /// Who wrote the answer (the assistant, unless the client misbehaves).
    pub fn role(&self) -> Role {
        self.result.message.role.clone()
    }

    /// The whole rmcp result.
    pub fn into_inner(self) -> CreateMessageResult {
        self.result
    }
}
