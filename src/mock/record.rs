//! Records the requests a mock received, and whether each client stayed for the whole answer.
//!
//! An **exchange** is one request and the response the mock plays to it. It is *abandoned* when
//! the client goes away before the response's last byte: it closed the connection (HTTP/1.1) or
//! reset the stream (h2), or the connection died while the mock was still waiting to answer. This
//! is what a test observes to check that "the client's disconnect cancelled the upstream request".
//!
//! Recording costs one short lock and copies of the request's headers and body; it can be turned
//! off ([`super::Recording::Off`]) for benchmarks. At most [`RECORD_LIMIT`] requests are kept; later
//! ones are served but not recorded until the record is cleared.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use hyper::http::request::Parts;
use serde::Serialize;
use tokio::sync::Notify;

/// Requests kept before recording stops; `clear` makes room again.
pub const RECORD_LIMIT: usize = 10_000;

/// A request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Path with query string, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// Header names lower-case, in the order received; values not valid UTF-8 are replaced lossily.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RecordedRequest {
    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON; `Value::Null` if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The store behind `MockServer::requests` and `/_mock/requests`.
pub(super) struct Recorder {
    on: AtomicBool,
    entries: Mutex<Vec<Entry>>,
    warned_full: AtomicBool,
}

struct Entry {
    request: RecordedRequest,
    fate: Arc<Fate>,
}

/// Whether an exchange was abandoned, and a wake-up for whoever waits to know.
#[derive(Default)]
struct Fate {
    abandoned: AtomicBool,
    notify: Notify,
}

/// Held by the request's handler, then by its response body, for as long as the exchange lasts.
/// Dropped before `finished` is set, it marks the exchange abandoned.
pub(super) struct Exchange {
    fate: Arc<Fate>,
    pub(super) finished: bool,
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if !self.finished {
            self.fate.abandoned.store(true, Ordering::Release);
            // `notify_one` stores a permit if nobody waits yet, so a waiter that checked the flag
            // just before this store still wakes.
            self.fate.notify.notify_one();
        }
    }
}

impl Recorder {
    pub(super) fn new() -> Recorder {
        Recorder {
            on: AtomicBool::new(true),
            entries: Mutex::new(Vec::new()),
            warned_full: AtomicBool::new(false),
        }
    }

    pub(super) fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    /// Records a request, unless recording is off or full; returns the exchange to follow.
    pub(super) fn record(&self, head: &Parts, body: &Bytes) -> Option<Exchange> {
        if !self.on.load(Ordering::Relaxed) {
            return None;
        }
        let request = RecordedRequest {
            method: head.method.as_str().to_owned(),
            path: head
                .uri
                .path_and_query()
                .map_or_else(|| head.uri.path().to_owned(), |p| p.as_str().to_owned()),
            headers: head
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body: body.clone(),
        };
        let fate = Arc::new(Fate::default());
        let mut entries = self.entries();
        if entries.len() >= RECORD_LIMIT {
            drop(entries);
            if !self.warned_full.swap(true, Ordering::Relaxed) {
                tracing::warn!(limit = RECORD_LIMIT, "mock record is full; later requests are not recorded");
            }
            return None;
        }
        entries.push(Entry { request, fate: fate.clone() });
        Some(Exchange { fate, finished: false })
    }

    pub(super) fn requests(&self) -> Vec<RecordedRequest> {
        self.entries().iter().map(|e| e.request.clone()).collect()
    }

    pub(super) fn clear(&self) {
        self.entries().clear();
        self.warned_full.store(false, Ordering::Relaxed);
    }

    /// Waits until exchange `index` is abandoned; false on timeout or if there is no such record.
    pub(super) async fn wait_abandoned(&self, index: usize, timeout: Duration) -> bool {
        let Some(fate) = self.entries().get(index).map(|e| e.fate.clone()) else {
            return false;
        };
        let wait = async {
            while !fate.abandoned.load(Ordering::Acquire) {
                fate.notify.notified().await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// The record as the JSON array `GET /_mock/requests` serves (bodies as UTF-8 text; a body
    /// that is not UTF-8, such as Warp's protobuf, also as `body_base64`).
    pub(super) fn to_json(&self) -> Vec<u8> {
        use base64::Engine as _;
        #[derive(Serialize)]
        struct View<'a> {
            method: &'a str,
            path: &'a str,
            headers: &'a [(String, String)],
            body: Cow<'a, str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            body_base64: Option<String>,
        }
        let entries = self.entries();
        let views: Vec<View<'_>> = entries
            .iter()
            .map(|e| View {
                method: &e.request.method,
                path: &e.request.path,
                headers: &e.request.headers,
                body: String::from_utf8_lossy(&e.request.body),
                body_base64: std::str::from_utf8(&e.request.body)
                    .is_err()
                    .then(|| base64::engine::general_purpose::STANDARD.encode(&e.request.body)),
            })
            .collect();
        serde_json::to_vec(&views).expect("strings and arrays always serialize")
    }

    fn entries(&self) -> MutexGuard<'_, Vec<Entry>> {
        // A panic while holding the lock leaves a valid Vec behind; keep serving.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_recording_at_the_limit_until_cleared() {
        let recorder = Recorder::new();
        let (head, ()) = hyper::Request::post("/v1/messages").body(()).unwrap().into_parts();
        let body = Bytes::from_static(b"{}");
        let exchanges: Vec<Option<Exchange>> =
            (0..=RECORD_LIMIT).map(|_| recorder.record(&head, &body)).collect();
        assert!(exchanges[..RECORD_LIMIT].iter().all(Option::is_some));
        assert!(exchanges[RECORD_LIMIT].is_none(), "one past the limit is served unrecorded");
        assert_eq!(recorder.requests().len(), RECORD_LIMIT);
        recorder.clear();
        assert!(recorder.record(&head, &body).is_some());
        recorder.set(false);
        assert!(recorder.record(&head, &body).is_none());
        assert_eq!(recorder.requests().len(), 1);
    }

    #[tokio::test]
    async fn an_exchange_dropped_unfinished_is_abandoned() {
        let recorder = Recorder::new();
        let (head, ()) = hyper::Request::get("/v1/models").body(()).unwrap().into_parts();
        let mut finished = recorder.record(&head, &Bytes::new()).unwrap();
        let unfinished = recorder.record(&head, &Bytes::new()).unwrap();
        finished.finished = true;
        drop((finished, unfinished));
        assert!(!recorder.wait_abandoned(0, Duration::ZERO).await);
        assert!(recorder.wait_abandoned(1, Duration::ZERO).await);
    }
}
