//! Builds the gateway's typed [`Config`] from defaults, a config file, `O2A_*` environment
//! variables and command-line flags.
//!
//! A *layer* is one of those four sources; a later layer overrides an earlier one key by key:
//! defaults < file < environment < flags. The file is TOML (`orchids2api.toml`), or the original
//! Go project's flat `config.json` when its name ends in `.json` (see `legacy.rs`). After the
//! merge, [`Config::validate`] checks the rules that span keys (TLS pair, unique seed names, ...).
//!
//! Unknown keys are errors in every layer, so a typo fails start-up instead of silently leaving a
//! default in force. Every error names the key and the layer it came from, and none shows a secret
//! value: credentials, keys, passwords and URLs that may hold a password are [`Secret`]s, and their
//! parse errors withhold the offending value.
//!
//! The key reference, with every default and environment variable, is `docs/configuration.md`.

mod env;
mod legacy;
#[cfg(test)]
mod tests;

use crate::channels::ChannelKind;
pub use crate::channels::grok::ToolCards;
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The file read when neither `--config` nor `O2A_CONFIG` names one, if it exists.
pub const DEFAULT_FILE: &str = "orchids2api.toml";

/// The shortest `secret_key` accepted. The store derives its key with one hash, not a password
/// hash, so the key must carry its own entropy.
pub const SECRET_KEY_MIN_LEN: usize = 32;

/// The whole configuration, after every layer has been merged and validated.
///
/// Field names are the key names of the TOML file; each doc line states the default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    // --- Server ---
    /// Address the listener binds. Default `127.0.0.1:3002`.
    pub listen: SocketAddr,
    /// Directory of the embedded store and the media cache. Default `./data`.
    pub data_dir: PathBuf,
    /// PEM certificate chain; with `tls_key`, the listener speaks TLS (ALPN h2, http/1.1). Default none.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key matching `tls_cert`. Default none.
    pub tls_key: Option<PathBuf>,
    /// Largest request body accepted; bigger bodies get 413. Default 32 MiB.
    pub max_body_bytes: u64,
    /// Time a client has to send the request head. Default 10 s.
    pub header_read_timeout_s: u64,
    /// Time in-flight requests get to finish after SIGTERM/SIGINT. Default 30 s.
    pub drain_timeout_s: u64,
    /// Interval of keep-alive pings to a streaming client while the upstream is silent. Default 15 s.
    pub ping_interval_s: u64,
    /// Model requests served at once; 0 = unlimited (default). A request beyond it waits up to
    /// `concurrency_queue_ms` for a slot, then gets 529 (Anthropic routes) or 503 (OpenAI routes).
    pub concurrency_limit: usize,
    /// How long a request waits for a slot under `concurrency_limit`. Default 1000 ms.
    pub concurrency_queue_ms: u64,

    // --- Auth ---
    /// Whether model endpoints require a client API key. Default [`AuthMode::ApiKey`].
    pub auth: AuthMode,
    /// Static Bearer token for the admin API. Default none.
    #[serde(deserialize_with = "secret_field::optional")]
    pub admin_token: Option<Secret>,
    /// User name of the admin console login. Default `admin`.
    pub admin_user: String,
    /// Password of the admin console login; never defaulted. Default none.
    #[serde(deserialize_with = "secret_field::optional")]
    pub admin_password: Option<Secret>,

    // --- Upstream ---
    /// Deadline of one upstream exchange, first byte to last. Default 600 s.
    pub request_timeout_s: u64,
    /// Deadline of the TCP + TLS connect to an upstream. Default 10 s.
    pub connect_timeout_s: u64,
    /// Longest silence allowed between two upstream frames. Default 300 s.
    pub stream_idle_timeout_s: u64,
    /// HTTP proxy for upstream calls (CONNECT), `http://[user:pass@]host:port`. Default none.
    /// A secret because it may carry a password.
    #[serde(deserialize_with = "secret_field::optional")]
    pub proxy_url: Option<Secret>,
    /// Further accounts tried for one request after the first fails. Default 3.
    pub max_retries: u32,
    /// Base of the exponential backoff (with jitter) between tries. Default 250 ms.
    pub retry_delay_ms: u64,
    /// How long a conversation (session id) sticks to the account that served it. Default 3600 s.
    pub session_ttl_s: u64,
    /// A byte-identical request from the same client key that arrives within this long of an
    /// identical one still in flight shares its upstream call and answer. 0 = off. Default 2000 ms.
    pub dedup_window_ms: u64,

    // --- Store ---
    /// Backend of accounts, keys, models and settings. Default [`StoreKind::Embedded`].
    pub store: StoreKind,
    /// Redis connection URL, used when `store = "redis"`. Default `redis://127.0.0.1:6379/0`.
    /// A secret because it may carry a password.
    #[serde(deserialize_with = "secret_field::required")]
    pub redis_url: Secret,
    /// Prefix of every Redis key. Default `o2a:`.
    pub redis_prefix: String,
    /// Encrypts account credentials and channel state in the store; a random string of at least
    /// [`SECRET_KEY_MIN_LEN`] characters. Default none: they are stored as plain text.
    #[serde(deserialize_with = "secret_field::optional")]
    pub secret_key: Option<Secret>,

    // --- Logging ---
    /// A `tracing` EnvFilter directive such as `info` or `info,orchids2api::relay=debug`. Default `info`.
    pub log_level: String,
    /// Log line format. Default [`LogFormat::Text`].
    pub log_format: LogFormat,

    // --- Channels ---
    /// `anthropic-version` sent to the Anthropic API when the client sent none. Default `2023-06-01`.
    pub anthropic_version: String,
    /// Base URL of grok.com's web API. Default `https://grok.com`.
    pub grok_base_url: String,
    /// Base URL of grok's generated assets (images). Default `https://assets.grok.com`.
    pub grok_assets_url: String,
    /// What grok's tool usage cards (its own web searches) become in answers: one line each
    /// (`[WebSearch] query`) or nothing. Default [`ToolCards::Lines`].
    pub grok_tool_cards: ToolCards,
    /// How often each grok account's quota is read; 0 = only after use. Default 600 s.
    pub grok_quota_interval_s: u64,
    /// Largest image accepted in an image edit upload. Default 20 MiB.
    pub max_image_bytes: u64,
    /// Base URL of Warp's API (`/ai/multi-agent`, `/client/login`, GraphQL); an account's own
    /// `base_url` wins. Default `https://app.warp.dev`.
    pub warp_base_url: String,
    /// The Firebase token endpoint Warp refresh tokens are exchanged at. Default
    /// `https://securetoken.googleapis.com/v1/token`.
    pub warp_auth_url: String,
    /// How often each Warp account's limits and model choices are read; 0 = only by the admin
    /// check. Default 1800 s.
    pub warp_quota_interval_s: u64,

    // --- Media ---
    /// Base URL clients reach the gateway at (`https://gw.example.com`), used to build absolute
    /// links to cached media (`{public_base_url}/v1/files/image/<name>`). Default none: links
    /// are paths (`/v1/files/image/<name>`).
    pub public_base_url: Option<String>,
    /// Size cap of the media cache under `data_dir/media`; the least recently used files are
    /// removed beyond it. 0 = unlimited. Default 1 GiB.
    pub media_cache_max_bytes: u64,
    /// Lets the media fetcher reach loopback and private addresses given by clients. For tests
    /// and labs only. Default false.
    pub media_fetch_allow_private: bool,

    // --- Seeds ---
    /// Client API keys loaded at start-up.
    pub api_keys: Vec<ApiKeySeed>,
    /// Upstream accounts loaded at start-up.
    pub accounts: Vec<AccountSeed>,
    /// Models served, loaded at start-up.
    pub models: Vec<ModelSeed>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 3002)),
            data_dir: PathBuf::from("./data"),
            tls_cert: None,
            tls_key: None,
            max_body_bytes: 32 * 1024 * 1024,
            header_read_timeout_s: 10,
            drain_timeout_s: 30,
            ping_interval_s: 15,
            concurrency_limit: 0,
            concurrency_queue_ms: 1000,
            auth: AuthMode::ApiKey,
            admin_token: None,
            admin_user: "admin".to_string(),
            admin_password: None,
            request_timeout_s: 600,
            connect_timeout_s: 10,
            stream_idle_timeout_s: 300,
            proxy_url: None,
            max_retries: 3,
            session_ttl_s: 3600,
            dedup_window_ms: 2000,
            retry_delay_ms: 250,
            store: StoreKind::Embedded,
            redis_url: Secret::new("redis://127.0.0.1:6379/0"),
            redis_prefix: "o2a:".to_string(),
            secret_key: None,
            log_level: "info".to_string(),
            log_format: LogFormat::Text,
            anthropic_version: "2023-06-01".to_string(),
            grok_base_url: "https://grok.com".to_string(),
            grok_assets_url: "https://assets.grok.com".to_string(),
            grok_tool_cards: ToolCards::Lines,
            grok_quota_interval_s: 600,
            max_image_bytes: 20 * 1024 * 1024,
            warp_base_url: "https://app.warp.dev".to_string(),
            warp_auth_url: "https://securetoken.googleapis.com/v1/token".to_string(),
            warp_quota_interval_s: 1800,
            public_base_url: None,
            media_cache_max_bytes: 1024 * 1024 * 1024,
            media_fetch_allow_private: false,
            api_keys: Vec::new(),
            accounts: Vec::new(),
            models: Vec::new(),
        }
    }
}

/// Whether model endpoints check the client's API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Every model request needs a key from `api_keys` (or the store): `auth = "api_key"`.
    ApiKey,
    /// No client key is checked: `auth = "none"`. Explicit opt-out; the server logs a warning.
    None,
}

/// Where accounts, keys, models and settings are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// One file under `data_dir`, single node: `store = "embedded"`.
    Embedded,
    /// Shared by every instance through `redis_url`: `store = "redis"`.
    Redis,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A client API key from the `[[api_keys]]` seed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySeed {
    /// Unique name shown in the admin API and in logs.
    pub name: String,
    /// The key clients send (`Authorization: Bearer` or `x-api-key`).
    #[serde(deserialize_with = "secret_field::required")]
    pub key: Secret,
    /// Model ids this key may use; empty (the default) allows every model.
    #[serde(default)]
    pub models: Vec<String>,
}

/// An upstream account from the `[[accounts]]` seed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSeed {
    /// The channel the account belongs to.
    pub channel: ChannelKind,
    /// Name, unique within its channel.
    pub name: String,
    /// API base URL; see [`AccountSeed::base_url_or_default`]. Default none.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The upstream credential (API key, cookie, refresh token: whatever the channel takes).
    #[serde(deserialize_with = "secret_field::required")]
    pub credential: Secret,
    /// Share of traffic relative to the other accounts of its tier; at least 1. Default 1.
    #[serde(default = "one")]
    pub weight: u32,
    /// Tier; lower tiers are tried first. Default 0.
    #[serde(default)]
    pub priority: u32,
    /// Whether the account serves requests. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Requests the account serves at once; 0 = unlimited (default).
    #[serde(default)]
    pub max_concurrency: u32,
}

impl AccountSeed {
    /// The configured `base_url`, or the channel's default when it has one
    /// ([`default_base_url`]); `None` when neither exists.
    pub fn base_url_or_default(&self) -> Option<&str> {
        self.base_url.as_deref().or(default_base_url(self.channel))
    }
}

/// The base URL an account of `channel` uses when its seed names none: the official API for
/// openai and anthropic; the web channels have no per-account base URL.
pub fn default_base_url(channel: ChannelKind) -> Option<&'static str> {
    match channel {
        ChannelKind::OpenAi => Some("https://api.openai.com/v1"),
        ChannelKind::Anthropic => Some("https://api.anthropic.com"),
        ChannelKind::Grok | ChannelKind::Warp | ChannelKind::Orchids => None,
    }
}

/// A model from the `[[models]]` seed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSeed {
    /// The id clients ask for; unique within its channel.
    pub id: String,
    /// The channel that serves it.
    pub channel: ChannelKind,
    /// The id sent upstream; see [`ModelSeed::upstream_id`]. Default none.
    #[serde(default)]
    pub upstream: Option<String>,
    /// Name shown in model lists. Default none.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Whether the model is listed and served. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl ModelSeed {
    /// The model id sent to the upstream: `upstream` when set, else `id`.
    pub fn upstream_id(&self) -> &str {
        self.upstream.as_deref().unwrap_or(&self.id)
    }
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// Values given on the command line; each wins over every other layer.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--config PATH`: the file to read (TOML, or the original's config.json by extension).
    pub config_path: Option<PathBuf>,
    /// `--listen ADDR`.
    pub listen: Option<String>,
    /// `--data-dir PATH`.
    pub data_dir: Option<PathBuf>,
}

/// The result of [`Config::load`].
#[derive(Debug)]
pub struct Loaded {
    /// The merged, validated configuration.
    pub config: Config,
    /// The file that was read, if any.
    pub source: Option<PathBuf>,
    /// Things start-up should log at `warn` (for instance, config.json keys that were ignored).
    pub warnings: Vec<String>,
}

/// Why the configuration could not be built. The wording is for people, not part of the API;
/// no variant ever shows a secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Occurs when the config file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Occurs when the config file is not valid TOML or JSON, names an unknown key, or holds a
    /// value of the wrong type. `origin` is the file's path (or `TOML text`).
    #[error("{origin}{}: {message}", position_suffix(*line, *column))]
    Parse { origin: String, line: Option<usize>, column: Option<usize>, message: String },
    /// Occurs when an `O2A_*` variable is not a known key, or its value does not parse.
    #[error("{var}: {message}")]
    Env { var: String, message: String },
    /// Occurs when a command-line flag's value does not parse.
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    /// Occurs when the merged configuration breaks a rule (see [`Config::validate`]).
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

fn position_suffix(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" line {l}, column {c}"),
        (Some(l), None) => format!(" line {l}"),
        _ => String::new(),
    }
}

impl Config {
    /// Builds the configuration: defaults < file < environment (`O2A_*`) < flags, then validates.
    ///
    /// The file is `overrides.config_path`, else `O2A_CONFIG`, else [`DEFAULT_FILE`] if it
    /// exists, else none. `env` is the process environment (or a test's); variables without the
    /// `O2A_` prefix are ignored.
    pub fn load(
        overrides: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let vars = env::collect(env);
        let source = match (&overrides.config_path, vars.config_path()) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(path)) => Some(path),
            (None, None) => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        let mut warnings = Vec::new();
        let mut config = match &source {
            Some(path) => Config::read_file(path, &mut warnings)?,
            None => Config::default(),
        };
        vars.apply(&mut config)?;
        if let Some(listen) = &overrides.listen {
            config.listen =
                parse_listen(listen).map_err(|message| ConfigError::Flag { flag: "--listen", message })?;
        }
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = dir.clone();
        }
        config.validate()?;
        Ok(Loaded { config, source, warnings })
    }

    /// Parses TOML text (no environment, no flags) and validates the result.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config = parse_toml(text, "TOML text")?;
        config.validate()?;
        Ok(config)
    }

    fn read_file(path: &Path, warnings: &mut Vec<String>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let origin = path.display().to_string();
        if path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("json")) {
            let name = path.file_name().map_or(origin.clone(), |n| n.to_string_lossy().into_owned());
            legacy::parse(&text, &origin, &name, warnings)
        } else {
            parse_toml(&text, &origin)
        }
    }

    /// Checks the rules no single key's type can express. Every timeout is positive, TLS is
    /// configured whole or not at all, seed names and ids are unique, URLs have the right scheme.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return invalid("tls_cert and tls_key must be set together (or neither)".into());
        }
        if self.max_body_bytes == 0 {
            return invalid("max_body_bytes must be greater than 0".into());
        }
        for (key, value) in [
            ("header_read_timeout_s", self.header_read_timeout_s),
            ("drain_timeout_s", self.drain_timeout_s),
            ("ping_interval_s", self.ping_interval_s),
            ("request_timeout_s", self.request_timeout_s),
            ("connect_timeout_s", self.connect_timeout_s),
            ("stream_idle_timeout_s", self.stream_idle_timeout_s),
            ("session_ttl_s", self.session_ttl_s),
        ] {
            if value == 0 {
                return invalid(format!("{key} must be at least 1 second"));
            }
        }
        for (key, secret) in [
            ("admin_token", &self.admin_token),
            ("admin_password", &self.admin_password),
            ("secret_key", &self.secret_key),
        ] {
            if secret.as_ref().is_some_and(Secret::is_empty) {
                return invalid(format!("{key} is empty; leave it out to have none"));
            }
        }
        if self.secret_key.as_ref().is_some_and(|k| k.expose().chars().count() < SECRET_KEY_MIN_LEN) {
            return invalid(format!(
                "secret_key must be at least {SECRET_KEY_MIN_LEN} characters of random text \
                 (for instance the output of `openssl rand -base64 32`)"
            ));
        }
        if self.admin_user.is_empty() {
            return invalid("admin_user must not be empty".into());
        }
        if let Some(proxy) = &self.proxy_url {
            // The value is never echoed: it may carry a password.
            let rest = proxy.expose().strip_prefix("http://").unwrap_or_default();
            let host = rest.rsplit('@').next().unwrap_or_default();
            if host.is_empty() || host.starts_with('/') {
                return invalid("proxy_url must look like http://[user:pass@]host:port".into());
            }
        }
        let redis = self.redis_url.expose();
        if !["redis://", "rediss://", "redis+unix://", "unix://"].iter().any(|s| redis.starts_with(s)) {
            return invalid("redis_url must start with redis://, rediss://, redis+unix:// or unix://".into());
        }
        if self.log_level.trim().is_empty() {
            return invalid("log_level must not be empty".into());
        }
        if let Err(err) = tracing_subscriber::EnvFilter::builder().parse(&self.log_level) {
            return invalid(format!(
                "log_level {:?} is not a tracing filter directive: {err}",
                self.log_level
            ));
        }
        if self.anthropic_version.is_empty() {
            return invalid("anthropic_version must not be empty".into());
        }
        for (key, url) in [
            ("grok_base_url", &self.grok_base_url),
            ("grok_assets_url", &self.grok_assets_url),
            ("warp_base_url", &self.warp_base_url),
            ("warp_auth_url", &self.warp_auth_url),
        ] {
            if !is_http_url(url) {
                return invalid(format!("{key} must be an http:// or https:// URL, got {url:?}"));
            }
        }
        if let Some(url) = &self.public_base_url
            && !is_public_base_url(url)
        {
            return invalid(format!(
                "public_base_url must be an http:// or https:// URL without query or fragment, got {url:?}"
            ));
        }
        self.validate_seeds()
    }

    fn validate_seeds(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        let mut names = HashSet::new();
        let mut keys = HashSet::new();
        for (i, seed) in self.api_keys.iter().enumerate() {
            if seed.name.is_empty() {
                return invalid(format!("api_keys[{i}]: name must not be empty"));
            }
            if !names.insert(seed.name.as_str()) {
                return invalid(format!("api_keys: the name `{}` is used twice", seed.name));
            }
            if seed.key.is_empty() {
                return invalid(format!("api_keys `{}`: key must not be empty", seed.name));
            }
            if !keys.insert(seed.key.expose()) {
                return invalid(format!("api_keys `{}`: same key as an earlier entry", seed.name));
            }
        }
        let mut accounts = HashSet::new();
        for (i, seed) in self.accounts.iter().enumerate() {
            if seed.name.is_empty() {
                return invalid(format!("accounts[{i}]: name must not be empty"));
            }
            let label = format!("accounts `{}` ({})", seed.name, seed.channel);
            if !accounts.insert((seed.channel, seed.name.as_str())) {
                return invalid(format!("{label}: name used twice in channel {}", seed.channel));
            }
            if seed.credential.is_empty() {
                return invalid(format!("{label}: credential must not be empty"));
            }
            if seed.weight == 0 {
                return invalid(format!("{label}: weight must be at least 1"));
            }
            // Not echoed: a base URL may carry credentials (`https://user:key@host`).
            if seed.base_url.as_deref().is_some_and(|u| !is_http_url(u)) {
                return invalid(format!("{label}: base_url must be an http:// or https:// URL"));
            }
        }
        let mut ids = HashSet::new();
        for (i, seed) in self.models.iter().enumerate() {
            if seed.id.is_empty() {
                return invalid(format!("models[{i}]: id must not be empty"));
            }
            // One public id may be served by several channels (a Claude model on the anthropic
            // channel and on warp); within one channel it names one model.
            if !ids.insert((seed.channel, seed.id.as_str())) {
                return invalid(format!(
                    "models: the id `{}` is used twice in channel {}",
                    seed.id, seed.channel
                ));
            }
            if seed.upstream.as_deref().is_some_and(str::is_empty) {
                return invalid(format!("models `{}`: upstream must not be empty when set", seed.id));
            }
        }
        Ok(())
    }
}

/// Is `url` an `http://` or `https://` URL with a host? (Account `base_url`s, from the config or
/// the admin API.)
pub(crate) fn is_http_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
}

/// Is `url` usable as `public_base_url`: `http(s)://host[:port][/path]`, no query, fragment,
/// user info or whitespace? (A trailing slash is allowed; it is dropped when links are built.)
fn is_public_base_url(url: &str) -> bool {
    let authority = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .map(|rest| rest.split('/').next().unwrap_or_default());
    is_http_url(url)
        && authority.is_some_and(|a| !a.is_empty() && !a.contains('@'))
        && !url.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'?' || b == b'#')
}

/// Parses `listen` from the environment or `--listen`.
fn parse_listen(raw: &str) -> Result<SocketAddr, String> {
    raw.trim().parse().map_err(|_| format!("expected a socket address such as 127.0.0.1:3002, got {raw:?}"))
}

/// Deserializes TOML into a `Config` (not yet validated). The error carries the position and the
/// key of that line, but never the line itself, which could hold a secret.
fn parse_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|err| {
        let mut message = err.message().to_string();
        let Some(span) = err.span() else {
            return ConfigError::Parse { origin: origin.to_string(), line: None, column: None, message };
        };
        let before = text.get(..span.start).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before[line_start..].chars().count() + 1;
        let line_text = text[line_start..].lines().next().unwrap_or_default();
        // serde's messages about a value ("invalid socket address syntax") do not say whose it is.
        if let Some(key) = key_of_line(line_text).filter(|k| !message.contains(&format!("`{k}`"))) {
            message = format!("key `{key}`: {message}");
        }
        ConfigError::Parse { origin: origin.to_string(), line: Some(line), column: Some(column), message }
    })
}

/// The key a TOML line assigns (`key = ...`) or the table it opens (`[[accounts]]`), if the
/// text before `=` or inside the brackets looks like a key.
fn key_of_line(line: &str) -> Option<&str> {
    let line = line.trim();
    let key = match line.strip_prefix('[') {
        Some(header) => header.trim_start_matches('[').split(']').next()?,
        None => line.split_once('=')?.0,
    }
    .trim();
    let is_key = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    (!key.is_empty() && key.chars().all(is_key)).then_some(key)
}

/// Deserializers for [`Secret`] fields whose errors never include the value. `Secret`'s own
/// `Deserialize` goes through `String`, and serde's "invalid type: integer `12345`" would print
/// a numeric password.
mod secret_field {
    use crate::secret::Secret;
    use serde::Deserializer;
    use serde::de::{Error, Visitor};
    use std::fmt;

    struct SecretVisitor;

    const WITHHELD: &str = "expected a string (the value is not shown: it is a secret)";

    impl Visitor<'_> for SecretVisitor {
        type Value = Secret;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<Secret, E> {
            Ok(Secret::new(v))
        }

        fn visit_string<E: Error>(self, v: String) -> Result<Secret, E> {
            Ok(Secret::new(v))
        }

        fn visit_bool<E: Error>(self, _: bool) -> Result<Secret, E> {
            Err(E::custom(WITHHELD))
        }

        fn visit_i64<E: Error>(self, _: i64) -> Result<Secret, E> {
            Err(E::custom(WITHHELD))
        }

        fn visit_u64<E: Error>(self, _: u64) -> Result<Secret, E> {
            Err(E::custom(WITHHELD))
        }

        fn visit_f64<E: Error>(self, _: f64) -> Result<Secret, E> {
            Err(E::custom(WITHHELD))
        }

        fn visit_bytes<E: Error>(self, _: &[u8]) -> Result<Secret, E> {
            Err(E::custom(WITHHELD))
        }
    }

    // `deserialize_any`, not `deserialize_string`: serde_json answers the latter's type mismatch
    // itself, with the value in the message, before the visitor sees it.
    pub(super) fn required<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        d.deserialize_any(SecretVisitor)
    }

    pub(super) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
        d.deserialize_any(SecretVisitor).map(Some)
    }
}
