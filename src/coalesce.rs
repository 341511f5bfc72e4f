//! Request coalescing: byte-identical requests from one client that overlap share one upstream
//! call, and every one of them receives the whole answer.
//!
//! A **flight** is one upstream call and its answer, recorded as it arrives. The first request
//! of its kind starts it; an identical request (same client key, same route, same body bytes)
//! that arrives while the flight is in the air and less than `dedup_window` after it started
//! joins it and replays the answer from the start. Unlike the original's duplicate suppression,
//! nobody gets a fake or empty answer: a follower gets exactly what the leader gets, error
//! included.
//!
//! The flight runs in its own task, so the leader's client leaving does not cut the followers
//! off; when every subscriber has gone, the task drops the upstream call.
//!
//! **Limits**: a flight stops taking followers once its recording passes [`MAX_RECORDED_EVENTS`];
//! those already aboard still get everything.

use crate::channels::EventStream;
use crate::ir::Event;
use crate::relay::{Committed, RelayError};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// A flight records at most this many events for late joiners.
pub const MAX_RECORDED_EVENTS: usize = 100_000;

/// The in-flight calls, by what identifies a request.
#[derive(Default)]
pub struct Coalescer {
    flights: Mutex<HashMap<u64, Vec<Arc<Flight>>>>,
}

struct Flight {
    scope: String,
    body: Bytes,
    started: Instant,
    state: Mutex<Recording>,
    /// Woken on every recorded event and at the end.
    notify: Notify,
    /// Subscribers still listening; at zero the call is dropped.
    listeners: watch::Sender<usize>,
}

#[derive(Default)]
struct Recording {
    /// `None` until the relay returned.
    outcome: Option<Result<bool, RelayError>>,
    events: Vec<Event>,
    done: bool,
}

impl Coalescer {
    /// Runs `call` for the request `(scope, body)`, or joins an identical flight already in the
    /// air that started less than `window` ago. `scope` names the client and the route; a zero
    /// `window` turns coalescing off.
    pub async fn run<F>(
        self: &Arc<Self>,
        window: Duration,
        scope: &str,
        body: &Bytes,
        call: F,
    ) -> Result<Committed, RelayError>
    where
        F: Future<Output = Result<Committed, RelayError>> + Send + 'static,
    {
        if window.is_zero() {
            return call.await;
        }
        let hash = xxhash_rust::xxh3::xxh3_64_with_seed(body, xxhash_rust::xxh3::xxh3_64(scope.as_bytes()));
        let flight = self.join_or_start(window, hash, scope, body, call);
        subscribe(flight).await
    }

    fn join_or_start<F>(
        self: &Arc<Self>,
        window: Duration,
        hash: u64,
        scope: &str,
        body: &Bytes,
        call: F,
    ) -> Arc<Flight>
    where
        F: Future<Output = Result<Committed, RelayError>> + Send + 'static,
    {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        let same = flights.get(&hash).and_then(|list| {
            list.iter().find(|f| f.scope == scope && f.body == *body && f.is_joinable(window)).cloned()
        });
        if let Some(flight) = same {
            flight.listeners.send_modify(|n| *n += 1);
            tracing::debug!(scope, "joined an identical request in flight");
            return flight;
        }
        let (listeners, _) = watch::channel(1);
        let flight = Arc::new(Flight {
            scope: scope.to_string(),
            body: body.clone(),
            started: Instant::now(),
            state: Mutex::new(Recording::default()),
            notify: Notify::new(),
            listeners,
        });
        flights.entry(hash).or_default().push(flight.clone());
        drop(flights);
        let this = self.clone();
        let flying = flight.clone();
        tokio::spawn(async move {
            fly(&flying, call).await;
            this.land(hash, &flying);
        });
        flight
    }

    /// Takes a finished flight off the board.
    fn land(&self, hash: u64, flight: &Arc<Flight>) {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = flights.get_mut(&hash) {
            list.retain(|f| !Arc::ptr_eq(f, flight));
            if list.is_empty() {
                flights.remove(&hash);
            }
        }
    }

    /// Flights in the air (for tests and metrics).
    pub fn in_flight(&self) -> usize {
        self.flights.lock().unwrap_or_else(|e| e.into_inner()).values().map(Vec::len).sum()
    }
}

impl Flight {
    fn is_joinable(&self, window: Duration) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        !state.done && state.events.len() < MAX_RECORDED_EVENTS && self.started.elapsed() < window
    }

    fn record(&self, update: impl FnOnce(&mut Recording)) {
        update(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
        self.notify.notify_waiters();
    }
}

/// The flight's task: runs the call and records its answer, until the answer ends or nobody
/// listens any more.
async fn fly<F>(flight: &Flight, call: F)
where
    F: Future<Output = Result<Committed, RelayError>>,
{
    let mut listeners = flight.listeners.subscribe();
    let abandoned = async move {
        let _ = listeners.wait_for(|n| *n == 0).await;
    };
    tokio::pin!(abandoned);
    let committed = tokio::select! {
        result = call => result,
        _ = &mut abandoned => return flight.record(|r| r.done = true),
    };
    let (prefix, mut rest) = match committed {
        Ok(c) => {
            let by_deadline = c.by_deadline;
            flight.record(|r| r.outcome = Some(Ok(by_deadline)));
            (c.prefix, c.rest)
        }
        Err(e) => {
            return flight.record(|r| {
                r.outcome = Some(Err(e));
                r.done = true;
            });
        }
    };
    flight.record(|r| r.events.extend(prefix));
    loop {
        tokio::select! {
            next = rest.next() => match next {
                Some(event) => flight.record(|r| r.events.push(event)),
                None => break,
            },
            _ = &mut abandoned => break,
        }
    }
    flight.record(|r| r.done = true);
}

/// One subscriber's view of a flight: the relay's outcome, then every event from the first.
async fn subscribe(flight: Arc<Flight>) -> Result<Committed, RelayError> {
    let guard = Listener(flight.clone());
    let by_deadline = loop {
        let notified = flight.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let state = flight.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(outcome) = state.outcome.clone() {
                break outcome?;
            }
            // Race: the flight was abandoned (every listener gone) just as this one joined.
            if state.done {
                let e = crate::ir::UpstreamError::new(crate::ir::ErrorKind::Connect)
                    .with_message("the shared upstream call was abandoned");
                return Err(RelayError::Upstream(e));
            }
        }
        notified.await;
    };
    let rest: EventStream = Box::pin(stream::unfold((guard, 0usize), |(guard, next)| async move {
        let flight = guard.0.clone();
        loop {
            let notified = flight.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = flight.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(event) = state.events.get(next) {
                    let event = event.clone();
                    drop(state);
                    return Some((event, (guard, next + 1)));
                }
                if state.done {
                    return None;
                }
            }
            notified.await;
        }
    }));
    Ok(Committed { prefix: Vec::new(), rest, by_deadline })
}

/// Counts a subscriber while it listens.
struct Listener(Arc<Flight>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.listeners.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{ErrorKind, Text, UpstreamError};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const WINDOW: Duration = Duration::from_secs(2);

    async fn answer(calls: Arc<AtomicUsize>, delay: Duration) -> Result<Committed, RelayError> {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
        let events = stream::iter(vec![Event::Text(Text::from("b")), Event::Text(Text::from("c"))]);
        let rest: EventStream = Box::pin(events.then(|e| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            e
        }));
        Ok(Committed { prefix: vec![Event::Text(Text::from("a"))], rest, by_deadline: false })
    }

    async fn collect(result: Result<Committed, RelayError>) -> Vec<Event> {
        let c = result.ok().unwrap();
        let mut all = c.prefix;
        all.extend(c.rest.collect::<Vec<_>>().await);
        all
    }

    #[tokio::test]
    async fn identical_overlapping_requests_share_one_call_and_get_the_whole_answer() {
        let co = Arc::new(Coalescer::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let body = Bytes::from_static(b"{\"same\":true}");
        let first = co.run(WINDOW, "key/route", &body, answer(calls.clone(), Duration::from_millis(50)));
        let second = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            co.run(WINDOW, "key/route", &body, answer(calls.clone(), Duration::from_millis(50))).await
        };
        let (a, b) = tokio::join!(first, second);
        let expected =
            vec![Event::Text(Text::from("a")), Event::Text(Text::from("b")), Event::Text(Text::from("c"))];
        assert_eq!(collect(a).await, expected);
        assert_eq!(collect(b).await, expected, "the follower replays from the start");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one upstream call");
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(co.in_flight(), 0, "landed flights leave the board");
    }

    #[tokio::test]
    async fn different_clients_bodies_or_disabled_coalescing_do_not_share() {
        for (window, scopes, bodies) in [
            (WINDOW, ["k1", "k2"], ["x", "x"]),
            (WINDOW, ["k1", "k1"], ["x", "y"]),
            (Duration::ZERO, ["k1", "k1"], ["x", "x"]),
        ] {
            let co = Arc::new(Coalescer::default());
            let calls = Arc::new(AtomicUsize::new(0));
            let (first, second) = (Bytes::from(bodies[0]), Bytes::from(bodies[1]));
            let (a, b) = tokio::join!(
                co.run(window, scopes[0], &first, answer(calls.clone(), Duration::from_millis(30))),
                co.run(window, scopes[1], &second, answer(calls.clone(), Duration::from_millis(30))),
            );
            collect(a).await;
            collect(b).await;
            assert_eq!(calls.load(Ordering::SeqCst), 2);
        }
    }

    #[tokio::test]
    async fn followers_share_failures_too() {
        let co = Arc::new(Coalescer::default());
        let failing = || async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Err::<Committed, _>(RelayError::Upstream(UpstreamError::new(ErrorKind::RateLimited)))
        };
        let body = Bytes::from_static(b"x");
        let (a, b) =
            tokio::join!(co.run(WINDOW, "k", &body, failing()), co.run(WINDOW, "k", &body, failing()));
        for r in [a, b] {
            assert!(matches!(r, Err(RelayError::Upstream(e)) if e.kind() == ErrorKind::RateLimited));
        }
    }

    #[tokio::test]
    async fn the_call_is_dropped_when_every_subscriber_has_left() {
        let co = Arc::new(Coalescer::default());
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                let _ = self.0.take().map(|t| t.send(()));
            }
        }
        let guard = OnDrop(Some(dropped_tx));
        let endless = async move {
            // The upstream stream never ends; it owns the guard, as a real one owns its socket.
            let rest: EventStream =
                Box::pin(stream::unfold(guard, |_guard| std::future::pending::<Option<(Event, OnDrop)>>()));
            Ok(Committed { prefix: vec![Event::Text(Text::from("a"))], rest, by_deadline: false })
        };
        let committed = co.run(WINDOW, "k", &Bytes::from_static(b"x"), endless).await.ok().unwrap();
        drop(committed);
        tokio::time::timeout(Duration::from_secs(2), dropped_rx)
            .await
            .expect("the upstream call was dropped")
            .unwrap();
    }
}
