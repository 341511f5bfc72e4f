//! The records the store keeps, and the patches that change them field by field.

use crate::channels::ChannelKind;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why an account is cooling down or out of service: the pool's health reason codes.
pub use crate::pool::Reason;

/// An account's health as the pool last judged it. `cooldown_until: None` with a reason means
/// "out until an operator acts" (auth failures); `reason: None` means healthy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub reason: Option<Reason>,
    pub cooldown_until: Option<i64>,
    /// A short, credential-free note for the operator ("upstream 429", "HTTP 403 challenge page").
    pub message: Option<String>,
}

/// What the upstream says is left of an account's quota.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub remaining: Option<i64>,
    pub limit: Option<i64>,
    pub reset_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub id: u64,
    pub channel: ChannelKind,
    pub name: String,
    pub credential: Secret,
    /// `None`: the channel's default.
    pub base_url: Option<String>,
    pub weight: u32,
    pub priority: u32,
    pub enabled: bool,
    /// 0 = unlimited.
    pub max_concurrency: u32,
    pub health: Health,
    pub quota: Quota,
    /// Channel-owned state (cached tokens, upstream ids), opaque to the store; kept secret like
    /// the credential.
    pub state: Option<Secret>,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewAccount {
    pub channel: ChannelKind,
    pub name: String,
    pub credential: Secret,
    pub base_url: Option<String>,
    pub weight: u32,
    pub priority: u32,
    pub enabled: bool,
    pub max_concurrency: u32,
}

/// Fields to change; `None` leaves a field as it is. `Some(None)` clears an optional field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub credential: Option<Secret>,
    pub base_url: Option<Option<String>>,
    pub weight: Option<u32>,
    pub priority: Option<u32>,
    pub enabled: Option<bool>,
    pub max_concurrency: Option<u32>,
    pub health: Option<Health>,
    pub quota: Option<Quota>,
    pub state: Option<Option<Secret>>,
    pub last_used_at: Option<i64>,
}

/// What a model serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    #[default]
    Chat,
    Image,
    Video,
}

impl ModelKind {
    pub const ALL: [ModelKind; 3] = [ModelKind::Chat, ModelKind::Image, ModelKind::Video];

    /// The lower-case name, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Chat => "chat",
            ModelKind::Image => "image",
            ModelKind::Video => "video",
        }
    }

    /// The kind whose [`ModelKind::as_str`] is `name`.
    pub fn from_name(name: &str) -> Option<ModelKind> {
        ModelKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    pub id: u64,
    /// The id clients ask for; unique within its channel.
    pub model_id: String,
    pub channel: ChannelKind,
    /// The id sent upstream; `None` = `model_id`.
    pub upstream: Option<String>,
    pub kind: ModelKind,
    pub enabled: bool,
    pub display_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewModel {
    pub model_id: String,
    pub channel: ChannelKind,
    pub upstream: Option<String>,
    pub kind: ModelKind,
    pub enabled: bool,
    pub display_name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelPatch {
    pub model_id: Option<String>,
    pub upstream: Option<Option<String>>,
    pub kind: Option<ModelKind>,
    pub enabled: Option<bool>,
    pub display_name: Option<Option<String>>,
}

/// SHA-256 of a secret token (client API key, console session token), hex-encoded. Only hashes
/// are stored.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash(pub String);

impl KeyHash {
    pub fn of(secret: &str) -> KeyHash {
        use sha2::{Digest, Sha256};
        KeyHash(hex::encode(Sha256::digest(secret.as_bytes())))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: u64,
    pub name: String,
    pub hash: KeyHash,
    /// What admin views show of the key: its first characters (`sk-o2a-AbCd…`).
    pub prefix: String,
    /// Model ids the key may use; empty = all.
    pub models: Vec<String>,
    /// Requests per minute across every instance; `None` = unlimited.
    pub rpm: Option<u32>,
    /// Requests in flight at once; `None` = unlimited.
    pub max_concurrency: Option<u32>,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub hash: KeyHash,
    pub prefix: String,
    pub models: Vec<String>,
    pub rpm: Option<u32>,
    pub max_concurrency: Option<u32>,
    pub expires_at: Option<i64>,
    pub enabled: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiKeyPatch {
    pub name: Option<String>,
    pub models: Option<Vec<String>>,
    pub rpm: Option<Option<u32>>,
    pub max_concurrency: Option<Option<u32>>,
    pub expires_at: Option<Option<i64>>,
    pub enabled: Option<bool>,
    pub last_used_at: Option<i64>,
}

/// Runtime knobs, by name, as JSON values.
pub type Settings = BTreeMap<String, serde_json::Value>;

/// One increment of the usage counters of a (day, key, account, model) row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageDelta {
    /// `yyyymmdd` in UTC.
    pub day: u32,
    pub key_id: Option<u64>,
    pub account_id: Option<u64>,
    pub model: String,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
}

/// Which usage rows to read; every filter is optional, days inclusive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageQuery {
    pub from_day: Option<u32>,
    pub to_day: Option<u32>,
    pub key_id: Option<u64>,
    pub account_id: Option<u64>,
    pub model: Option<String>,
}

/// A usage row: the counters of one (day, key, account, model).
pub type UsageRow = UsageDelta;

/// Per-conversation state: the account the conversation sticks to and channel data (upstream
/// conversation ids, tool-call bindings), opaque JSON.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session {
    pub account_id: Option<u64>,
    pub data: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleSession {
    pub user: String,
    pub expires_at: i64,
}

/// Proof of holding a lock; only its holder can release it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockToken(pub String);

impl LockToken {
    /// 128 random bits, hex-encoded: no two holders ever get the same token.
    pub fn random() -> LockToken {
        LockToken(format!("{:032x}", rand::random::<u128>()))
    }
}

/// A change to stored state, announced to every instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// An account was created, changed (including its health) or deleted.
    Account(u64),
    Model(u64),
    Key(u64),
    Settings,
    /// Changes may have been missed (the shared backend's feed reconnected): re-read everything.
    Resync,
}
