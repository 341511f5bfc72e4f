//! Applies `O2A_*` environment variables over a [`Config`], one variable per top-level key.
//!
//! The variable of key `request_timeout_s` is `O2A_REQUEST_TIMEOUT_S`. Scalars parse to the
//! key's type; the seed lists (`O2A_API_KEYS`, `O2A_ACCOUNTS`, `O2A_MODELS`) hold a JSON array of
//! the same tables the TOML file takes, and replace the file's list. An empty value unsets an
//! optional key (`O2A_TLS_CERT=`) and is an error for any other. `O2A_CONFIG` names the config
//! file rather than a key. Any other `O2A_*` variable is an error: it is most likely a typo.

use super::{AuthMode, Config, ConfigError, LogFormat, StoreKind, ToolCards, parse_listen};
use crate::secret::Secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde::de::value::{Error as ValueError, StrDeserializer};
use std::path::PathBuf;
use std::str::FromStr;

/// The prefix of every variable this module reads.
const PREFIX: &str = "O2A_";

/// Names the config file: below `--config`, above `./orchids2api.toml`.
pub(super) const CONFIG_VAR: &str = "O2A_CONFIG";

/// Sets one key from a variable's raw value; the error says what was expected, not which variable.
type Setter = fn(&mut Config, &str) -> Result<(), String>;

/// Every top-level key and how its variable is parsed. The variable is `O2A_` + the key in
/// upper case.
pub(super) const KEYS: &[(&str, Setter)] = &[
    ("listen", |c, v| set(&mut c.listen, parse_listen(v))),
    ("data_dir", |c, v| set(&mut c.data_dir, path(v))),
    ("tls_cert", |c, v| set(&mut c.tls_cert, Ok(optional_path(v)))),
    ("tls_key", |c, v| set(&mut c.tls_key, Ok(optional_path(v)))),
    ("max_body_bytes", |c, v| set(&mut c.max_body_bytes, number(v, " of bytes"))),
    ("header_read_timeout_s", |c, v| set(&mut c.header_read_timeout_s, number(v, " of seconds"))),
    ("drain_timeout_s", |c, v| set(&mut c.drain_timeout_s, number(v, " of seconds"))),
    ("ping_interval_s", |c, v| set(&mut c.ping_interval_s, number(v, " of seconds"))),
    ("concurrency_limit", |c, v| set(&mut c.concurrency_limit, number(v, ""))),
    ("concurrency_queue_ms", |c, v| set(&mut c.concurrency_queue_ms, number(v, " of milliseconds"))),
    ("auth", |c, v| set(&mut c.auth, choice::<AuthMode>(v, "`api_key` or `none`"))),
    ("admin_token", |c, v| set(&mut c.admin_token, Ok(optional_secret(v)))),
    ("admin_user", |c, v| set(&mut c.admin_user, Ok(v.to_string()))),
    ("admin_password", |c, v| set(&mut c.admin_password, Ok(optional_secret(v)))),
    ("request_timeout_s", |c, v| set(&mut c.request_timeout_s, number(v, " of seconds"))),
    ("connect_timeout_s", |c, v| set(&mut c.connect_timeout_s, number(v, " of seconds"))),
    ("stream_idle_timeout_s", |c, v| set(&mut c.stream_idle_timeout_s, number(v, " of seconds"))),
    ("proxy_url", |c, v| set(&mut c.proxy_url, Ok(optional_secret(v)))),
    ("max_retries", |c, v| set(&mut c.max_retries, number(v, ""))),
    ("retry_delay_ms", |c, v| set(&mut c.retry_delay_ms, number(v, " of milliseconds"))),
    ("session_ttl_s", |c, v| set(&mut c.session_ttl_s, number(v, " of seconds"))),
    ("dedup_window_ms", |c, v| set(&mut c.dedup_window_ms, number(v, " of milliseconds"))),
    ("store", |c, v| set(&mut c.store, choice::<StoreKind>(v, "`embedded` or `redis`"))),
    ("redis_url", |c, v| set(&mut c.redis_url, Ok(Secret::new(v)))),
    ("redis_prefix", |c, v| set(&mut c.redis_prefix, Ok(v.to_string()))),
    ("secret_key", |c, v| set(&mut c.secret_key, Ok(optional_secret(v)))),
    ("log_level", |c, v| set(&mut c.log_level, Ok(v.to_string()))),
    ("log_format", |c, v| set(&mut c.log_format, choice::<LogFormat>(v, "`text` or `json`"))),
    ("anthropic_version", |c, v| set(&mut c.anthropic_version, Ok(v.to_string()))),
    ("grok_base_url", |c, v| set(&mut c.grok_base_url, Ok(v.to_string()))),
    ("grok_assets_url", |c, v| set(&mut c.grok_assets_url, Ok(v.to_string()))),
    ("grok_tool_cards", |c, v| set(&mut c.grok_tool_cards, choice::<ToolCards>(v, "`lines` or `hide`"))),
    ("grok_quota_interval_s", |c, v| set(&mut c.grok_quota_interval_s, number(v, " of seconds"))),
    ("max_image_bytes", |c, v| set(&mut c.max_image_bytes, number(v, " of bytes"))),
    ("warp_base_url", |c, v| set(&mut c.warp_base_url, Ok(v.to_string()))),
    ("warp_auth_url", |c, v| set(&mut c.warp_auth_url, Ok(v.to_string()))),
    ("warp_quota_interval_s", |c, v| set(&mut c.warp_quota_interval_s, number(v, " of seconds"))),
    ("public_base_url", |c, v| set(&mut c.public_base_url, Ok((!v.is_empty()).then(|| v.to_string())))),
    ("media_cache_max_bytes", |c, v| set(&mut c.media_cache_max_bytes, number(v, " of bytes"))),
    ("media_fetch_allow_private", |c, v| set(&mut c.media_fetch_allow_private, boolean(v))),
    ("api_keys", |c, v| set(&mut c.api_keys, list(v, "[[api_keys]] tables"))),
    ("accounts", |c, v| set(&mut c.accounts, list(v, "[[accounts]] tables"))),
    ("models", |c, v| set(&mut c.models, list(v, "[[models]] tables"))),
];

/// The `O2A_*` variables of one environment, sorted by name so errors are reproducible.
pub(super) struct Vars(Vec<(String, String)>);

pub(super) fn collect(env: impl IntoIterator<Item = (String, String)>) -> Vars {
    let mut vars: Vec<_> = env.into_iter().filter(|(name, _)| name.starts_with(PREFIX)).collect();
    vars.sort();
    Vars(vars)
}

impl Vars {
    /// The file `O2A_CONFIG` names, when set and not empty.
    pub(super) fn config_path(&self) -> Option<PathBuf> {
        self.0.iter().find(|(name, value)| name == CONFIG_VAR && !value.is_empty()).map(|(_, v)| v.into())
    }

    /// Sets each variable's key on `config`; fails on the first unknown variable or bad value.
    pub(super) fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        for (name, value) in &self.0 {
            if name == CONFIG_VAR {
                continue;
            }
            let key = &name[PREFIX.len()..];
            let setter = KEYS.iter().find(|(k, _)| k.to_ascii_uppercase() == key).map(|(_, s)| s);
            let Some(setter) = setter else {
                let message = "not a configuration key (see docs/configuration.md for the list)".into();
                return Err(ConfigError::Env { var: name.clone(), message });
            };
            setter(config, value).map_err(|message| ConfigError::Env { var: name.clone(), message })?;
        }
        Ok(())
    }
}

fn set<T>(slot: &mut T, value: Result<T, String>) -> Result<(), String> {
    *slot = value?;
    Ok(())
}

fn number<T: FromStr>(raw: &str, unit: &str) -> Result<T, String> {
    raw.trim().parse().map_err(|_| format!("expected a whole number{unit}, got {raw:?}"))
}

fn boolean(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("expected true or false, got {raw:?}")),
    }
}

fn path(raw: &str) -> Result<PathBuf, String> {
    if raw.is_empty() { Err("expected a path, got \"\"".into()) } else { Ok(raw.into()) }
}

fn optional_path(raw: &str) -> Option<PathBuf> {
    (!raw.is_empty()).then(|| raw.into())
}

fn optional_secret(raw: &str) -> Option<Secret> {
    (!raw.is_empty()).then(|| Secret::new(raw))
}

/// Parses one of an enum's lower-case names through its `Deserialize`.
fn choice<T: for<'a> Deserialize<'a>>(raw: &str, expected: &str) -> Result<T, String> {
    T::deserialize(StrDeserializer::<ValueError>::new(raw.trim()))
        .map_err(|_| format!("expected {expected}, got {raw:?}"))
}

/// Parses a seed list. serde_json's messages name the unknown field or the bad type, with a
/// position, and never quote the input; secret fields withhold their value.
fn list<T: DeserializeOwned>(raw: &str, what: &str) -> Result<Vec<T>, String> {
    serde_json::from_str(raw).map_err(|err| format!("expected a JSON array of {what}: {err}"))
}
