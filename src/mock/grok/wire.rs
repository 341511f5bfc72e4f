//! The lines of grok.com's chat stream and its JSON replies, spelled as the web app receives them.
//!
//! Written from captures of the real stream (field names, nesting, order), not shared with the
//! gateway's decoder. Each stream line is one JSON object followed by `\n`.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Value, json};

/// `llmInfo.modelHash` of every mock answer.
pub(super) const MODEL_HASH: &str = "mock-grok-hash-0001";
/// `title.newTitle` of every mock conversation.
pub(super) const TITLE: &str = "Mock Grok Conversation";

/// The ids and texts one conversation's lines repeat.
pub(super) struct Turn<'a> {
    pub(super) conversation_id: String,
    pub(super) user_response_id: String,
    pub(super) response_id: String,
    pub(super) time: String,
    /// `modelName`, else `modeId`, of the payload.
    pub(super) model: &'a str,
    pub(super) message: &'a str,
    pub(super) attachments: &'a [String],
}

/// One stream line: the object and a `\n`.
pub(super) fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).expect("a JSON value always serializes");
    bytes.push(b'\n');
    bytes.into()
}

fn response(turn: &Turn<'_>, mut fields: Value) -> Value {
    fields["responseId"] = json!(turn.response_id);
    json!({"result": {"response": fields}})
}

pub(super) fn conversation(turn: &Turn<'_>) -> Value {
    json!({"result": {"conversation": {
        "conversationId": turn.conversation_id,
        "title": "New conversation",
        "starred": false,
        "createTime": turn.time,
        "modifyTime": turn.time,
        "systemPromptName": "",
        "temporary": true,
        "mediaTypes": [],
        "workspaces": [],
        "taskResult": null,
    }}})
}

/// The echo of the human turn: its `message` is the prompt the gateway sent.
pub(super) fn user_response(turn: &Turn<'_>) -> Value {
    json!({"result": {"response": {
        "userResponse": {
            "responseId": turn.user_response_id,
            "message": turn.message,
            "sender": "human",
            "createTime": turn.time,
            "manual": false,
            "partial": false,
            "shared": false,
            "query": "",
            "queryType": "",
            "webSearchResults": [],
            "xpostIds": [],
            "xposts": [],
            "generatedImageUrls": [],
            "imageAttachments": [],
            "fileAttachments": turn.attachments,
            "cardAttachmentsJson": [],
            "fileUris": [],
            "fileAttachmentsMetadata": [],
            "isControl": false,
            "steps": [],
            "imageEditUris": [],
            "mediaTypes": [],
            "webpageUrls": [],
            "metadata": {},
            "model": turn.model,
        },
        "isThinking": false,
        "isSoftStop": false,
        "responseId": turn.user_response_id,
    }}})
}

pub(super) fn llm_info(turn: &Turn<'_>) -> Value {
    response(turn, json!({"llmInfo": {"modelHash": MODEL_HASH}}))
}

/// A text delta: an answer token (`messageTag: "final"`) or a thinking one.
pub(super) fn token(turn: &Turn<'_>, text: &str, thinking: bool, tag: Option<&str>) -> Value {
    let mut fields = json!({"token": text, "isThinking": thinking});
    if let Some(tag) = tag {
        fields["messageTag"] = json!(tag);
    }
    response(turn, fields)
}

pub(super) fn soft_stop(turn: &Turn<'_>) -> Value {
    response(turn, json!({"isSoftStop": true}))
}

/// What a `modelResponse` carries besides its message.
#[derive(Default)]
pub(super) struct Extras {
    pub(super) generated_image_urls: Vec<String>,
    pub(super) card_attachments_json: Vec<String>,
    pub(super) web_search_results: Vec<Value>,
    pub(super) file_attachments: Vec<String>,
    pub(super) stream_errors: Option<Value>,
}

/// The final assistant object: the full message, markup included.
pub(super) fn model_response(turn: &Turn<'_>, message: &str, extras: Extras) -> Value {
    let mut model = json!({
        "responseId": turn.response_id,
        "message": message,
        "sender": "assistant",
        "createTime": turn.time,
        "parentResponseId": turn.user_response_id,
        "manual": false,
        "partial": false,
        "shared": false,
        "query": "",
        "queryType": "",
        "webSearchResults": extras.web_search_results,
        "xpostIds": [],
        "xposts": [],
        "generatedImageUrls": extras.generated_image_urls,
        "imageAttachments": [],
        "fileAttachments": extras.file_attachments,
        "cardAttachmentsJson": extras.card_attachments_json,
        "fileUris": [],
        "fileAttachmentsMetadata": [],
        "isControl": false,
        "steps": [],
        "imageEditUris": [],
        "mediaTypes": [],
        "webpageUrls": [],
        "metadata": {"llm_info": {"modelHash": MODEL_HASH}},
    });
    if let Some(errors) = extras.stream_errors {
        model["streamErrors"] = errors;
    }
    response(turn, json!({"modelResponse": model, "isThinking": false, "isSoftStop": false}))
}

pub(super) fn title() -> Value {
    json!({"result": {"title": {"newTitle": TITLE}}})
}

/// One step of an image's progress: a `-part-0` preview below 100, the final image at 100.
pub(super) struct ImageStep<'a> {
    pub(super) id: &'a str,
    pub(super) index: usize,
    pub(super) url: &'a str,
    pub(super) progress: u32,
}

pub(super) fn image_progress(turn: &Turn<'_>, step: &ImageStep<'_>) -> Value {
    let mut chunk = json!({
        "imageId": step.id,
        "imageIndex": step.index,
        "imageUrl": step.url,
        "seq": step.progress / 50,
        "progress": step.progress,
        "moderated": false,
    });
    if step.progress == 100 {
        chunk["assetId"] = json!(step.id);
    }
    response(turn, json!({"streamingImageGenerationResponse": chunk}))
}

/// The newer pipeline's image card: `jsonData` is a JSON *string*.
pub(super) fn image_card_json(step: &ImageStep<'_>) -> String {
    json!({
        "id": format!("card-{}", step.id),
        "type": "render_file",
        "cardType": "generated_image_card",
        "image_chunk": {
            "imageUuid": step.id,
            "imageIndex": step.index,
            "imageUrl": step.url,
            "seq": step.progress / 50,
            "progress": step.progress,
            "moderated": false,
        },
    })
    .to_string()
}

pub(super) fn image_card(turn: &Turn<'_>, step: &ImageStep<'_>) -> Value {
    response(turn, json!({"cardAttachment": {"jsonData": image_card_json(step)}}))
}

/// One step of a video's progress; at 100 it carries the video and thumbnail paths.
pub(super) fn video_progress(turn: &Turn<'_>, video: &VideoJob<'_>, progress: u32) -> Value {
    let mut chunk = json!({
        "videoId": video.id,
        "progress": progress,
        "imageReference": "",
        "mode": video.mode,
        "modelName": "imagine_xdit_1",
        "videoPostId": video.post_id,
    });
    if progress == 100 {
        chunk["videoUrl"] = json!(format!("users/{}/generated/{}/generated_video.mp4", video.uid, video.id));
        chunk["thumbnailImageUrl"] =
            json!(format!("users/{}/generated/{}/preview_image.jpg", video.uid, video.id));
        chunk["assetId"] = json!(video.id);
    }
    response(turn, json!({"streamingVideoGenerationResponse": chunk}))
}

pub(super) struct VideoJob<'a> {
    pub(super) id: &'a str,
    pub(super) uid: &'a str,
    pub(super) mode: &'a str,
    pub(super) post_id: &'a str,
}

/// `{"error":{"code":<n>,"message":...}}`: an HTTP error body, or an in-band line after a 200.
pub(super) fn error(code: u32, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// Now as grok.com spells times: RFC 3339, UTC, microseconds.
pub(super) fn now() -> String {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_micros()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_520), (2026, 3, 8));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let now = now();
        assert!(now.len() == 27 && now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
