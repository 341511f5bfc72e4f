//! Reads the original Go project's flat `config.json` into a [`Config`], so an operator can
//! point the gateway at the file they already have.
//!
//! | config.json | here |
//! |---|---|
//! | `port` (string or number) | `listen = "0.0.0.0:<port>"` (the original listened on every interface) |
//! | `admin_user` / `admin_pass` / `admin_token` | `admin_user` / `admin_password` / `admin_token` |
//! | `redis_addr`, `redis_password`, `redis_db` | `redis_url = "redis://[:password@]addr/db"`, and `store = "redis"` when `redis_addr` is set |
//! | `redis_prefix` | `redis_prefix` (with `:` appended if missing, as the original did) |
//! | `max_retries` | `max_retries` |
//! | `retry_delay` (ms) | `retry_delay_ms` |
//! | `request_timeout` (s) | `request_timeout_s` |
//! | `concurrency_limit` | `concurrency_limit` |
//! | `grok_api_base_url` | `grok_base_url` |
//! | `proxy_http`, `proxy_user`, `proxy_pass` | `proxy_url = "http://[user:pass@]host:port"` |
//! | `debug_enabled: true` | `log_level = "debug"` |
//!
//! Every other key the original knew ([`IGNORED`]) is dropped with a warning. A key the original
//! did not know either is an error, as in the TOML file. Zero values (`0`, `false`, `""`, `[]`,
//! `null`) mean "unset", because the original replaced them with its defaults: they leave ours in
//! force and draw no warning.

use super::{Config, ConfigError, StoreKind};
use crate::secret::Secret;
use serde_json::{Map, Value};
use std::net::{Ipv4Addr, SocketAddr};

/// Keys of the original's config.json (internal/config/config.go@0804de1 and its shipped
/// config.json) that have no equivalent here.
pub(super) const IGNORED: &[&str] = &[
    "store_mode",
    "debug_log_sse",
    "admin_path",
    "session_id",
    "client_cookie",
    "session_cookie",
    "client_uat",
    "project_id",
    "user_id",
    "agent_mode",
    "email",
    "suppress_thinking",
    "output_token_mode",
    "output_token_count",
    "context_max_tokens",
    "context_summary_max_tokens",
    "context_keep_turns",
    "upstream_url",
    "upstream_token",
    "upstream_mode",
    "orchids_api_base_url",
    "orchids_ws_url",
    "orchids_api_version",
    "orchids_allow_run_command",
    "orchids_run_allowlist",
    "orchids_cc_entrypoint_mode",
    "orchids_fs_ignore",
    "orchids_max_tool_results",
    "orchids_max_history_messages",
    "warp_disable_tools",
    "warp_max_tool_results",
    "warp_max_history_messages",
    "warp_split_tool_results",
    "grok_user_agent",
    "grok_cf_clearance",
    "grok_cf_bm",
    "grok_base_proxy_url",
    "grok_asset_proxy_url",
    "grok_use_utls",
    "account_switch_count",
    "retry_429_interval",
    "token_refresh_interval",
    "auto_refresh_token",
    "cache_token_count",
    "cache_ttl",
    "cache_strategy",
    "load_balancer_cache_ttl",
    "concurrency_timeout",
    "adaptive_timeout",
    "proxy_https",
    "proxy_bypass",
    "auto_reg_enabled",
    "auto_reg_threshold",
    "auto_reg_script",
    // Dead keys of the shipped config.json, which the original's decoder skipped.
    "tool_call_mode",
    "disable_tool_filter",
    "warp_tool_call_mode",
    "orchids_impl",
    "summary_cache_mode",
    "summary_cache_size",
    "summary_cache_ttl_seconds",
    "summary_cache_log",
    "summary_cache_redis_addr",
    "summary_cache_redis_password",
    "summary_cache_redis_db",
    "summary_cache_redis_prefix",
];

/// The admin password the original shipped in its sample config.json.
const PUBLISHED_PASSWORD: &str = "admin123";

/// Parses config.json text. `origin` (the path) prefixes errors; `name` (the file name) prefixes
/// warnings.
pub(super) fn parse(
    text: &str,
    origin: &str,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<Config, ConfigError> {
    let object: Map<String, Value> = serde_json::from_str(text).map_err(|err| ConfigError::Parse {
        origin: origin.to_string(),
        line: None,
        column: None,
        message: format!("expected the original project's flat config.json object: {err}"),
    })?;
    let file = File { origin };
    let mut config = Config::default();
    let (mut redis_addr, mut redis_password, mut redis_db) = (None, None, None);
    let (mut proxy_http, mut proxy_user, mut proxy_pass) = (None, None, None);
    for (key, value) in &object {
        let key = key.as_str();
        match key {
            "port" => {
                if let Some(port) = file.port(key, value)? {
                    config.listen = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
                }
            }
            "admin_user" => set(&mut config.admin_user, file.string(key, value)?),
            "admin_pass" => {
                let password = file.secret(key, value)?;
                if password.as_ref().is_some_and(|p| p.expose() == PUBLISHED_PASSWORD) {
                    warnings.push(format!(
                        "{name} key `admin_pass` is the original project's published default password; choose another"
                    ));
                }
                set(&mut config.admin_password, password.map(Some));
            }
            "admin_token" => set(&mut config.admin_token, file.secret(key, value)?.map(Some)),
            "redis_addr" => redis_addr = file.string(key, value)?,
            "redis_password" => redis_password = file.secret(key, value)?,
            "redis_db" => redis_db = file.number::<u32>(key, value)?,
            "redis_prefix" => {
                let prefix = file.string(key, value)?;
                set(&mut config.redis_prefix, prefix.map(|p| if p.ends_with(':') { p } else { p + ":" }));
            }
            "max_retries" => set(&mut config.max_retries, file.number(key, value)?),
            "retry_delay" => set(&mut config.retry_delay_ms, file.number(key, value)?),
            "request_timeout" => set(&mut config.request_timeout_s, file.number(key, value)?),
            "concurrency_limit" => set(&mut config.concurrency_limit, file.number(key, value)?),
            "grok_api_base_url" => set(&mut config.grok_base_url, file.string(key, value)?),
            "proxy_http" => proxy_http = file.secret(key, value)?,
            "proxy_user" => proxy_user = file.secret(key, value)?,
            "proxy_pass" => proxy_pass = file.secret(key, value)?,
            "debug_enabled" => {
                if file.flag(key, value)? {
                    config.log_level = "debug".to_string();
                }
            }
            _ if IGNORED.contains(&key) => {
                if !is_unset(value) {
                    warnings.push(format!("{name} key `{key}` has no equivalent and is ignored"));
                }
            }
            _ => {
                let hint = if super::env::KEYS.iter().any(|(k, _)| *k == key) {
                    " (it is a key of orchids2api.toml: move it to a TOML file or an O2A_ variable)"
                } else {
                    ""
                };
                return Err(file.error(format!(
                    "unknown key `{key}`: not a key of the original project's config.json{hint}"
                )));
            }
        }
    }

    match redis_addr {
        Some(addr) => {
            let auth = redis_password.map_or(String::new(), |p| format!(":{}@", percent_encode(p.expose())));
            let db = redis_db.unwrap_or(0);
            config.redis_url = Secret::new(format!("redis://{auth}{addr}/{db}"));
            // The original had no other store: a Redis address means the data lives there.
            config.store = StoreKind::Redis;
        }
        None => {
            for (key, present) in
                [("redis_password", redis_password.is_some()), ("redis_db", redis_db.is_some())]
            {
                if present {
                    warnings.push(format!("{name} key `{key}` is ignored because `redis_addr` is empty"));
                }
            }
        }
    }

    match proxy_http {
        Some(base) => config.proxy_url = Some(proxy_url(&base, proxy_user, proxy_pass, name, warnings)),
        None => {
            for (key, present) in [("proxy_user", proxy_user.is_some()), ("proxy_pass", proxy_pass.is_some())]
            {
                if present {
                    warnings.push(format!("{name} key `{key}` is ignored because `proxy_http` is empty"));
                }
            }
        }
    }
    Ok(config)
}

/// Builds `proxy_url` from `proxy_http` and the separate credentials. A scheme-less address
/// gets `http://`; credentials already in the URL win over `proxy_user`/`proxy_pass`, as they did
/// for the original's grok client.
fn proxy_url(
    base: &Secret,
    user: Option<Secret>,
    pass: Option<Secret>,
    name: &str,
    warnings: &mut Vec<String>,
) -> Secret {
    let (scheme, rest) = base.expose().split_once("://").unwrap_or(("http", base.expose()));
    let authority = rest.split('/').next().unwrap_or_default();
    let userinfo = match (user, pass) {
        _ if authority.contains('@') => {
            warnings.push(format!(
                "{name} keys `proxy_user`/`proxy_pass` are ignored when `proxy_http` carries credentials"
            ));
            String::new()
        }
        (Some(user), Some(pass)) => {
            format!("{}:{}@", percent_encode(user.expose()), percent_encode(pass.expose()))
        }
        (Some(user), None) => format!("{}@", percent_encode(user.expose())),
        (None, Some(_)) => {
            warnings.push(format!("{name} key `proxy_pass` is ignored because `proxy_user` is empty"));
            String::new()
        }
        (None, None) => String::new(),
    };
    Secret::new(format!("{scheme}://{userinfo}{rest}"))
}

/// Overwrites `slot` when the file set a value.
fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// Whether a value is one the original replaced with its default.
fn is_unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for a URL's userinfo.
fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The file being read, for typed access to its values with errors that name it. Each accessor
/// returns `None` for an unset value.
struct File<'a> {
    origin: &'a str,
}

impl File<'_> {
    fn error(&self, message: String) -> ConfigError {
        ConfigError::Parse { origin: self.origin.to_string(), line: None, column: None, message }
    }

    fn string(&self, key: &str, value: &Value) -> Result<Option<String>, ConfigError> {
        match value {
            _ if is_unset(value) => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(self.error(format!("key `{key}`: expected a string, got {other}"))),
        }
    }

    /// Like [`File::string`], but the error withholds the value.
    fn secret(&self, key: &str, value: &Value) -> Result<Option<Secret>, ConfigError> {
        match value {
            _ if is_unset(value) => Ok(None),
            Value::String(s) => Ok(Some(Secret::new(s.as_str()))),
            _ => Err(self
                .error(format!("key `{key}`: expected a string (the value is not shown: it is a secret)"))),
        }
    }

    fn number<T: TryFrom<u64>>(&self, key: &str, value: &Value) -> Result<Option<T>, ConfigError> {
        if is_unset(value) {
            return Ok(None);
        }
        let number = value.as_u64().and_then(|n| T::try_from(n).ok());
        number
            .map(Some)
            .ok_or_else(|| self.error(format!("key `{key}`: expected a whole number, got {value}")))
    }

    fn flag(&self, key: &str, value: &Value) -> Result<bool, ConfigError> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::Null => Ok(false),
            other => Err(self.error(format!("key `{key}`: expected true or false, got {other}"))),
        }
    }

    /// The original's `port` was a string; a number is accepted too.
    fn port(&self, key: &str, value: &Value) -> Result<Option<u16>, ConfigError> {
        let port = match value {
            _ if is_unset(value) => return Ok(None),
            Value::String(s) => s.trim().parse().ok(),
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            _ => None,
        };
        match port {
            Some(0) | None => {
                Err(self.error(format!("key `{key}`: expected a port number (1-65535), got {value}")))
            }
            Some(port) => Ok(Some(port)),
        }
    }
}
