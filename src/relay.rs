//! The relay: runs one client request against a channel and hands back a **committed** stream.
//!
//! A response is *committed* once the gateway has decided to answer with it: from then on the
//! client sees it, and a failure can only end it. The relay commits late, when the upstream has
//! produced real content (text, thinking, a tool call), so every failure before that (a 401, a
//! 429, an HTML page, an empty 200, an in-band error) is still a clean, status-shaped error —
//! and, with several accounts, a retry that the client never notices.
//!
//! ```text
//!   pick ──► call ──► await_content ──► commit ──► Committed { prefix, rest }
//!    │        │            │
//!    └────────┴────────────┴──► RelayError (nothing sent to the client yet)
//! ```
//!
//! Deadlines: `request_timeout` bounds the whole upstream exchange; `idle_timeout` bounds the
//! silence between two upstream events (keep-alives do not count as activity). Both end the
//! stream with an [`ErrorKind::Timeout`] error event.
//!
//! **Cancellation**: dropping the relay future or the committed stream drops the upstream call.

use crate::channels::{Call, ChannelKind, Channels, EventStream};
use crate::ir::{ChatRequest, ErrorKind, Event, UpstreamError};
use crate::models::Model;
use crate::pool::Pool;
use futures_util::stream::{self, Stream, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep, sleep_until};

/// Why the relay could not produce a response.
#[derive(Debug)]
pub enum RelayError {
    /// No account of the channel is available.
    NoAccount(ChannelKind),
    /// The upstream failed before the response was committed.
    Upstream(UpstreamError),
}

/// A response the gateway has decided to send: the events gathered before the commit, then the
/// rest of the upstream stream.
pub struct Committed {
    pub prefix: Vec<Event>,
    pub rest: EventStream,
    /// True when the commit came from the keep-alive deadline rather than content: the client
    /// has waited a full keep-alive interval already.
    pub by_deadline: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub request: Duration,
    pub idle: Duration,
}

pub struct Relay {
    channels: Channels,
    pool: Arc<Pool>,
    timeouts: Timeouts,
}

impl Relay {
    pub fn new(channels: Channels, pool: Arc<Pool>, timeouts: Timeouts) -> Relay {
        Relay { channels, pool, timeouts }
    }

    /// Runs `request` on `model`'s channel. `commit_by`: commit without content after this
    /// long, so that a streaming client hears something (a keep-alive) while the upstream thinks.
    pub async fn run(
        &self,
        request: Arc<ChatRequest>,
        model: &Model,
        commit_by: Option<Duration>,
    ) -> Result<Committed, RelayError> {
        let commit_by = commit_by.map(|d| Instant::now() + d);
        let call = self.pick(request, model)?;
        let account = call.account.name.clone();
        let result = await_content(self.call(call), commit_by).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => {
                tracing::warn!(channel = %model.channel, account = %account, model = %model.id, error = %e, "upstream attempt failed");
                e.kind().code()
            }
        };
        crate::telemetry::record_attempt(model.channel.as_str(), outcome);
        result.map_err(RelayError::Upstream)
    }

    fn pick(&self, request: Arc<ChatRequest>, model: &Model) -> Result<Call, RelayError> {
        let account = self.pool.pick(model.channel).ok_or(RelayError::NoAccount(model.channel))?;
        Ok(Call { account, request, upstream_model: model.upstream.clone() })
    }

    /// The upstream call as one event stream: the wait for the response head (bounded by the
    /// request deadline), then the answer's events under [`Deadlines`]. A failed call is the
    /// stream's only event, so callers see every failure the same way.
    fn call(&self, call: Call) -> EventStream {
        let deadline = Instant::now() + self.timeouts.request;
        let idle = self.timeouts.idle;
        let channel = self.channels.get(call.account.channel).cloned();
        let head = async move {
            let Some(channel) = channel else {
                return failed(UpstreamError::new(ErrorKind::Connect).with_message("channel not available"));
            };
            match tokio::time::timeout_at(deadline, channel.call(call)).await {
                Ok(Ok(stream)) => Box::pin(Deadlines::new(stream, deadline, idle)) as EventStream,
                Ok(Err(e)) => failed(e),
                Err(_) => failed(
                    UpstreamError::new(ErrorKind::Timeout)
                        .with_message("no response head before the deadline"),
                ),
            }
        };
        Box::pin(stream::once(head).flatten())
    }
}

fn failed(error: UpstreamError) -> EventStream {
    Box::pin(stream::iter([Event::Error(error)]))
}

/// Reads events until the first content event, an error, or the end. The events before the
/// content are kept for the encoder (usage, for instance).
async fn await_content(
    mut stream: EventStream,
    commit_by: Option<Instant>,
) -> Result<Committed, UpstreamError> {
    let mut prefix = Vec::new();
    loop {
        let next = match commit_by {
            Some(at) => match tokio::time::timeout_at(at, stream.next()).await {
                Ok(next) => next,
                Err(_) => return Ok(Committed { prefix, rest: stream, by_deadline: true }),
            },
            None => stream.next().await,
        };
        match next {
            Some(Event::Error(e)) => return Err(e),
            Some(event) if event.is_content() => {
                prefix.push(event);
                return Ok(Committed { prefix, rest: stream, by_deadline: false });
            }
            Some(Event::KeepAlive) => {}
            Some(event) => prefix.push(event),
            // Ended well-formed but said nothing (AC-26).
            None => return Err(UpstreamError::new(ErrorKind::EmptyResponse)),
        }
    }
}

/// An event stream bounded by an overall deadline and a maximum silence between events.
struct Deadlines {
    inner: EventStream,
    overall: Pin<Box<Sleep>>,
    idle: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    ended: bool,
}

impl Deadlines {
    fn new(inner: EventStream, deadline: Instant, idle_timeout: Duration) -> Deadlines {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{StopReason, Text, Usage};

    fn events(list: Vec<Event>) -> EventStream {
        Box::pin(stream::iter(list))
    }

    #[tokio::test]
    async fn commit_waits_for_content_and_keeps_the_prefix() {
        let s = events(vec![
            Event::Usage(Usage { input: Some(3), ..Default::default() }),
            Event::KeepAlive,
            Event::Text(Text::from("")),
            Event::Text(Text::from("hi")),
            Event::Stop(StopReason::EndTurn),
        ]);
        let c = await_content(s, None).await.unwrap();
        assert_eq!(c.prefix.len(), 3, "usage, the empty text, then the content");
        assert!(matches!(c.prefix.last(), Some(Event::Text(t)) if t == "hi"));
        assert_eq!(c.rest.collect::<Vec<_>>().await, vec![Event::Stop(StopReason::EndTurn)]);
    }

    // See: reference/client-conventions.md §4.10 #12 (AC-26)
    #[tokio::test]
    async fn ac26_a_stream_without_content_is_an_empty_response() {
        let s = events(vec![Event::Usage(Usage::default()), Event::Stop(StopReason::EndTurn)]);
        assert_eq!(await_content(s, None).await.err().unwrap().kind(), ErrorKind::EmptyResponse);
    }

    #[tokio::test]
    async fn errors_before_content_are_not_committed() {
        let s = events(vec![Event::Error(UpstreamError::new(ErrorKind::Overloaded))]);
        assert_eq!(await_content(s, None).await.err().unwrap().kind(), ErrorKind::Overloaded);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_upstream_is_committed_at_the_keepalive_deadline() {
        let s: EventStream = Box::pin(stream::pending());
        let c = await_content(s, Some(Instant::now() + Duration::from_secs(15))).await.unwrap();
        assert!(c.by_deadline);
        assert!(c.prefix.is_empty());
    }

    // See: reference/client-conventions.md §4.10 #15 (AC-28)
    #[tokio::test(start_paused = true)]
    async fn ac28_idle_timeout_ends_a_stream_that_only_keeps_alive() {
        let keepalives = stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Event::KeepAlive, ()))
        });
        let first = stream::iter(vec![Event::Text(Text::from("x"))]);
        let inner: EventStream = Box::pin(first.chain(keepalives));
        let guarded =
            Deadlines::new(inner, Instant::now() + Duration::from_secs(3600), Duration::from_secs(10));
        let all: Vec<Event> = guarded.collect().await;
        assert!(matches!(all.last(), Some(Event::Error(e)) if e.kind() == ErrorKind::Timeout));
        assert!(all.len() > 5 && all.len() < 15, "{}", all.len());
    }

    #[tokio::test(start_paused = true)]
    async fn the_overall_deadline_ends_a_busy_stream() {
        let busy = stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Event::Text(Text::from("x")), ()))
        });
        let guarded =
            Deadlines::new(Box::pin(busy), Instant::now() + Duration::from_secs(5), Duration::from_secs(60));
        let all: Vec<Event> = guarded.collect().await;
        assert!(matches!(all.last(), Some(Event::Error(e)) if e.kind() == ErrorKind::Timeout));
    }
}
