//! The committed stream together with its account's lease: the attempt's outcome (a clean end,
//! or a failure after the commit) is settled when the stream says it, and the lease is given
//! back when the stream ends or is dropped.
//!
//! A failure after the commit cannot be retried (the client has seen content) but still counts
//! against the account: a cut stream is an `upstream_error` like any other. A stream dropped
//! before its end (the client left) settles nothing.

use super::{Observer, settle_failure};
use crate::channels::EventStream;
use crate::ir::{Event, Usage};
use crate::models::Model;
use crate::pool::Lease;
use futures_util::stream::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

pub struct Leased {
    inner: EventStream,
    lease: Option<Lease>,
    model: Model,
    key: Option<u64>,
    observer: Arc<dyn Observer>,
    usage: Usage,
}

impl Leased {
    pub fn new(
        inner: EventStream,
        lease: Lease,
        model: Model,
        key: Option<u64>,
        observer: Arc<dyn Observer>,
    ) -> Leased {
        Leased { inner, lease: Some(lease), model, key, observer, usage: Usage::default() }
    }
}

impl Stream for Leased {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let this = &mut *self;
        let next = ready!(this.inner.as_mut().poll_next(cx));
        match &next {
            Some(Event::Usage(u)) => this.usage.merge(*u),
            Some(Event::Error(e)) => {
                if let Some(lease) = this.lease.take() {
                    settle_failure(&lease, &this.model, this.key, e, this.observer.as_ref());
                }
            }
            None => {
                if let Some(lease) = this.lease.take() {
                    lease.succeed();
                    this.observer.attempted(lease.account(), &this.model, this.key, &this.usage, None);
                }
            }
            Some(_) => {}
        }
        Poll::Ready(next)
    }
}
