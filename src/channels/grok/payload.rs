//! A [`ChatRequest`] as grok.com's `conversations/new` body: the conversation flattened into one
//! message (fact sheet §2.4), the files it carries, and the payload around them (§2.3, §4.5, §4.9).

use super::spec::Spec;
use super::tools;
use crate::ir::{Block, ChatRequest, MediaSource, Role};
use serde_json::{Value, json};
use std::collections::HashMap;

/// A file the request carries, to upload before chatting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attachment {
    /// Base64 content and its MIME type.
    Inline { mime: String, data: String },
    /// An http(s) URL the gateway fetches first.
    Url(String),
}

/// The conversation as one prompt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flat {
    pub message: String,
    pub attachments: Vec<Attachment>,
}

/// Flattens the conversation: the last user turn as bare text, every other turn as
/// `role: text`, turns separated by a blank line; tools described first (see [`tools`]).
pub fn flatten(request: &ChatRequest) -> Flat {
    let mut attachments = Vec::new();
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut turns: Vec<(&str, String)> = Vec::new();
    for system in &request.system {
        push_turn(&mut turns, "system", system.as_str().trim().to_string());
    }
    for message in &request.messages {
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        };
        let mut parts: Vec<String> = Vec::new();
        for block in &message.content {
            match block {
                Block::Text(t) => parts.push(t.as_str().trim().to_string()),
                Block::Image(source) | Block::Document { source, .. } => match source {
                    MediaSource::Text { data, .. } => parts.push(data.trim().to_string()),
                    MediaSource::Base64 { media_type, data } => {
                        attachments.push(Attachment::Inline { mime: media_type.clone(), data: data.clone() })
                    }
                    MediaSource::Url(url) => attachments.push(attachment_from_url(url)),
                },
                Block::ToolUse { id, name, input } => {
                    names.insert(id, name);
                    parts.push(tools::render_call(name, input));
                }
                Block::ToolResult { tool_use_id, content, is_error } => {
                    let text: Vec<&str> = content
                        .iter()
                        .filter_map(|b| match b {
                            Block::Text(t) => Some(t.as_str()),
                            _ => None,
                        })
                        .collect();
                    let name = names.get(tool_use_id.as_str()).copied().unwrap_or("unknown");
                    parts.push(tools::render_result(tool_use_id, name, &text.join("\n"), *is_error));
                }
                Block::Thinking { .. } | Block::RedactedThinking { .. } => {}
            }
        }
        parts.retain(|p| !p.is_empty());
        push_turn(&mut turns, role, parts.join("\n"));
    }
    let last_user = turns.iter().rposition(|(role, _)| *role == "user");
    let mut message: Vec<String> = Vec::with_capacity(turns.len() + 1);
    if !request.tools.is_empty() && request.tool_choice != Some(crate::ir::ToolChoice::None) {
        message.push(tools::prompt(&request.tools, request.tool_choice.as_ref()));
    }
    for (i, (role, text)) in turns.into_iter().enumerate() {
        message.push(if Some(i) == last_user { text } else { format!("{role}: {text}") });
    }
    let mut message = message.join("\n\n");
    if message.trim().is_empty() && !attachments.is_empty() {
        message = "Refer to the following content:".to_string();
    }
    Flat { message, attachments }
}

fn push_turn<'a>(turns: &mut Vec<(&'a str, String)>, role: &'a str, text: String) {
    if !text.is_empty() {
        turns.push((role, text));
    }
}

fn attachment_from_url(url: &str) -> Attachment {
    match parse_data_url(url) {
        Some((mime, data)) => Attachment::Inline { mime, data },
        None => Attachment::Url(url.to_string()),
    }
}

/// `data:<mime>;base64,<data>` → (mime, data).
pub fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (head, data) = rest.split_once(',')?;
    let mime = head.strip_suffix(";base64")?;
    let mime = if mime.is_empty() { "application/octet-stream" } else { mime };
    Some((mime.to_string(), data.to_string()))
}

/// The screen a browser would report; any plausible desktop value.
fn device() -> Value {
    json!({"darkModeEnabled":false,"devicePixelRatio":2,"screenHeight":1329,"screenWidth":2056,"viewportHeight":1083,"viewportWidth":2056})
}

/// A chat turn with a text model (`modeId` style, §2.3).
pub fn chat(request: &ChatRequest, spec: &Spec, message: &str, files: &[String]) -> Value {
    let mut overrides = serde_json::Map::new();
    if let Some(t) = request.temperature {
        overrides.insert("temperature".into(), json!(t));
    }
    if let Some(p) = request.top_p {
        overrides.insert("topP".into(), json!(p));
    }
    let metadata = if overrides.is_empty() { json!({}) } else { json!({ "modelConfigOverride": overrides }) };
    json!({
        "collectionIds": [],
        "deviceEnvInfo": device(),
        "disableMemory": true,
        "disableSearch": false,
        "disableSelfHarmShortCircuit": false,
        "disableTextFollowUps": false,
        "disabledConnectorIds": [],
        "enableImageGeneration": true,
        "enableImageStreaming": true,
        "enableSideBySide": true,
        "fileAttachments": files,
        "forceConcise": false,
        "forceSideBySide": false,
        "imageAttachments": [],
        "imageGenerationCount": 2,
        "isAsyncChat": false,
        "isReasoning": false,
        "linkQuery": false,
        "message": message,
        "modeId": spec.mode,
        "responseMetadata": metadata,
        "returnImageBytes": false,
        "returnRawGrokInXaiRequest": false,
        "sendFinalMetadata": true,
        "temporary": true,
    })
}

/// What image generation and image edits share: the image tool on, `n` images, no memory.
fn imagine(n: u8, message: String, model: &str, mode: String, model_map: Value) -> Value {
    json!({
        "deviceEnvInfo": device(),
        "disableMemory": false,
        "disableSearch": false,
        "disableTextFollowUps": true,
        "enableImageGeneration": true,
        "enableImageStreaming": true,
        "enableSideBySide": true,
        "fileAttachments": [],
        "forceConcise": false,
        "forceSideBySide": false,
        "imageAttachments": [],
        "imageGenerationCount": n,
        "isReasoning": false,
        "message": message,
        "modelMode": mode,
        "modelName": model,
        "responseMetadata": {"modelConfigOverride": {"modelMap": model_map}, "requestModelDetails": {"modelId": model}},
        "returnImageBytes": false,
        "returnRawGrokInXaiRequest": false,
        "sendFinalMetadata": true,
        "temporary": true,
        "toolOverrides": {"imageGen": true},
    })
}

/// Image generation with an image model (§4.3, the `conversations/new` flow).
pub fn image(spec: &Spec, prompt: &str, n: u8, aspect_ratio: Option<&str>) -> Value {
    let model = spec.model.as_deref().unwrap_or("grok-imagine-image-lite");
    let mut model_map = json!({});
    if let Some(ratio) = aspect_ratio {
        model_map["imageGenModelConfig"] = json!({ "aspectRatio": ratio });
    }
    let mut body = imagine(n, format!("Drawing: {prompt}"), model, spec.model_mode(), model_map);
    body["modeId"] = json!(spec.mode);
    body
}

/// An image edit (§4.5): the uploaded images are the references.
pub fn edit(spec: &Spec, prompt: &str, n: u8, references: &[String], parent_post: Option<&str>) -> Value {
    let mut config = json!({ "imageReferences": references });
    if let Some(post) = parent_post {
        config["parentPostId"] = json!(post);
    }
    let model_map = json!({"imageEditModel": "imagine", "imageEditModelConfig": config});
    imagine(n, prompt.to_string(), super::spec::EDIT_MODEL, spec.model_mode(), model_map)
}

/// Video generation (§4.9) under the media post `post`.
pub fn video(spec: &Spec, prompt: &str, post: &str, aspect_ratio: &str) -> Value {
    let model = spec.model.clone().unwrap_or_else(|| "imagine-video-gen".into());
    json!({
        "deviceEnvInfo": {"darkModeEnabled":false,"devicePixelRatio":2,"screenHeight":1080,"screenWidth":1920,"viewportHeight":1080,"viewportWidth":1920},
        "enableSideBySide": true,
        "message": format!("{prompt} --mode=custom"),
        "modelMode": spec.model_mode(),
        "modelName": model,
        "responseMetadata": {"modelConfigOverride": {"modelMap": {"videoGenModelConfig": {"aspectRatio": aspect_ratio, "parentPostId": post, "resolutionName": "720p", "videoLength": 6}}}},
        "temporary": true,
        "toolOverrides": {"videoGen": true},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Message, RawJson, Text, Tool};

    fn text(role: Role, t: &str) -> Message {
        Message { role, content: vec![Block::Text(Text::from(t))] }
    }

    #[test]
    fn the_last_user_turn_is_bare_and_the_rest_are_labelled() {
        let request = ChatRequest {
            system: vec![Text::from("Be brief")],
            messages: vec![
                text(Role::User, "hi"),
                text(Role::Assistant, "hello"),
                text(Role::User, "how are you"),
            ],
            ..ChatRequest::default()
        };
        assert_eq!(
            flatten(&request).message,
            "system: Be brief\n\nuser: hi\n\nassistant: hello\n\nhow are you"
        );
    }

    #[test]
    fn images_become_attachments_and_tool_turns_use_the_tool_syntax() {
        let request = ChatRequest {
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![
                        Block::Text(Text::from("hello")),
                        Block::Image(MediaSource::Url("https://a/b.png".into())),
                        Block::Image(MediaSource::Url("data:image/png;base64,QUJD".into())),
                    ],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![Block::ToolUse {
                        id: "call_1".into(),
                        name: "weather".into(),
                        input: RawJson::parse(r#"{"city":"x"}"#).unwrap(),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![Block::ToolResult {
                        tool_use_id: "call_1".into(),
                        content: vec![Block::Text(Text::from("22C"))],
                        is_error: false,
                    }],
                },
            ],
            tools: vec![Tool {
                name: "weather".into(),
                description: None,
                input_schema: RawJson::parse(r#"{"type":"object"}"#).unwrap(),
            }],
            ..ChatRequest::default()
        };
        let flat = flatten(&request);
        assert_eq!(
            flat.attachments,
            vec![
                Attachment::Url("https://a/b.png".into()),
                Attachment::Inline { mime: "image/png".into(), data: "QUJD".into() }
            ]
        );
        assert!(flat.message.starts_with("# Available Tools"));
        assert!(flat.message.ends_with(
            "user: hello\n\nassistant: <tool_call>{\"name\":\"weather\",\"arguments\":{\"city\":\"x\"}}</tool_call>\n\n<tool_result id=\"call_1\" name=\"weather\">\n22C\n</tool_result>"
        ));
    }

    #[test]
    fn attachments_alone_get_a_default_prompt() {
        let request = ChatRequest {
            messages: vec![Message {
                role: Role::User,
                content: vec![Block::Image(MediaSource::Base64 {
                    media_type: "image/jpeg".into(),
                    data: "AA==".into(),
                })],
            }],
            ..ChatRequest::default()
        };
        assert_eq!(flatten(&request).message, "Refer to the following content:");
    }
}
