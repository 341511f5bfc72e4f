//! The admin REST API under `/api`: accounts, client keys, models, runtime settings, usage, and
//! export/import, as JSON, for the bearer of `admin_token`.
//!
//! A request is authenticated ([`auth`]), routed by [`route`] (a pure function, like the server's
//! router) to an [`Endpoint`], and handled by the module of its noun. Errors are OpenAI-shaped
//! (`{"error":{"message","type","param","code"}}`), `param` naming the request field at fault.
//!
//! **Every write goes through the [`Store`](crate::store::Store).** Nothing here touches the
//! in-memory tables: the store's change feed carries each write to every instance's pool, model
//! table, key set and settings ([`Live::spawn_sync`]), this one included, within milliseconds.
//! A store that cannot be reached answers 503; no write is ever reported done that was not made.
//! The one exception is the media cache (`media.rs`), which is this instance's own directory,
//! not shared state: its endpoints act on it directly.
//!
//! `docs/admin-api.md` documents every endpoint.

mod accounts;
mod auth;
mod grok;
mod json;
mod keys;
mod media;
mod models;
mod original;
mod query;
mod settings;
mod transfer;
mod usage;

use crate::channels::Channels;
use crate::channels::grok::GrokChannel;
use crate::config::Config;
use crate::dialect::{ApiError, Dialect};
use crate::media::MediaCache;
use crate::relay::Relay;
use crate::server::{Reply, error_response, read_body};
use crate::state::Live;
use crate::store::StoreError;
use crate::store::crypto::Cipher;
use http::{HeaderValue, Method, Request, StatusCode, header};
use hyper::body::Incoming;
use std::sync::Arc;

/// The admin API of one gateway instance.
pub struct Admin {
    token: auth::AdminToken,
    live: Arc<Live>,
    /// To check accounts against their upstream.
    channels: Channels,
    checks: accounts::Checks,
    /// Seals credentials in exports and opens them in imports: the store's own `secret_key`.
    cipher: Cipher,
    max_body: u64,
    /// The local media cache (`/api/grok/cache...`).
    media: Arc<MediaCache>,
    /// grok's own features (voice token).
    grok: Arc<GrokChannel>,
    /// Runs the imagine tasks' generations, with the pool's account switching.
    relay: Relay,
    imagine: Arc<grok::Imagine>,
}

/// What an admin request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint<'a> {
    ListAccounts,
    CreateAccount,
    GetAccount(u64),
    UpdateAccount(u64),
    DeleteAccount(u64),
    CheckAccount(u64),
    ResetAccount(u64),
    AccountUsage(u64),
    ListKeys,
    CreateKey,
    GetKey(u64),
    UpdateKey(u64),
    DeleteKey(u64),
    ListModels,
    CreateModel,
    GetModel(u64),
    UpdateModel(u64),
    DeleteModel(u64),
    GetSettings,
    UpdateSettings,
    Usage,
    Export,
    Import,
    MediaSummary,
    MediaList,
    MediaClear,
    /// `DELETE /api/grok/cache/{type}/{name}`, as given (checked by the handler: 400 when bad).
    MediaDelete {
        kind: &'a str,
        name: &'a str,
    },
    VoiceToken,
    ImagineStart,
    ImagineStop,
    ImagineSse(&'a str),
    ImagineWs(&'a str),
}

/// A request that names no endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Misroute {
    NotFound,
    /// The path exists; `allow` lists its methods.
    MethodNotAllowed {
        allow: &'static str,
    },
}

impl Admin {
    pub fn new(
        config: &Config,
        live: Arc<Live>,
        relay: Relay,
        media: Arc<MediaCache>,
        grok: Arc<GrokChannel>,
    ) -> Admin {
        let channels = relay.channels().clone();
        Admin {
            token: auth::AdminToken::new(config.admin_token.as_ref()),
            live,
            channels,
            checks: accounts::Checks::default(),
            cipher: Cipher::new(config.secret_key.as_ref()),
            max_body: config.max_body_bytes,
            media,
            grok,
            relay,
            imagine: Arc::default(),
        }
    }

    /// Serves one request under `/api`; every failure is rendered here, OpenAI-shaped.
    pub async fn handle(&self, request: Request<Incoming>, request_id: &str) -> Reply {
        let fail = |e: &ApiError| error_response(Dialect::OpenAi, e, request_id);
        if let Err(e) = self.token.check(request.headers()) {
            return fail(&e);
        }
        let (method, path) = (request.method().clone(), request.uri().path().to_string());
        match route(&method, &path) {
            // A WebSocket upgrade needs the whole request.
            Ok(Endpoint::ImagineWs(task)) => {
                grok::websocket(self, request, task).unwrap_or_else(|e| fail(&e))
            }
            Ok(endpoint) => self.serve(endpoint, request).await.unwrap_or_else(|e| fail(&e)),
            Err(Misroute::NotFound) => fail(&ApiError::route_not_found(&method, &path)),
            Err(Misroute::MethodNotAllowed { allow }) => {
                let mut reply = fail(&ApiError::method_not_allowed(&method, &path));
                reply.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
                reply
            }
        }
    }

    async fn serve(&self, endpoint: Endpoint<'_>, request: Request<Incoming>) -> Result<Reply, ApiError> {
        let (parts, body) = request.into_parts();
        let query = parts.uri.query();
        // Read only by the endpoints that take a body.
        let body = read_body(body, &parts.headers, self.max_body);
        match endpoint {
            Endpoint::ListAccounts => accounts::list(self, query).await,
            Endpoint::CreateAccount => accounts::create(self, &body.await?).await,
            Endpoint::GetAccount(id) => accounts::get(self, id).await,
            Endpoint::UpdateAccount(id) => accounts::update(self, id, &body.await?).await,
            Endpoint::DeleteAccount(id) => accounts::delete(self, id).await,
            Endpoint::CheckAccount(id) => accounts::check(self, id).await,
            Endpoint::ResetAccount(id) => accounts::reset(self, id).await,
            Endpoint::AccountUsage(id) => usage::of_account(self, id, query).await,
            Endpoint::ListKeys => keys::list(self).await,
            Endpoint::CreateKey => keys::create(self, &body.await?).await,
            Endpoint::GetKey(id) => keys::get(self, id).await,
            Endpoint::UpdateKey(id) => keys::update(self, id, &body.await?).await,
            Endpoint::DeleteKey(id) => keys::delete(self, id).await,
            Endpoint::ListModels => models::list(self).await,
            Endpoint::CreateModel => models::create(self, &body.await?).await,
            Endpoint::GetModel(id) => models::get(self, id).await,
            Endpoint::UpdateModel(id) => models::update(self, id, &body.await?).await,
            Endpoint::DeleteModel(id) => models::delete(self, id).await,
            Endpoint::GetSettings => settings::get(self).await,
            Endpoint::UpdateSettings => settings::update(self, &body.await?).await,
            Endpoint::Usage => usage::list(self, query).await,
            Endpoint::Export => transfer::export(self).await,
            Endpoint::Import => transfer::import(self, &body.await?).await,
            Endpoint::MediaSummary => Ok(media::summary(self)),
            Endpoint::MediaList => media::list(self, query),
            Endpoint::MediaClear => media::clear(self, &body.await?).await,
            Endpoint::MediaDelete { kind, name } => media::delete(self, kind, name).await,
            Endpoint::VoiceToken => grok::voice_token(self, query).await,
            Endpoint::ImagineStart => grok::start(self, &body.await?).await,
            Endpoint::ImagineStop => grok::stop(self, &body.await?),
            Endpoint::ImagineSse(task) => grok::sse(self, task),
            Endpoint::ImagineWs(_) => unreachable!("upgrades are served by `handle`"),
        }
    }
}

/// Matches an admin request's method and path (`/api/...`, one trailing slash ignored).
fn route<'a>(method: &Method, path: &'a str) -> Result<Endpoint<'a>, Misroute> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let rest = path.strip_prefix("/api/").ok_or(Misroute::NotFound)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let get = method == Method::GET || method == Method::HEAD;
    let (post, patch, delete) = (method == Method::POST, method == Method::PATCH, method == Method::DELETE);
    let id = |s: &str| s.parse::<u64>().map_err(|_| Misroute::NotFound);
    let wrong = |allow| Err(Misroute::MethodNotAllowed { allow });
    const COLLECTION: &str = "GET, HEAD, POST";
    const RECORD: &str = "GET, HEAD, PATCH, DELETE";
    const ACTION: &str = "POST";
    const READ: &str = "GET, HEAD";
    match segments.as_slice() {
        ["accounts"] if get => Ok(Endpoint::ListAccounts),
        ["accounts"] if post => Ok(Endpoint::CreateAccount),
        ["accounts"] => wrong(COLLECTION),
        ["accounts", n] => match id(n)? {
            n if get => Ok(Endpoint::GetAccount(n)),
            n if patch => Ok(Endpoint::UpdateAccount(n)),
            n if delete => Ok(Endpoint::DeleteAccount(n)),
            _ => wrong(RECORD),
        },
        ["accounts", n, action] => match (id(n)?, *action) {
            (n, "check") if post => Ok(Endpoint::CheckAccount(n)),
            (n, "reset") if post => Ok(Endpoint::ResetAccount(n)),
            (_, "check" | "reset") => wrong(ACTION),
            (n, "usage") if get => Ok(Endpoint::AccountUsage(n)),
            (_, "usage") => wrong(READ),
            _ => Err(Misroute::NotFound),
        },
        ["keys"] if get => Ok(Endpoint::ListKeys),
        ["keys"] if post => Ok(Endpoint::CreateKey),
        ["keys"] => wrong(COLLECTION),
        ["keys", n] => match id(n)? {
            n if get => Ok(Endpoint::GetKey(n)),
            n if patch => Ok(Endpoint::UpdateKey(n)),
            n if delete => Ok(Endpoint::DeleteKey(n)),
            _ => wrong(RECORD),
        },
        ["models"] if get => Ok(Endpoint::ListModels),
        ["models"] if post => Ok(Endpoint::CreateModel),
        ["models"] => wrong(COLLECTION),
        ["models", n] => match id(n)? {
            n if get => Ok(Endpoint::GetModel(n)),
            n if patch => Ok(Endpoint::UpdateModel(n)),
            n if delete => Ok(Endpoint::DeleteModel(n)),
            _ => wrong(RECORD),
        },
        ["settings"] if get => Ok(Endpoint::GetSettings),
        ["settings"] if patch => Ok(Endpoint::UpdateSettings),
        ["settings"] => wrong("GET, HEAD, PATCH"),
        ["usage"] if get => Ok(Endpoint::Usage),
        ["usage"] => wrong(READ),
        ["export"] if get => Ok(Endpoint::Export),
        ["export"] => wrong(READ),
        ["import"] if post => Ok(Endpoint::Import),
        ["import"] => wrong(ACTION),
        ["grok", "cache"] if get => Ok(Endpoint::MediaSummary),
        ["grok", "cache"] => wrong(READ),
        ["grok", "cache", "list"] if get => Ok(Endpoint::MediaList),
        ["grok", "cache", "list"] => wrong(READ),
        ["grok", "cache", "clear"] if post => Ok(Endpoint::MediaClear),
        ["grok", "cache", "clear"] => wrong(ACTION),
        ["grok", "cache", kind, name] if delete => Ok(Endpoint::MediaDelete { kind, name }),
        ["grok", "voice", "token"] if get => Ok(Endpoint::VoiceToken),
        ["grok", "voice", "token"] => wrong(READ),
        ["grok", "imagine", "start"] if post => Ok(Endpoint::ImagineStart),
        ["grok", "imagine", "stop"] if post => Ok(Endpoint::ImagineStop),
        ["grok", "imagine", "start" | "stop"] => wrong(ACTION),
        ["grok", "imagine", task, "sse"] if get => Ok(Endpoint::ImagineSse(task)),
        ["grok", "imagine", _, "sse"] => wrong(READ),
        ["grok", "imagine", task, "ws"] if method == Method::GET => Ok(Endpoint::ImagineWs(task)),
        ["grok", "imagine", _, "ws"] => wrong("GET"),
        ["grok", "cache", _, _] => wrong("DELETE"),
        _ => Err(Misroute::NotFound),
    }
}

/// How the admin API reports a store failure: never as a success.
fn store_error(e: StoreError) -> ApiError {
    let (status, code) = match &e {
        StoreError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        StoreError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        StoreError::Corrupt(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store_corrupt"),
    };
    ApiError::new(status, code, e.to_string())
}

/// 404 for an id the store does not have.
fn not_found(what: &str, id: u64) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("there is no {what} with id {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_methods_name_endpoints() {
        let cases = [
            (Method::GET, "/api/accounts", Endpoint::ListAccounts),
            (Method::POST, "/api/accounts/", Endpoint::CreateAccount),
            (Method::PATCH, "/api/accounts/12", Endpoint::UpdateAccount(12)),
            (Method::POST, "/api/accounts/12/check", Endpoint::CheckAccount(12)),
            (Method::POST, "/api/accounts/12/reset", Endpoint::ResetAccount(12)),
            (Method::GET, "/api/accounts/12/usage", Endpoint::AccountUsage(12)),
            (Method::DELETE, "/api/keys/3", Endpoint::DeleteKey(3)),
            (Method::HEAD, "/api/models/4", Endpoint::GetModel(4)),
            (Method::PATCH, "/api/settings", Endpoint::UpdateSettings),
            (Method::GET, "/api/usage", Endpoint::Usage),
            (Method::GET, "/api/export", Endpoint::Export),
            (Method::POST, "/api/import", Endpoint::Import),
            (Method::GET, "/api/grok/cache", Endpoint::MediaSummary),
            (Method::GET, "/api/grok/cache/list", Endpoint::MediaList),
            (Method::POST, "/api/grok/cache/clear", Endpoint::MediaClear),
            (
                Method::DELETE,
                "/api/grok/cache/image/0123abcd.png",
                Endpoint::MediaDelete { kind: "image", name: "0123abcd.png" },
            ),
        ];
        for (method, path, endpoint) in cases {
            assert_eq!(route(&method, path), Ok(endpoint), "{method} {path}");
        }
    }

    #[test]
    fn unknown_paths_and_wrong_methods_are_told_apart() {
        assert_eq!(route(&Method::GET, "/api/accounts/x"), Err(Misroute::NotFound));
        assert_eq!(route(&Method::GET, "/api/accounts/1/nope"), Err(Misroute::NotFound));
        assert_eq!(route(&Method::GET, "/api"), Err(Misroute::NotFound));
        assert_eq!(route(&Method::GET, "/api/"), Err(Misroute::NotFound));
        assert_eq!(
            route(&Method::PUT, "/api/accounts/1"),
            Err(Misroute::MethodNotAllowed { allow: "GET, HEAD, PATCH, DELETE" })
        );
        assert_eq!(
            route(&Method::GET, "/api/accounts/1/check"),
            Err(Misroute::MethodNotAllowed { allow: "POST" })
        );
        assert_eq!(
            route(&Method::DELETE, "/api/keys"),
            Err(Misroute::MethodNotAllowed { allow: "GET, HEAD, POST" })
        );
        assert_eq!(
            route(&Method::POST, "/api/export"),
            Err(Misroute::MethodNotAllowed { allow: "GET, HEAD" })
        );
        assert_eq!(route(&Method::GET, "/api/keys"), Ok(Endpoint::ListKeys));
        assert_eq!(
            route(&Method::GET, "/api/grok/cache/image/x.png"),
            Err(Misroute::MethodNotAllowed { allow: "DELETE" })
        );
        assert_eq!(route(&Method::DELETE, "/api/grok/cache/image/a/b"), Err(Misroute::NotFound));
        assert_eq!(route(&Method::GET, "/api/grok"), Err(Misroute::NotFound));
        assert_eq!(route(&Method::POST, "/api/models"), Ok(Endpoint::CreateModel));
    }
}
