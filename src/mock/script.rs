//! Plays a response body as a script: frames, pauses, a cut connection, or silence.
//!
//! A **script** is the list of [`Step`]s a [`Reply`] body plays in order. Each data step is handed
//! to hyper as its own body frame, so an SSE frame is one HTTP/1.1 chunk (or one h2 DATA frame) and
//! a pause between two frames really reaches the wire as a pause.
//!
//! **Cancellation.** hyper drops the body when the peer goes away (HTTP/1.1: EOF or a reset on the
//! socket; h2: `RST_STREAM` or the connection closing). A body attached to a recorded request
//! reports that drop through its [`Exchange`]: dropped before its last step, the exchange counts as
//! abandoned by the client.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame as BodyFrame, SizeHint};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::time::Sleep;

use super::record::Exchange;

/// One step of a script.
#[derive(Debug)]
pub(super) enum Step {
    /// Send these bytes as one body frame.
    Data(Bytes),
    /// Wait before the next step.
    Pause(Duration),
    /// Let hyper flush what was sent, then fail the body: hyper aborts the connection (h2: resets
    /// the stream) without a terminal frame.
    Cut,
    /// Send nothing more, ever; the body ends only when the peer goes away.
    Hang,
}

/// A frame of a stream, tagged with its role so scenarios can cut the stream at the right place.
pub(super) enum Frame {
    /// Sent before any content: Anthropic `message_start` and `ping`.
    Preamble(Bytes),
    /// Carries content: a text, thinking or tool-argument delta, or a tool call's first chunk.
    Delta(Bytes),
    /// Everything else: block starts and stops, finish chunks, terminators.
    Other(Bytes),
}

/// How a stream is played: whole, or broken at a point.
pub(super) enum Plan {
    Whole,
    /// Send frames up to and including the n-th delta, then cut the connection.
    CutAfterDeltas(usize),
    /// Send frames up to and including the n-th delta, then this in-band error frame, then end.
    ErrorAfterDeltas(usize, Bytes),
    /// Send the preamble, then this in-band error frame, then end.
    ErrorAfterPreamble(Bytes),
    /// Send the preamble, then nothing more.
    HangAfterPreamble,
}

/// Turns a stream's frames into a script, inserting `interval` between two deltas.
pub(super) fn play(frames: Vec<Frame>, plan: Plan, interval: Duration) -> Vec<Step> {
    let mut steps = Vec::with_capacity(frames.len() * 2 + 1);
    let mut deltas = 0;
    for frame in frames {
        let bytes = match frame {
            Frame::Preamble(bytes) => bytes,
            Frame::Delta(_) | Frame::Other(_)
                if matches!(plan, Plan::ErrorAfterPreamble(_) | Plan::HangAfterPreamble) =>
            {
                break;
            }
            Frame::Delta(bytes) => {
                if deltas > 0 && !interval.is_zero() {
                    steps.push(Step::Pause(interval));
                }
                deltas += 1;
                bytes
            }
            Frame::Other(bytes) => bytes,
        };
        steps.push(Step::Data(bytes));
        if matches!(plan, Plan::CutAfterDeltas(n) | Plan::ErrorAfterDeltas(n, _) if n == deltas) {
            break;
        }
    }
    match plan {
        Plan::Whole => {}
        Plan::CutAfterDeltas(_) => steps.push(Step::Cut),
        Plan::ErrorAfterDeltas(_, error) | Plan::ErrorAfterPreamble(error) => steps.push(Step::Data(error)),
        Plan::HangAfterPreamble => steps.push(Step::Hang),
    }
    steps
}

/// The body of every mock response.
pub(super) struct Reply {
    steps: std::vec::IntoIter<Step>,
    hold: Hold,
    /// The body's exact length, when it is known up front (non-stream answers).
    len: Option<u64>,
    exchange: Option<Exchange>,
}

/// What keeps a [`Reply`] from playing its next step.
enum Hold {
    Nothing,
    Pause(Pin<Box<Sleep>>),
    /// A `Cut` step has yielded once so hyper flushes; the next poll fails the body.
    Cut,
    Hang,
}

impl Reply {
    pub(super) fn new(steps: Vec<Step>) -> Reply {
        Reply { steps: steps.into_iter(), hold: Hold::Nothing, len: None, exchange: None }
    }

    /// A body of known length: hyper sends it with `Content-Length` even if the script then cuts.
    pub(super) fn sized(steps: Vec<Step>, len: usize) -> Reply {
        let mut reply = Reply::new(steps);
        reply.len = Some(len as u64);
        reply
    }

    pub(super) fn full(bytes: impl Into<Bytes>) -> Reply {
        let bytes = bytes.into();
        let len = bytes.len();
        Reply::sized(vec![Step::Data(bytes)], len)
    }

    pub(super) fn attach(&mut self, exchange: Exchange) {
        self.exchange = Some(exchange);
    }

    fn is_played(&self) -> bool {
        self.steps.len() == 0 && matches!(self.hold, Hold::Nothing)
    }
}

impl Body for Reply {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<BodyFrame<Bytes>>>> {
        let this = &mut *self;
        loop {
            match &mut this.hold {
                Hold::Nothing => {}
                Hold::Pause(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    this.hold = Hold::Nothing;
                }
                Hold::Cut => {
                    this.hold = Hold::Nothing;
                    let cut =
                        io::Error::new(io::ErrorKind::ConnectionAborted, "mock scenario cut the connection");
                    return Poll::Ready(Some(Err(cut)));
                }
                // Never woken on purpose: hyper drops the body when the peer goes away.
                Hold::Hang => return Poll::Pending,
            }
            match this.steps.next() {
                None => return Poll::Ready(None),
                Some(Step::Data(bytes)) => return Poll::Ready(Some(Ok(BodyFrame::data(bytes)))),
                Some(Step::Pause(d)) => this.hold = Hold::Pause(Box::pin(tokio::time::sleep(d))),
                Some(Step::Cut) => {
                    // hyper aborts at once on a body error, dropping what it has not written yet;
                    // a pending poll makes it flush first.
                    this.hold = Hold::Cut;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Some(Step::Hang) => this.hold = Hold::Hang,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.is_played()
    }

    fn size_hint(&self) -> SizeHint {
        self.len.map_or_else(SizeHint::default, SizeHint::with_exact)
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        let played = self.is_played();
        if let Some(exchange) = self.exchange.as_mut() {
            exchange.finished = played;
        }
    }
}

/// A complete response with a body of known length.
pub(super) fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Reply> {
    let mut response = Response::new(Reply::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A 200 `application/json` response.
pub(super) fn json(body: Vec<u8>) -> Response<Reply> {
    full(StatusCode::OK, "application/json", body)
}

/// A 200 server-sent-events response playing `steps`.
pub(super) fn sse(steps: Vec<Step>) -> Response<Reply> {
    let mut response = Response::new(Reply::new(steps));
    let headers = response.headers_mut();
    // Both real APIs send the charset parameter; clients must accept it.
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `cut` on a non-stream request: announces `body`'s whole length, sends half of it, then cuts the
/// connection.
pub(super) fn truncated_json(body: Vec<u8>) -> Response<Reply> {
    let len = body.len();
    let body = Bytes::from(body);
    let steps = vec![Step::Data(body.slice(..len / 2)), Step::Cut];
    let mut response = Response::new(Reply::sized(steps, len));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A 200 whose body never comes (`silence` on a non-stream request).
pub(super) fn silent_json() -> Response<Reply> {
    let mut response = Response::new(Reply::new(vec![Step::Hang]));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `empty_body`: a 200 with the usual content type and zero bytes of body.
pub(super) fn empty_body(stream: bool) -> Response<Reply> {
    if stream { sse(Vec::new()) } else { full(StatusCode::OK, "application/json", Bytes::new()) }
}

/// `html_403`: the kind of HTML challenge page a CDN in front of an API answers with.
pub(super) fn html_403() -> Response<Reply> {
    const PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n<title>Just a moment...</title>\n\
        <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">\n\
        <meta name=\"robots\" content=\"noindex,nofollow\">\n</head>\n<body>\n\
        <div class=\"main-wrapper\" role=\"main\">\n<h1>Checking your browser before accessing the site.</h1>\n\
        <p>Enable JavaScript and cookies to continue.</p>\n</div>\n\
        <noscript><p>Please enable JavaScript to continue.</p></noscript>\n</body>\n</html>\n";
    let mut response = full(StatusCode::FORBIDDEN, "text/html; charset=UTF-8", PAGE);
    let headers = response.headers_mut();
    headers.insert("server", HeaderValue::from_static("cloudflare"));
    headers.insert("cf-mitigated", HeaderValue::from_static("challenge"));
    headers.insert("cf-ray", HeaderValue::from_static("8f0c1a2b3c4d5e6f-CDG"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, max-age=0, no-store, no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> Vec<Frame> {
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        vec![
            Frame::Preamble(b("start")),
            Frame::Other(b("open")),
            Frame::Delta(b("d1")),
            Frame::Delta(b("d2")),
            Frame::Delta(b("d3")),
            Frame::Other(b("end")),
        ]
    }

    fn names(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Data(b) => String::from_utf8_lossy(b).into_owned(),
                Step::Pause(d) => format!("pause {}ms", d.as_millis()),
                Step::Cut => "CUT".into(),
                Step::Hang => "HANG".into(),
            })
            .collect()
    }

    #[test]
    fn whole_plan_paces_only_between_deltas() {
        let steps = play(frames(), Plan::Whole, Duration::from_millis(5));
        assert_eq!(names(&steps), ["start", "open", "d1", "pause 5ms", "d2", "pause 5ms", "d3", "end"]);
    }

    #[test]
    fn broken_plans_stop_at_their_point() {
        let zero = Duration::ZERO;
        assert_eq!(
            names(&play(frames(), Plan::CutAfterDeltas(2), zero)),
            ["start", "open", "d1", "d2", "CUT"]
        );
        let err = Bytes::from_static(b"ERR");
        assert_eq!(
            names(&play(frames(), Plan::ErrorAfterDeltas(1, err.clone()), zero)),
            ["start", "open", "d1", "ERR"]
        );
        assert_eq!(names(&play(frames(), Plan::ErrorAfterPreamble(err), zero)), ["start", "ERR"]);
        assert_eq!(names(&play(frames(), Plan::HangAfterPreamble, zero)), ["start", "HANG"]);
    }
}
