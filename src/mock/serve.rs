//! Serves a mock over HTTP/1.1 and h2c: the accept loop, the connections, and each request's entry.
//!
//! Every task spawned here — the accept loop, one task per connection, and the tasks hyper spawns
//! per h2 stream through [`Executor`] — also waits on the server's stop signal, a
//! `watch::Receiver` whose sender the `MockServer` owns. Dropping the `MockServer` drops the
//! sender; each task then finishes at its next poll, which closes the listener and every
//! connection (an in-flight response is cut, not drained).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::ids::Ids;
use super::record::Recorder;
use super::script::{self, Reply};
use super::{MockKind, anthropic, grok, openai, warp};

/// Path of the control endpoint: `GET` lists the recorded requests, `DELETE` clears them.
pub(super) const CONTROL_PATH: &str = "/_mock/requests";
/// Largest request body read; a larger one gets the API's 413.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// What every connection of one mock server shares.
pub(super) struct Shared {
    pub(super) kind: MockKind,
    pub(super) recorder: Recorder,
    pub(super) ids: Ids,
    /// The Warp mock's tokens and conversations (unused by the other kinds).
    pub(super) warp: warp::State,
    /// The Grok mock's state (uploads, quotas); unused by the other kinds.
    pub(super) grok: grok::State,
}

/// Serves `listener` until `stop`'s sender is dropped.
pub(super) fn spawn(listener: TcpListener, shared: Arc<Shared>, stop: watch::Receiver<()>) {
    tokio::spawn(accept(listener, shared, stop));
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<()>) {
    loop {
        let stream = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::debug!(%err, "mock upstream: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        // Frames are written one by one on purpose; don't let Nagle merge them.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "mock upstream: TCP_NODELAY not set");
        }
        tokio::spawn(connection(stream, shared.clone(), stop.clone()));
    }
}

async fn connection(stream: TcpStream, shared: Arc<Shared>, mut stop: watch::Receiver<()>) {
    let builder = auto::Builder::new(Executor { stop: stop.clone() });
    let service = service_fn(move |request| handle(shared.clone(), request));
    let serving = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        served = serving => if let Err(err) = served {
            tracing::debug!(%err, "mock upstream: connection ended with an error");
        },
        _ = stop.changed() => {}
    }
}

/// Spawns hyper's per-stream h2 tasks so that they, too, end when the server stops.
#[derive(Clone)]
struct Executor {
    stop: watch::Receiver<()>,
}

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, future: F) {
        let mut stop = self.stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = future => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// One request: the control endpoint, or read the body, record it, and let the API answer.
async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Response<Reply>, Infallible> {
    let (head, body) = request.into_parts();
    if head.uri.path() == CONTROL_PATH {
        return Ok(control(&shared.recorder, &head.method));
    }
    // `None` if over MAX_BODY, or if the client went away mid-body (then nobody reads the answer).
    let body = Limited::new(body, MAX_BODY).collect().await.ok().map(|collected| collected.to_bytes());
    let exchange = shared.recorder.record(&head, body.as_ref().unwrap_or(&Bytes::new()));
    let mut response = match shared.kind {
        MockKind::OpenAi => openai::handle(&head, body, &shared.ids).await,
        MockKind::Anthropic => anthropic::handle(&head, body, &shared.ids).await,
        MockKind::Warp => warp::handle(&head, body, &shared.ids, &shared.warp).await,
        MockKind::Grok => grok::handle(&head, body, &shared.ids, &shared.grok).await,
    };
    if let Some(exchange) = exchange {
        response.body_mut().attach(exchange);
    }
    Ok(response)
}

fn control(recorder: &Recorder, method: &Method) -> Response<Reply> {
    match *method {
        Method::GET => script::json(recorder.to_json()),
        Method::DELETE => {
            recorder.clear();
            let mut response = Response::new(Reply::new(Vec::new()));
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        _ => {
            let mut response = script::full(
                StatusCode::METHOD_NOT_ALLOWED,
                "application/json",
                r#"{"error":"use GET or DELETE"}"#,
            );
            response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, DELETE"));
            response
        }
    }
}
