//! Response bodies: a whole buffer, a file read in chunks, or a live SSE stream encoded event by
//! event.
//!
//! [`SseBody`] pulls events from the committed upstream stream and encodes whatever is ready
//! into one frame per poll: nothing is held back waiting for more, and nothing is compressed
//! (AC-04). When neither the upstream nor the client has anything for `ping_interval`, it sends
//! the dialect's keep-alive (Anthropic `ping`, OpenAI `: keep-alive` comment, AC-17).
//!
//! **Cancellation**: when the client goes away, hyper drops the body, which drops the upstream
//! stream and with it the upstream connection (AC-05).

use crate::channels::EventStream;
use crate::dialect::{ApiError, StreamEncoder};
use crate::ir::Event;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

/// The concurrency slots a request holds: the gateway's and its key's.
pub type Slots = (Option<OwnedSemaphorePermit>, Option<OwnedSemaphorePermit>);

/// Encoded output is handed to hyper once it reaches this size, even if more events are ready.
const FLUSH_BYTES: usize = 16 * 1024;

pub enum ResponseBody {
    Full(Option<Bytes>),
    Sse(Box<SseBody>),
    File(Box<FileBody>),
    /// Frames made as they come (the images API's events).
    Stream(Pin<Box<dyn futures_util::Stream<Item = Bytes> + Send>>),
}

impl ResponseBody {
    pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
        ResponseBody::Full(Some(bytes.into()))
    }

    pub fn stream(frames: impl futures_util::Stream<Item = Bytes> + Send + 'static) -> ResponseBody {
        ResponseBody::Stream(Box::pin(frames))
    }

    pub fn empty() -> ResponseBody {
        ResponseBody::Full(None)
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ResponseBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Sse(sse) => sse.poll(cx).map(|f| f.map(|b| Ok(Frame::data(b)))),
            ResponseBody::File(file) => file.poll(cx).map(|f| f.map(|b| Ok(Frame::data(b)))),
            ResponseBody::Stream(frames) => {
                frames.as_mut().poll_next(cx).map(|f| f.map(|b| Ok(Frame::data(b))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Full(bytes) => bytes.is_none(),
            ResponseBody::Sse(sse) => sse.done,
            ResponseBody::File(file) => file.remaining == 0,
            ResponseBody::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            ResponseBody::Full(None) => SizeHint::with_exact(0),
            ResponseBody::Sse(_) => SizeHint::default(),
            ResponseBody::File(file) => SizeHint::with_exact(file.remaining),
            ResponseBody::Stream(_) => SizeHint::default(),
        }
    }
}

/// Bytes read from a file per frame.
const FILE_CHUNK: usize = 64 * 1024;

/// `remaining` bytes of an open file from its current position, read one chunk per frame, so a
/// large video is never held in memory whole.
pub struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: Vec<u8>,
}

impl FileBody {
    /// `file` must already be positioned at the first byte to send.
    pub fn new(file: tokio::fs::File, len: u64) -> FileBody {
        let chunk = usize::try_from(len).unwrap_or(FILE_CHUNK).min(FILE_CHUNK);
        FileBody { file, remaining: len, buf: vec![0; chunk] }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        use tokio::io::{AsyncRead, ReadBuf};
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(self.buf.len());
        let mut read = ReadBuf::new(&mut self.buf[..want]);
        match Pin::new(&mut self.file).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) if !read.filled().is_empty() => {
                let chunk = Bytes::copy_from_slice(read.filled());
                self.remaining -= chunk.len() as u64;
                Poll::Ready(Some(chunk))
            }
            // The file shrank or failed under us: end early; the client sees fewer bytes than
            // Content-Length announced and knows the copy is broken.
            Poll::Ready(result) => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "reading a media file failed mid-response");
                }
                self.remaining = 0;
                Poll::Ready(None)
            }
        }
    }
}

pub struct SseBody {
    prefix: VecDeque<Event>,
    rest: EventStream,
    encoder: StreamEncoder,
    buf: BytesMut,
    ping: Pin<Box<Sleep>>,
    ping_interval: Duration,
    /// The upstream is finished (well or not); only buffered output remains.
    upstream_done: bool,
    done: bool,
    /// The request's places under the gateway's and its key's concurrency limits, given back
    /// when the stream ends.
    _slots: Slots,
}

impl SseBody {
    /// `ping_now`: the response was committed because the client had already waited a whole
    /// keep-alive interval, so the first frame goes out at once.
    pub fn new(
        prefix: Vec<Event>,
        rest: EventStream,
        encoder: StreamEncoder,
        ping_interval: Duration,
        ping_now: bool,
        slots: Slots,
    ) -> SseBody {
        let first_ping = if ping_now { Instant::now() } else { Instant::now() + ping_interval };
        SseBody {
            prefix: prefix.into(),
            rest,
            encoder,
            buf: BytesMut::with_capacity(4096),
            ping: Box::pin(tokio::time::sleep_until(first_ping)),
            ping_interval,
            upstream_done: false,
            done: false,
            _slots: slots,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.done {
            return Poll::Ready(None);
        }
        while !self.upstream_done && self.buf.len() < FLUSH_BYTES {
            let next = match self.prefix.pop_front() {
                Some(event) => Some(event),
                None => match self.rest.as_mut().poll_next(cx) {
                    Poll::Ready(next) => next,
                    Poll::Pending => break,
                },
            };
            match next {
                Some(Event::Error(e)) => {
                    tracing::warn!(error = %e, "upstream failed after the response was committed");
                    self.encoder.fail(&ApiError::from(&e), &mut self.buf);
                    self.upstream_done = true;
                }
                Some(event) => self.encoder.event(event, &mut self.buf),
                None => {
                    self.encoder.finish(&mut self.buf);
                    self.upstream_done = true;
                }
            }
        }
        if self.buf.is_empty() && !self.upstream_done && self.ping.as_mut().poll(cx).is_ready() {
            self.encoder.keepalive(&mut self.buf);
        }
        if !self.buf.is_empty() {
            let at = Instant::now() + self.ping_interval;
            self.ping.as_mut().reset(at);
            return Poll::Ready(Some(self.buf.split().freeze()));
        }
        if self.upstream_done {
            self.done = true;
            return Poll::Ready(None);
        }
        Poll::Pending
    }
}
