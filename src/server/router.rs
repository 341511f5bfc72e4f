//! Matches a request's method and path to a [`Route`]. A pure function: it calls no handler, so
//! routing can be benchmarked and fuzzed on its own.
//!
//! Paths: `/v1/...` routes by model; `/{channel}/v1/...` (`/openai/v1/chat/completions`,
//! `/anthropic/v1/messages`, ...) pins the channel. Query strings are not part of the path
//! (`/v1/messages?beta=true` routes like `/v1/messages`, AC-02); one trailing slash is ignored.
//!
//! Cached media: `/v1/files/{image|video}/<name>` and `/grok/v1/files/...` (the original's path).
//! The name is checked here, with the one check of [`crate::media::name`]: anything but
//! `<hex>.<ext>` (`..`, percent escapes, slashes, backslashes, upper case) is
//! [`Route::InvalidFileName`] (400); an unknown type is not a route (404). The path is taken as
//! sent: it is never percent-decoded, so `%2e%2e%2f` is just an invalid name.

use crate::channels::ChannelKind;
use crate::dialect::Dialect;
use crate::media::name::{self, FileName};
use http::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `POST /v1/messages`
    Messages {
        pin: Option<ChannelKind>,
    },
    /// `POST /v1/messages/count_tokens`
    CountTokens {
        pin: Option<ChannelKind>,
    },
    /// `POST /v1/chat/completions`
    ChatCompletions {
        pin: Option<ChannelKind>,
    },
    /// `POST /v1/images/generations`
    ImageGenerations {
        pin: Option<ChannelKind>,
    },
    /// `POST /v1/images/edits` (multipart)
    ImageEdits {
        pin: Option<ChannelKind>,
    },
    /// `GET /v1/models`
    ListModels {
        pin: Option<ChannelKind>,
    },
    /// `GET /v1/models/{id}` (the id may contain `/`)
    GetModel {
        pin: Option<ChannelKind>,
        id: &'a str,
    },
    /// `GET`/`HEAD /v1/files/{image|video}/{name}` (also under `/grok`): a cached media file,
    /// public (no API key).
    File(FileName<'a>),
    /// The files route with a name that is not a valid cache name.
    InvalidFileName,
    Health,
    Ready,
    Metrics,
    /// Anything under `/api/`: the admin API, which routes its own paths (`crate::admin`).
    Admin,
    /// A known path with the wrong method; `allow` lists the right ones.
    MethodNotAllowed {
        dialect: Dialect,
        allow: &'static str,
    },
    NotFound {
        dialect: Dialect,
    },
}

impl Route<'_> {
    /// The dialect whose error shape this route answers in.
    pub fn dialect(&self) -> Dialect {
        match self {
            Route::Messages { .. } | Route::CountTokens { .. } => Dialect::Anthropic,
            Route::MethodNotAllowed { dialect, .. } | Route::NotFound { dialect } => *dialect,
            Route::ChatCompletions { .. }
            | Route::ImageGenerations { .. }
            | Route::ImageEdits { .. }
            | Route::ListModels { .. }
            | Route::GetModel { .. }
            | Route::File(_)
            | Route::InvalidFileName
            | Route::Health
            | Route::Ready
            | Route::Metrics
            | Route::Admin => Dialect::OpenAi,
        }
    }

    /// A short fixed name for logs and metric labels.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Messages { .. } => "messages",
            Route::CountTokens { .. } => "count_tokens",
            Route::ChatCompletions { .. } => "chat_completions",
            Route::ImageGenerations { .. } => "image_generations",
            Route::ImageEdits { .. } => "image_edits",
            Route::ListModels { .. } => "list_models",
            Route::GetModel { .. } => "get_model",
            Route::File(_) | Route::InvalidFileName => "files",
            Route::Health => "health",
            Route::Ready => "ready",
            Route::Metrics => "metrics",
            Route::Admin => "admin",
            Route::MethodNotAllowed { .. } => "method_not_allowed",
            Route::NotFound { .. } => "not_found",
        }
    }
}

pub fn route<'a>(method: &Method, path: &'a str) -> Route<'a> {
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let (pin, rest) = split_pin(path);
    let post = method == Method::POST;
    let get = method == Method::GET || method == Method::HEAD;
    const POST: &str = "POST";
    const GET: &str = "GET, HEAD";
    let wrong_method = |dialect, allow| Route::MethodNotAllowed { dialect, allow };
    match (pin, rest) {
        (_, "/v1/messages") if post => Route::Messages { pin },
        (_, "/v1/messages") => wrong_method(Dialect::Anthropic, POST),
        (_, "/v1/messages/count_tokens") if post => Route::CountTokens { pin },
        (_, "/v1/messages/count_tokens") => wrong_method(Dialect::Anthropic, POST),
        (_, "/v1/chat/completions") if post => Route::ChatCompletions { pin },
        (_, "/v1/chat/completions") => wrong_method(Dialect::OpenAi, POST),
        (_, "/v1/images/generations") if post => Route::ImageGenerations { pin },
        (_, "/v1/images/generations") => wrong_method(Dialect::OpenAi, POST),
        (_, "/v1/images/edits") if post => Route::ImageEdits { pin },
        (_, "/v1/images/edits") => wrong_method(Dialect::OpenAi, POST),
        (_, "/v1/models") if get => Route::ListModels { pin },
        (_, "/v1/models") => wrong_method(Dialect::OpenAi, GET),
        (None, "/health") if get => Route::Health,
        (None, "/ready") if get => Route::Ready,
        (None, "/metrics") if get => Route::Metrics,
        (None, "/health" | "/ready" | "/metrics") => wrong_method(Dialect::OpenAi, GET),
        (None, p) if p == "/api" || p.starts_with("/api/") => Route::Admin,
        (None | Some(ChannelKind::Grok), p) if p.starts_with(FILES) => files(&p[FILES.len()..], get, path),
        (_, rest) => match rest.strip_prefix("/v1/models/") {
            Some(id) if !id.is_empty() && get => Route::GetModel { pin, id },
            Some(id) if !id.is_empty() => wrong_method(Dialect::OpenAi, GET),
            _ => Route::NotFound { dialect: guess_dialect(path) },
        },
    }
}

const FILES: &str = "/v1/files/";

/// `{type}/{name}` after `/v1/files/`.
fn files<'a>(rest: &'a str, get: bool, path: &str) -> Route<'a> {
    let Some((kind, file)) = rest.split_once('/') else {
        return Route::NotFound { dialect: guess_dialect(path) };
    };
    let Ok(kind) = name::parse_kind(kind) else { return Route::NotFound { dialect: Dialect::OpenAi } };
    if !get {
        return Route::MethodNotAllowed { dialect: Dialect::OpenAi, allow: "GET, HEAD" };
    }
    match name::check_name(kind, file) {
        Ok(file) => Route::File(file),
        Err(_) => Route::InvalidFileName,
    }
}

/// `/{channel}/v1/...` → (channel, `/v1/...`); anything else is unpinned.
fn split_pin(path: &str) -> (Option<ChannelKind>, &str) {
    let Some(after_slash) = path.strip_prefix('/') else { return (None, path) };
    let Some(cut) = after_slash.find('/') else { return (None, path) };
    let (first, rest) = after_slash.split_at(cut);
    match first.parse::<ChannelKind>() {
        Ok(kind) if first.bytes().all(|b| b.is_ascii_lowercase()) && rest.starts_with("/v1/") => {
            (Some(kind), rest)
        }
        _ => (None, path),
    }
}

/// Unknown paths answer in the shape their path suggests.
fn guess_dialect(path: &str) -> Dialect {
    if path.contains("/messages") { Dialect::Anthropic } else { Dialect::OpenAi }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_endpoints_route_with_and_without_pins() {
        assert_eq!(route(&Method::POST, "/v1/messages"), Route::Messages { pin: None });
        assert_eq!(
            route(&Method::POST, "/anthropic/v1/messages"),
            Route::Messages { pin: Some(ChannelKind::Anthropic) }
        );
        assert_eq!(
            route(&Method::POST, "/warp/v1/messages/count_tokens"),
            Route::CountTokens { pin: Some(ChannelKind::Warp) }
        );
        assert_eq!(
            route(&Method::POST, "/openai/v1/chat/completions"),
            Route::ChatCompletions { pin: Some(ChannelKind::OpenAi) }
        );
        assert_eq!(route(&Method::POST, "/v1/chat/completions/"), Route::ChatCompletions { pin: None });
        assert_eq!(
            route(&Method::POST, "/grok/v1/images/generations"),
            Route::ImageGenerations { pin: Some(ChannelKind::Grok) }
        );
        assert_eq!(route(&Method::POST, "/v1/images/edits"), Route::ImageEdits { pin: None });
        assert!(matches!(route(&Method::GET, "/v1/images/edits"), Route::MethodNotAllowed { .. }));
        assert_eq!(
            route(&Method::GET, "/grok/v1/models"),
            Route::ListModels { pin: Some(ChannelKind::Grok) }
        );
        assert_eq!(
            route(&Method::GET, "/v1/models/meta-llama/Llama-3-70b"),
            Route::GetModel { pin: None, id: "meta-llama/Llama-3-70b" }
        );
        assert_eq!(route(&Method::HEAD, "/health"), Route::Health);
        assert_eq!(route(&Method::GET, "/ready"), Route::Ready);
    }

    #[test]
    fn media_files_route_only_with_valid_names() {
        let (hex, jpg, mp4) = ("0123456789abcdef", "0123456789abcdef.jpg", "0123456789abcdef.mp4");
        let file = |kind: &str, name: &'static str| crate::media::name::check(kind, name).unwrap();
        for (method, path, expected) in [
            (Method::GET, format!("/v1/files/image/{jpg}"), Route::File(file("image", jpg))),
            (Method::HEAD, format!("/grok/v1/files/video/{mp4}"), Route::File(file("video", mp4))),
            (Method::GET, format!("/v1/files/image/{jpg}/"), Route::File(file("image", jpg))),
            (Method::GET, "/v1/files/image/../x".into(), Route::InvalidFileName),
            (Method::GET, "/v1/files/image/..".into(), Route::InvalidFileName),
            (Method::GET, format!("/v1/files/image/../{jpg}"), Route::InvalidFileName),
            (Method::GET, "/v1/files/image/%2e%2e%2fetc".into(), Route::InvalidFileName),
            (Method::GET, format!("/v1/files/image/%2e%2e%2f{jpg}"), Route::InvalidFileName),
            (Method::GET, format!("/v1/files/image/sub%2f{jpg}"), Route::InvalidFileName),
            (Method::GET, format!("/v1/files/image/sub/{jpg}"), Route::InvalidFileName),
            (Method::GET, format!("/v1/files/image/sub\\{jpg}"), Route::InvalidFileName),
            (Method::GET, "/v1/files/image/a..b.jpg".into(), Route::InvalidFileName),
            (Method::GET, format!("/v1/files/image/{}.jpg", hex.to_uppercase()), Route::InvalidFileName),
            (Method::GET, format!("/v1/files/image/{hex}"), Route::InvalidFileName),
            (Method::GET, format!("/v1/files/image/{hex}.exe"), Route::InvalidFileName),
            (Method::GET, format!("/v1/files/image/{mp4}"), Route::InvalidFileName),
            (Method::GET, "/v1/files/image//".into(), Route::InvalidFileName),
            (Method::GET, "/v1/files/image/".into(), Route::NotFound { dialect: Dialect::OpenAi }),
            (Method::GET, "/v1/files/image".into(), Route::NotFound { dialect: Dialect::OpenAi }),
            (Method::GET, format!("/v1/files/Image/{jpg}"), Route::NotFound { dialect: Dialect::OpenAi }),
            (Method::GET, format!("/v1/files/other/{jpg}"), Route::NotFound { dialect: Dialect::OpenAi }),
            (Method::GET, format!("/v1/files/%2e%2e/{jpg}"), Route::NotFound { dialect: Dialect::OpenAi }),
            (
                Method::GET,
                format!("/openai/v1/files/image/{jpg}"),
                Route::NotFound { dialect: Dialect::OpenAi },
            ),
            (Method::GET, "/v1/files".into(), Route::NotFound { dialect: Dialect::OpenAi }),
            (
                Method::POST,
                format!("/v1/files/image/{jpg}"),
                Route::MethodNotAllowed { dialect: Dialect::OpenAi, allow: "GET, HEAD" },
            ),
        ] {
            assert_eq!(route(&method, &path), expected, "{method} {path}");
        }
    }

    #[test]
    fn admin_paths_go_to_the_admin_api_whatever_the_method() {
        for (method, path) in [
            (Method::GET, "/api/accounts"),
            (Method::PATCH, "/api/accounts/7/"),
            (Method::DELETE, "/api/keys/3"),
            (Method::PUT, "/api"),
        ] {
            assert_eq!(route(&method, path), Route::Admin, "{method} {path}");
        }
        assert_eq!(route(&Method::GET, "/apis"), Route::NotFound { dialect: Dialect::OpenAi });
        assert_eq!(route(&Method::GET, "/openai/api/accounts"), Route::NotFound { dialect: Dialect::OpenAi });
    }

    #[test]
    fn wrong_methods_and_unknown_paths_answer_in_the_path_shape() {
        assert_eq!(
            route(&Method::GET, "/v1/messages"),
            Route::MethodNotAllowed { dialect: Dialect::Anthropic, allow: "POST" }
        );
        assert_eq!(
            route(&Method::DELETE, "/v1/models/x"),
            Route::MethodNotAllowed { dialect: Dialect::OpenAi, allow: "GET, HEAD" }
        );
        assert_eq!(
            route(&Method::POST, "/v1/messages/batches"),
            Route::NotFound { dialect: Dialect::Anthropic }
        );
        assert_eq!(route(&Method::POST, "/v1/completions"), Route::NotFound { dialect: Dialect::OpenAi });
        assert_eq!(
            route(&Method::POST, "/nochannel/v1/messages"),
            Route::NotFound { dialect: Dialect::Anthropic }
        );
        assert_eq!(route(&Method::GET, "/openai/health"), Route::NotFound { dialect: Dialect::OpenAi });
        assert_eq!(
            route(&Method::POST, "/OpenAI/v1/chat/completions"),
            Route::NotFound { dialect: Dialect::OpenAi }
        );
        assert_eq!(route(&Method::GET, "/"), Route::NotFound { dialect: Dialect::OpenAi });
        assert_eq!(route(&Method::GET, ""), Route::NotFound { dialect: Dialect::OpenAi });
        assert_eq!(route(&Method::GET, "/v1/models/"), Route::ListModels { pin: None });
    }
}
