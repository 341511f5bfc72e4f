//! Renders answers as OpenAI chat completions: the chunk stream and the non-stream object.
//!
//! Stream: a first chunk with `role: "assistant"`, one chunk per delta, a chunk with the
//! `finish_reason`, the usage chunk (`choices: []`) only if `stream_options.include_usage` was
//! set, then `data: [DONE]`. Every chunk repeats the same `id`, `created` and `model`.

use bytes::Bytes;
use hyper::Response;

use super::error::{self, Context};
use super::wire::{
    Choice, Chunk, ChunkChoice, Completion, CompletionDetails, Delta, FINGERPRINT, Function, FunctionDelta,
    Message, PromptDetails, ToolCall, ToolCallDelta, Usage,
};
use crate::mock::ids::Ids;
use crate::mock::respond::Protocol;
use crate::mock::scenario::{Answer, Failure};
use crate::mock::script::{self, Frame, Reply};

/// One chat completion being answered.
pub(super) struct Chat<'a> {
    pub(super) ids: &'a Ids,
    pub(super) id: String,
    pub(super) created: u64,
    pub(super) model: &'a str,
    pub(super) include_usage: bool,
    pub(super) error: Context<'a>,
}

impl Chat<'_> {
    fn chunk(&self, choices: Vec<ChunkChoice<'_>>, usage: Option<Usage>) -> Bytes {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: self.model,
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
            choices,
            usage: self.include_usage.then_some(usage),
        };
        let mut frame = b"data: ".to_vec();
        serde_json::to_writer(&mut frame, &chunk).expect("a chunk always serializes");
        frame.extend_from_slice(b"\n\n");
        frame.into()
    }

    fn delta(&self, delta: Delta<'_>, finish_reason: Option<&'static str>) -> Bytes {
        self.chunk(vec![ChunkChoice { index: 0, delta, logprobs: None, finish_reason }], None)
    }

    fn call_ids(&self, answer: &Answer) -> Vec<String> {
        answer.tools.iter().map(|_| self.ids.mint("call_", 24)).collect()
    }
}

impl Protocol for Chat<'_> {
    fn frames(&self, answer: &Answer) -> Vec<Frame> {
        let mut frames = vec![Frame::Other(self.delta(
            Delta { role: Some("assistant"), content: Some(""), refusal: Some(None), ..Delta::default() },
            None,
        ))];
        for thinking in &answer.thinking {
            frames.push(Frame::Delta(
                self.delta(Delta { reasoning_content: Some(thinking), ..Delta::default() }, None),
            ));
        }
        for text in &answer.text {
            frames.push(Frame::Delta(self.delta(Delta { content: Some(text), ..Delta::default() }, None)));
        }
        let call_ids = self.call_ids(answer);
        for (index, (call, id)) in answer.tools.iter().zip(&call_ids).enumerate() {
            let first = ToolCallDelta {
                index,
                id: Some(id),
                kind: Some("function"),
                function: FunctionDelta { name: Some(&call.name), arguments: "" },
            };
            frames
                .push(Frame::Delta(self.delta(Delta { tool_calls: vec![first], ..Delta::default() }, None)));
            for fragment in call.fragments() {
                let piece = ToolCallDelta {
                    index,
                    id: None,
                    kind: None,
                    function: FunctionDelta { name: None, arguments: fragment },
                };
                frames.push(Frame::Delta(
                    self.delta(Delta { tool_calls: vec![piece], ..Delta::default() }, None),
                ));
            }
        }
        frames.push(Frame::Other(self.delta(Delta::default(), Some(finish_reason(answer)))));
        if self.include_usage {
            frames.push(Frame::Other(self.chunk(Vec::new(), Some(usage(answer)))));
        }
        frames.push(Frame::Other(Bytes::from_static(b"data: [DONE]\n\n")));
        frames
    }

    fn body(&self, answer: &Answer) -> Vec<u8> {
        let call_ids = self.call_ids(answer);
        let tool_calls = answer
            .tools
            .iter()
            .zip(&call_ids)
            .map(|(call, id)| ToolCall {
                id,
                kind: "function",
                function: Function { name: &call.name, arguments: &call.arguments },
            })
            .collect::<Vec<_>>();
        let content = (!answer.text.is_empty() || tool_calls.is_empty()).then(|| answer.text.concat());
        let completion = Completion {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: self.model,
            choices: [Choice {
                index: 0,
                message: Message {
                    role: "assistant",
                    content,
                    reasoning_content: (!answer.thinking.is_empty()).then(|| answer.thinking.concat()),
                    tool_calls,
                    refusal: None,
                    annotations: [],
                },
                logprobs: None,
                finish_reason: finish_reason(answer),
            }],
            usage: usage(answer),
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
        };
        serde_json::to_vec(&completion).expect("a completion always serializes")
    }

    fn error_frame(&self) -> Bytes {
        error::overloaded_frame()
    }

    fn failure(&self, failure: Failure) -> Response<Reply> {
        error::failure(failure, &self.error)
    }

    fn bench(&self) -> Response<Reply> {
        let mut body = Vec::with_capacity(BENCH_HEAD.len() + self.model.len() + 2 + BENCH_TAIL.len());
        body.extend_from_slice(BENCH_HEAD.as_bytes());
        serde_json::to_writer(&mut body, self.model).expect("a string always serializes");
        body.extend_from_slice(BENCH_TAIL.as_bytes());
        script::json(body)
    }
}

/// The `bench` answer around its `model`: fixed id, fixed time, one word.
const BENCH_HEAD: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"#;
const BENCH_TAIL: &str = concat!(
    r#","choices":[{"index":0,"message":{"role":"assistant","content":"ok","refusal":null,"annotations":[]},"#,
    r#""logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"#,
    r#""total_tokens":2,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"#,
    r#""completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"#,
    r#""rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_mock0001"}"#
);

fn finish_reason(answer: &Answer) -> &'static str {
    if answer.tools.is_empty() { "stop" } else { "tool_calls" }
}

/// OpenAI counts the whole input in `prompt_tokens`, cached tokens included.
fn usage(answer: &Answer) -> Usage {
    let u = answer.usage;
    let prompt_tokens = u.input + u.cache_read + u.cache_write;
    Usage {
        prompt_tokens,
        completion_tokens: u.output,
        total_tokens: prompt_tokens + u.output,
        prompt_tokens_details: PromptDetails { cached_tokens: u.cache_read, audio_tokens: 0 },
        completion_tokens_details: CompletionDetails {
            reasoning_tokens: u.reasoning,
            audio_tokens: 0,
            accepted_prediction_tokens: 0,
            rejected_prediction_tokens: 0,
        },
    }
}
