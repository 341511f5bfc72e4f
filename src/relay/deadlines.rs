//! An event stream bounded by an overall deadline and by the longest silence between events.

use crate::channels::EventStream;
use crate::ir::{ErrorKind, Event, UpstreamError};
use futures_util::stream::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep, sleep_until};

/// An event stream bounded by an overall deadline and a maximum silence between events.
pub struct Deadlines {
    inner: EventStream,
    overall: Pin<Box<Sleep>>,
    idle: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    ended: bool,
}

impl Deadlines {
    pub fn new(inner: EventStream, deadline: Instant, idle_timeout: Duration) -> Deadlines {
        Deadlines {
            inner,
            overall: Box::pin(sleep_until(deadline)),
            idle: Box::pin(sleep_until(Instant::now() + idle_timeout)),
            idle_timeout,
            ended: false,
        }
    }
}

impl Stream for Deadlines {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Poll::Ready(next) = self.inner.as_mut().poll_next(cx) {
            match &next {
                Some(Event::KeepAlive) => {}
                Some(Event::Error(_)) | None => self.ended = true,
                Some(_) => {
                    let at = Instant::now() + self.idle_timeout;
                    self.idle.as_mut().reset(at);
                }
            }
            return Poll::Ready(next);
        }
        let overall = self.overall.as_mut().poll(cx).is_ready();
        if overall || self.idle.as_mut().poll(cx).is_ready() {
            self.ended = true;
            let what = if overall { "the request deadline passed" } else { "the upstream went silent" };
            return Poll::Ready(Some(Event::Error(
                UpstreamError::new(ErrorKind::Timeout).with_message(what),
            )));
        }
        Poll::Pending
    }
}
