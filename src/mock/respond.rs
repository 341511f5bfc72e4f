//! Plays a scenario in one API's protocol: the dispatch both mock APIs share.
//!
//! Each API implements [`Protocol`] (how to render an answer, an error, an in-band error); this
//! module decides, per scenario and per stream/non-stream, which of those to send and how to break
//! it. So `cut` or `silence` behave the same on both APIs by construction.
//!
//! | scenario | stream | non-stream |
//! |---|---|---|
//! | content scenarios | frames, paced by `x-mock-interval-ms` | the whole body |
//! | `error_*` | the error | the error |
//! | `cut` | frames up to the 3rd delta, then the connection is cut | half the announced body, then cut |
//! | `inband_error` | frames up to the 2nd delta, then an in-band error | the overloaded HTTP error |
//! | `error_before_content` | preamble, then an in-band error | the overloaded HTTP error |
//! | `silence` | preamble, then nothing | status and headers, then nothing |

use bytes::Bytes;
use hyper::Response;

use super::scenario::{Answer, Failure, Params, Prompt, Scenario};
use super::script::{self, Frame, Plan, Reply};

/// What an API must know to play any scenario.
pub(super) trait Protocol {
    /// The whole answer as a stream's frames, terminator included.
    fn frames(&self, answer: &Answer) -> Vec<Frame>;
    /// The whole answer as a non-stream JSON body.
    fn body(&self, answer: &Answer) -> Vec<u8>;
    /// An in-band error frame: the overloaded error as the API sends it after a 200.
    fn error_frame(&self) -> Bytes;
    /// An HTTP error in the API's shape.
    fn failure(&self, failure: Failure) -> Response<Reply>;
    /// The `bench` non-stream answer, with as little work as possible.
    fn bench(&self) -> Response<Reply>;
}

/// Answers one request. Waits first if the scenario or `x-mock-delay-ms` asks for it.
pub(super) async fn respond(
    api: &impl Protocol,
    scenario: Scenario,
    params: &Params,
    stream: bool,
    prompt: &Prompt<'_>,
) -> Response<Reply> {
    let wait = params.wait(scenario, stream);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    match (scenario, stream) {
        (Scenario::Fail(failure), _) => api.failure(failure),
        (Scenario::Html403, _) => script::html_403(),
        (Scenario::EmptyBody, _) => script::empty_body(stream),
        (Scenario::Bench, false) => api.bench(),
        (Scenario::InbandError | Scenario::ErrorBeforeContent, false) => api.failure(Failure::Overloaded),
        (Scenario::Silence, false) => script::silent_json(),
        (Scenario::Cut, false) => script::truncated_json(api.body(&Answer::new(scenario, params, prompt))),
        (_, false) => script::json(api.body(&Answer::new(scenario, params, prompt))),
        (_, true) => {
            let plan = match scenario {
                Scenario::Cut => Plan::CutAfterDeltas(3),
                Scenario::InbandError => Plan::ErrorAfterDeltas(2, api.error_frame()),
                Scenario::ErrorBeforeContent => Plan::ErrorAfterPreamble(api.error_frame()),
                Scenario::Silence => Plan::HangAfterPreamble,
                _ => Plan::Whole,
            };
            let frames = api.frames(&Answer::new(scenario, params, prompt));
            script::sse(script::play(frames, plan, params.interval))
        }
    }
}
