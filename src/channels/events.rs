//! Turns an upstream response body into a stream of [`Event`]s: body chunks → framer → frames →
//! decoder → events.
//!
//! The [`Framer`] cuts bytes into frames (SSE events, NDJSON lines, ...); a channel's [`Decoder`]
//! maps each frame to zero or more events and says, when the body ends, whether the protocol's
//! terminal frame came. [`FramedEvents`] is the IO loop between them, shared by every channel.
//!
//! **Cancellation**: dropping the stream drops the upstream body, which closes (or, if the body
//! was read to the end, returns to the pool) the upstream connection: the upstream call is
//! cancelled.
//!
//! **Allocation**: the event queue is reused; per frame, only what the decoder allocates.

use crate::ir::{ErrorKind, Event, UpstreamError};
use crate::stream::FrameError;
use crate::stream::sse::{SseEvent, SseFramer};
use bytes::Bytes;
use futures_util::stream::Stream;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// A stream-core framer seen from the channels.
pub trait Framer: Send + 'static {
    type Frame;
    fn push(&mut self, chunk: Bytes);
    fn next_frame(&mut self) -> Result<Option<Self::Frame>, FrameError>;
    /// The body ended: the last, unterminated frame, if any.
    fn finish(&mut self) -> Option<Self::Frame>;
}

impl Framer for SseFramer {
    type Frame = SseEvent;
    fn push(&mut self, chunk: Bytes) {
        SseFramer::push(self, chunk)
    }
    fn next_frame(&mut self) -> Result<Option<SseEvent>, FrameError> {
        self.next_event()
    }
    fn finish(&mut self) -> Option<SseEvent> {
        SseFramer::finish(self)
    }
}

/// A channel's frame → event mapping. Pure: no IO, no clocks.
pub trait Decoder: Send + 'static {
    type Frame;
    /// Maps one frame to events, appended to `out`.
    fn frame(&mut self, frame: Self::Frame, out: &mut VecDeque<Event>);
    /// Has the protocol's terminal frame arrived? Later frames are ignored.
    fn is_done(&self) -> bool;
    /// The body ended. `saw_frames` tells an empty body from a cut one. A decoder whose
    /// terminal frame never came reports the failure here.
    fn end(&mut self, saw_frames: bool, out: &mut VecDeque<Event>) {
        if !self.is_done() {
            let kind = if saw_frames { ErrorKind::StreamCut } else { ErrorKind::EmptyResponse };
            out.push_back(Event::Error(UpstreamError::new(kind)));
        }
    }
}

/// The events of one upstream body.
pub struct FramedEvents<B, F, D> {
    body: B,
    framer: F,
    decoder: D,
    queue: VecDeque<Event>,
    saw_frames: bool,
    ended: bool,
}

impl<B, F, D> FramedEvents<B, F, D>
where
    F: Framer,
    D: Decoder<Frame = F::Frame>,
{
    pub fn new(body: B, framer: F, decoder: D) -> Self {
        FramedEvents { body, framer, decoder, queue: VecDeque::new(), saw_frames: false, ended: false }
    }

    fn fail(&mut self, kind: ErrorKind, message: String) {
        self.queue.push_back(Event::Error(UpstreamError::new(kind).with_message(message)));
        self.ended = true;
    }
}

impl<B, F, D> Stream for FramedEvents<B, F, D>
where
    B: http_body::Body<Data = Bytes> + Unpin + Send,
    B::Error: std::fmt::Display,
    F: Framer + Unpin,
    D: Decoder<Frame = F::Frame> + Unpin,
{
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let this = &mut *self;
        loop {
            if let Some(event) = this.queue.pop_front() {
                return Poll::Ready(Some(event));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match this.framer.next_frame() {
                Ok(Some(frame)) => {
                    this.saw_frames = true;
                    if !this.decoder.is_done() {
                        this.decoder.frame(frame, &mut this.queue);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    this.fail(ErrorKind::Protocol, e.to_string());
                    continue;
                }
            }
            match ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        this.framer.push(data);
                    }
                }
                Some(Err(e)) => {
                    if this.decoder.is_done() {
                        this.ended = true;
                    } else {
                        this.fail(ErrorKind::StreamCut, format!("upstream connection failed: {e}"));
                    }
                }
                None => {
                    if let Some(frame) = this.framer.finish() {
                        this.saw_frames = true;
                        if !this.decoder.is_done() {
                            this.decoder.frame(frame, &mut this.queue);
                        }
                    }
                    this.decoder.end(this.saw_frames, &mut this.queue);
                    this.ended = true;
                }
            }
        }
    }
}
