//! Prompts: simple, with arguments (and their completion), with an embedded resource, with an image.

use cm_mcp::{Completion, Embedded, prelude::*};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::media::RED_PIXEL_PNG;

/// A simple prompt without arguments.
#[cm_prompt]
async fn test_simple_prompt() -> &'static str {
    "This is a simple prompt for testing."
}

/// A prompt with two arguments.
///
/// # Arguments
/// * `arg1` - First test argument
/// * `arg2` - Second test argument
#[cm_prompt]
async fn test_prompt_with_arguments(
    #[arg(complete = suggest_arg1)] arg1: String,
    arg2: String,
) -> String {
    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")
}

/// Suggestions for `arg1` of `test_prompt_with_arguments`.
async fn suggest_arg1(request: Completion) -> Vec<String> {
    request.matching(["hello", "help", "test", "testValue1", "world"])
}

/// A prompt embedding a resource.
///
/// # Arguments
/// * `resourceUri` - URI of the resource to embed
#[cm_prompt]
async fn test_prompt_with_embedded_resource(
    #[arg(rename = "resourceUri")] resource_uri: String,
) -> Vec<PromptMessage> {
    vec![
        PromptMessage::new(
            Role::User,
            Embedded::text(resource_uri, "Embedded resource content for testing.")
                .mime_type("text/plain")
                .into(),
        ),
        PromptMessage::new_text(Role::User, "Please process the embedded resource above."),
    ]
}

/// A prompt with an image.
#[cm_prompt]
async fn test_prompt_with_image() -> Vec<PromptMessage> {
    vec![
        PromptMessage::new(Role::User, Image::png(RED_PIXEL_PNG).into()),
        PromptMessage::new_text(Role::User, "Please analyze the image above."),
    ]
}

/// The tone of a message.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Tone {
    Formal,
    Friendly,
    Funny,
}

/// A prompt whose argument is an enum: completion suggests its values without any code.
///
/// # Arguments
/// * `tone` - How the greeting should sound
#[cm_prompt]
async fn test_prompt_with_enum_argument(tone: Tone) -> String {
    let tone = match tone {
        Tone::Formal => "formal",
        Tone::Friendly => "friendly",
        Tone::Funny => "funny",
    };
    format!("Write a {tone} greeting.")
}
