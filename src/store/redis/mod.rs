//! The Redis backend: the store shared by every gateway instance behind a load balancer, with a
//! pub/sub change feed that tells each instance what another one changed.
//!
//! **Layout.** Every key starts with `redis_prefix` (`{p}`); `docs/store.md` has the table. A
//! record is a hash (`{p}account:7`) whose fields are those of `store::fields`, listed in a set
//! of ids (`{p}accounts`), with a string key per unique name pointing at its id
//! (`{p}account_name:grok:main`). Ids come from `INCR` on `{p}next_id:<kind>` and are never
//! reused. Multi-key writes (create with the uniqueness check, rename, delete with index
//! cleanup) are Lua scripts (`scripts.rs`) and so atomic; field writes are `HSET`/`HDEL` of the
//! patched fields only; usage counters are `HINCRBY`.
//!
//! **Connection.** One multiplexed connection (`ConnectionManager`), shared by every call, which
//! reconnects with exponential backoff after a failure. Every call is bounded by
//! [`OP_TIMEOUT`]: while Redis is unreachable, calls fail with `Unavailable` within that time
//! instead of waiting for the reconnect.
//!
//! **Change feed.** Every write script `PUBLISH`es its change on `{p}changes` in the same atomic
//! step. A background task holds a second connection subscribed to that channel and forwards
//! each message into the local `broadcast`; the writing instance hears its own changes the same
//! way. Pub/sub keeps nothing for a disconnected subscriber: after the task reconnects it sends
//! [`Change::Resync`], and consumers re-read everything. Race: a change published between the
//! connection loss and the new `SUBSCRIBE` is missed, and the `Resync` (sent after the new
//! subscription is confirmed) is what covers it. The task pings every [`PING_EVERY`] so a
//! silently dead connection is noticed too. It stops when the store is dropped.
//!
//! **Cancellation.** Dropping a call's future before Redis answered may or may not leave the
//! write done; every write is one script or one `MULTI`, so it is never half done.

mod scripts;

use super::crypto::Cipher;
use super::fields::{self, Field, Record, Value as FieldValue};
use super::{
    Account, AccountPatch, ApiKey, ApiKeyPatch, Change, ConsoleSession, KeyHash, LockToken, Model,
    ModelPatch, NewAccount, NewApiKey, NewModel, Session, Settings, Store, StoreError, StoreResult,
    UsageDelta, UsageQuery, UsageRow, duration_ms, now_ms,
};
use crate::channels::ChannelKind;
use crate::secret::Secret;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink, PubSubStream};
use ::redis::{Client, RedisError, Value};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};

/// The longest any one call waits for Redis before it fails with `Unavailable`.
pub const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest opening the store waits to connect and subscribe.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the change-feed task pings its connection.
const PING_EVERY: Duration = Duration::from_secs(15);
/// Backoff between the change feed's reconnect attempts: doubles from the first to the last.
const FEED_BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));
/// Changes a slow receiver may fall behind by before it sees `Lagged`.
const FEED_CAPACITY: usize = 1024;

/// One record kind's key names.
struct Kind {
    /// Record hash key, after the prefix and before the id.
    stem: &'static str,
    /// Set of ids.
    set: &'static str,
    /// `INCR` sequence of ids.
    seq: &'static str,
    /// The word before the id in a change message.
    change: &'static str,
}

const ACCOUNTS: Kind = Kind { stem: "account:", set: "accounts", seq: "next_id:account", change: "account" };
const MODELS: Kind = Kind { stem: "model:", set: "models", seq: "next_id:model", change: "model" };
const KEYS: Kind = Kind { stem: "key:", set: "keys", seq: "next_id:key", change: "key" };

/// What [`RedisStore::write`] asks the script to do.
#[derive(Clone, Copy)]
enum Mode {
    Create,
    /// Update the record the first index points at, or create it.
    Upsert,
    Update(u64),
}

/// What the write script did.
enum Written {
    Record(Hash),
    NotFound,
    /// The index at this position (0-based) belongs to another record.
    Conflict(usize),
}

/// A record hash as read back.
struct Hash(HashMap<String, String>);

impl Record for Hash {
    fn int(&self, name: &str) -> Result<Option<i64>, String> {
        self.0.get(name).map(|v| v.parse().map_err(|_| "is not a number".to_string())).transpose()
    }

    fn text(&self, name: &str) -> Result<Option<String>, String> {
        Ok(self.0.get(name).cloned())
    }
}

/// Aborts the change-feed task when the store is dropped.
struct FeedTask(tokio::task::JoinHandle<()>);

impl Drop for FeedTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The Redis store. Cheap to share behind an `Arc`; all calls share one multiplexed connection.
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    cipher: Cipher,
    changes: broadcast::Sender<Change>,
    _feed: FeedTask,
}

/// Maps a Redis error: a reply of the wrong shape is `Corrupt`, anything else (refused, reset,
/// timed out, server error) `Unavailable`. The text never holds a value we sent.
fn redis_error(err: RedisError) -> StoreError {
    if matches!(err.kind(), ::redis::ErrorKind::Parse | ::redis::ErrorKind::UnexpectedReturnType) {
        StoreError::Corrupt(format!("redis answered in an unexpected shape: {err}"))
    } else {
        StoreError::Unavailable(format!("redis: {err}"))
    }
}

/// Runs one Redis call within [`OP_TIMEOUT`].
async fn bounded<T>(call: impl Future<Output = Result<T, RedisError>>) -> StoreResult<T> {
    match tokio::time::timeout(OP_TIMEOUT, call).await {
        Ok(result) => result.map_err(redis_error),
        Err(_) => {
            Err(StoreError::Unavailable(format!("redis did not answer within {} s", OP_TIMEOUT.as_secs())))
        }
    }
}

fn shape(what: &str) -> StoreError {
    StoreError::Corrupt(format!("redis answered {what} in an unexpected shape"))
}

fn text_of(value: Value) -> StoreResult<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).map_err(|_| shape("a string")),
        Value::SimpleString(s) => Ok(s),
        Value::Int(n) => Ok(n.to_string()),
        _ => Err(shape("a string")),
    }
}

/// A flat `[field, value, ...]` array (or a RESP3 map) as a hash.
fn hash_of(value: Value) -> StoreResult<Hash> {
    let pairs = match value {
        Value::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(shape("a hash"));
            }
            let mut items = items.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                pairs.push((k, v));
            }
            pairs
        }
        Value::Map(pairs) => pairs,
        Value::Nil => Vec::new(),
        _ => return Err(shape("a hash")),
    };
    pairs.into_iter().map(|(k, v)| Ok((text_of(k)?, text_of(v)?))).collect::<StoreResult<_>>().map(Hash)
}

fn array_of(value: Value) -> StoreResult<Vec<Value>> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        _ => Err(shape("a list")),
    }
}

fn field_text(value: &Option<FieldValue>) -> Option<String> {
    match value {
        Some(FieldValue::Int(v)) => Some(v.to_string()),
        Some(FieldValue::Text(v)) => Some(v.clone()),
        None => None,
    }
}

/// The change a `{p}changes` message announces; `None` for a message this build does not know.
fn parse_change(message: &str) -> Option<Change> {
    if message == "settings" {
        return Some(Change::Settings);
    }
    let (kind, id) = message.split_once(':')?;
    let id = id.parse().ok()?;
    match kind {
        "account" => Some(Change::Account(id)),
        "model" => Some(Change::Model(id)),
        "key" => Some(Change::Key(id)),
        _ => None,
    }
}

/// The counters of a usage row, by the names their hash fields start with.
const COUNTERS: [&str; 6] =
    ["requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"];

fn counters(d: &UsageDelta) -> [u64; 6] {
    [d.requests, d.errors, d.input_tokens, d.output_tokens, d.cache_read_tokens, d.cache_write_tokens]
}

fn counter_mut(row: &mut UsageRow, i: usize) -> &mut u64 {
    match i {
        0 => &mut row.requests,
        1 => &mut row.errors,
        2 => &mut row.input_tokens,
        3 => &mut row.output_tokens,
        4 => &mut row.cache_read_tokens,
        _ => &mut row.cache_write_tokens,
    }
}

/// The field of one counter of one usage row in the day's hash: `counter|key|account|model`,
/// with empty text for no key or account. The model comes last so it may contain `|`.
fn usage_field(counter: &str, d: &UsageDelta) -> String {
    let id = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
    format!("{counter}|{}|{}|{}", id(d.key_id), id(d.account_id), d.model)
}

/// Session values: JSON of the session's fields.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredSession {
    account_id: Option<u64>,
    data: Option<serde_json::Value>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredConsoleSession {
    user: String,
    expires_at: i64,
}

impl RedisStore {
    /// Connects to `url`, subscribes to the change feed and returns once both are ready; fails
    /// with `Unavailable` within a few seconds when Redis cannot be reached.
    pub async fn connect(url: &Secret, prefix: &str, cipher: Cipher) -> StoreResult<RedisStore> {
        // The parse error is not shown: it could quote the URL, which may hold a password.
        let client = Client::open(url.expose())
            .map_err(|_| StoreError::Unavailable("redis_url is not a valid Redis URL".into()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_min_delay(FEED_BACKOFF.0)
            .set_max_delay(FEED_BACKOFF.1)
            .set_number_of_retries(3);
        let conn =
            match tokio::time::timeout(CONNECT_TIMEOUT, client.get_connection_manager_with_config(config))
                .await
            {
                Ok(conn) => conn.map_err(redis_error)?,
                Err(_) => return Err(StoreError::Unavailable("cannot connect to redis within 5 s".into())),
            };
        let (changes, _) = broadcast::channel(FEED_CAPACITY);
        let (ready_tx, ready) = oneshot::channel();
        let channel = format!("{prefix}changes");
        let feed = FeedTask(tokio::spawn(run_feed(client, channel, changes.clone(), ready_tx)));
        ready.await.map_err(|_| StoreError::Unavailable("the change feed task stopped".into()))??;
        Ok(RedisStore { conn, prefix: prefix.to_string(), cipher, changes, _feed: feed })
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn script(&self, invocation: &::redis::ScriptInvocation<'_>) -> StoreResult<Value> {
        let mut conn = self.conn();
        bounded(invocation.invoke_async(&mut conn)).await
    }

    /// Runs the write script for one record of `kind`.
    async fn write(
        &self,
        kind: &Kind,
        mode: Mode,
        indexes: &[(&str, String)],
        fields: &[Field],
    ) -> StoreResult<Written> {
        let mut inv = scripts::WRITE.prepare_invoke();
        inv.key(self.key(kind.seq)).key(self.key(kind.set)).key(self.key("changes"));
        let (mode, id) = match mode {
            Mode::Create => ("create", String::new()),
            Mode::Upsert => ("upsert", String::new()),
            Mode::Update(id) => ("update", id.to_string()),
        };
        inv.arg(&self.prefix).arg(kind.stem).arg(mode).arg(id).arg(now_ms()).arg(kind.change);
        inv.arg(indexes.len());
        for (label, key) in indexes {
            inv.arg(*label).arg(key);
        }
        let sets: Vec<(&str, String)> =
            fields.iter().filter_map(|(n, v)| Some((*n, field_text(v)?))).collect();
        inv.arg(sets.len());
        for (name, value) in &sets {
            inv.arg(*name).arg(value);
        }
        for (name, _) in fields.iter().filter(|(_, v)| v.is_none()) {
            inv.arg(*name);
        }
        let mut reply = array_of(self.script(&inv).await?)?.into_iter();
        let code = match reply.next() {
            Some(Value::Int(code)) => code,
            _ => return Err(shape("a write")),
        };
        match code {
            1 => hash_of(reply.next().ok_or_else(|| shape("a write"))?).map(Written::Record),
            0 => Ok(Written::NotFound),
            k => Ok(Written::Conflict((-k - 1) as usize)),
        }
    }

    async fn get_hash(&self, kind: &Kind, id: u64) -> StoreResult<Option<Hash>> {
        let mut conn = self.conn();
        let value: Value = bounded(
            ::redis::cmd("HGETALL").arg(self.key(&format!("{}{id}", kind.stem))).query_async(&mut conn),
        )
        .await?;
        let hash = hash_of(value)?;
        Ok((!hash.0.is_empty()).then_some(hash))
    }

    async fn list_hashes(&self, kind: &Kind) -> StoreResult<Vec<Hash>> {
        let mut inv = scripts::LIST.prepare_invoke();
        inv.key(self.key(kind.set)).arg(&self.prefix).arg(kind.stem);
        let mut hashes =
            array_of(self.script(&inv).await?)?.into_iter().map(hash_of).collect::<StoreResult<Vec<_>>>()?;
        // Sets have no order; records are listed by id, as the embedded store lists them.
        hashes.sort_by_key(|h| h.0.get("id").and_then(|id| id.parse::<u64>().ok()));
        Ok(hashes)
    }

    async fn delete_record(&self, kind: &Kind, id: u64) -> StoreResult<bool> {
        let mut inv = scripts::DELETE.prepare_invoke();
        inv.key(self.key(kind.set)).key(self.key("changes"));
        inv.arg(&self.prefix).arg(kind.stem).arg(id).arg(kind.change);
        Ok(matches!(self.script(&inv).await?, Value::Int(1)))
    }

    /// The current channel of a record (immutable once created), to name its index key.
    async fn channel_of(&self, kind: &Kind, id: u64) -> StoreResult<Option<String>> {
        let mut conn = self.conn();
        let key = self.key(&format!("{}{id}", kind.stem));
        bounded(::redis::cmd("HGET").arg(key).arg("channel").query_async(&mut conn)).await
    }

    fn account_index(channel: &str, name: &str) -> (&'static str, String) {
        ("name", format!("account_name:{channel}:{name}"))
    }

    fn model_index(channel: &str, model_id: &str) -> (&'static str, String) {
        ("name", format!("model_name:{channel}:{model_id}"))
    }

    fn key_indexes(name: &str, hash: &KeyHash) -> [(&'static str, String); 2] {
        [("name", format!("key_name:{name}")), ("hash", format!("key_hash:{}", hash.0))]
    }

    fn account_of(
        &self,
        written: Written,
        conflict: impl FnOnce() -> String,
    ) -> StoreResult<Option<Account>> {
        match written {
            Written::Record(hash) => fields::account(&hash, &self.cipher).map(Some),
            Written::NotFound => Ok(None),
            Written::Conflict(_) => Err(StoreError::Conflict(conflict())),
        }
    }

    fn model_of(written: Written, conflict: impl FnOnce() -> String) -> StoreResult<Option<Model>> {
        match written {
            Written::Record(hash) => fields::model(&hash).map(Some),
            Written::NotFound => Ok(None),
            Written::Conflict(_) => Err(StoreError::Conflict(conflict())),
        }
    }

    fn key_of(written: Written, name: impl FnOnce() -> String) -> StoreResult<Option<ApiKey>> {
        match written {
            Written::Record(hash) => fields::api_key(&hash).map(Some),
            Written::NotFound => Ok(None),
            Written::Conflict(0) => Err(StoreError::Conflict(format!("API key name {:?}", name()))),
            Written::Conflict(_) => Err(StoreError::Conflict("an API key with this hash".into())),
        }
    }
}

fn written<T>(record: Option<T>) -> StoreResult<T> {
    // Creates and upserts always return the record; only updates may find none.
    record.ok_or_else(|| shape("a create"))
}

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        self.list_hashes(&ACCOUNTS).await?.iter().map(|h| fields::account(h, &self.cipher)).collect()
    }

    async fn get_account(&self, id: u64) -> StoreResult<Option<Account>> {
        self.get_hash(&ACCOUNTS, id).await?.map(|h| fields::account(&h, &self.cipher)).transpose()
    }

    async fn create_account(&self, new: NewAccount) -> StoreResult<Account> {
        let index = RedisStore::account_index(new.channel.as_str(), &new.name);
        let fields = fields::new_account(&new, &self.cipher);
        let done = self.write(&ACCOUNTS, Mode::Create, &[index], &fields).await?;
        written(self.account_of(done, || format!("account name {:?}", new.name))?)
    }

    async fn update_account(&self, id: u64, patch: AccountPatch) -> StoreResult<Option<Account>> {
        let fields = fields::account_patch(&patch, &self.cipher);
        if fields.is_empty() {
            return self.get_account(id).await;
        }
        let mut indexes = Vec::new();
        if let Some(name) = &patch.name {
            let Some(channel) = self.channel_of(&ACCOUNTS, id).await? else { return Ok(None) };
            indexes.push(RedisStore::account_index(&channel, name));
        }
        let done = self.write(&ACCOUNTS, Mode::Update(id), &indexes, &fields).await?;
        self.account_of(done, || format!("account name {:?}", patch.name.unwrap_or_default()))
    }

    async fn delete_account(&self, id: u64) -> StoreResult<bool> {
        self.delete_record(&ACCOUNTS, id).await
    }

    async fn upsert_account(&self, seed: NewAccount) -> StoreResult<Account> {
        let index = RedisStore::account_index(seed.channel.as_str(), &seed.name);
        let fields = fields::new_account(&seed, &self.cipher);
        let done = self.write(&ACCOUNTS, Mode::Upsert, &[index], &fields).await?;
        written(self.account_of(done, || format!("account name {:?}", seed.name))?)
    }

    async fn list_models(&self) -> StoreResult<Vec<Model>> {
        self.list_hashes(&MODELS).await?.iter().map(fields::model).collect()
    }

    async fn get_model(&self, id: u64) -> StoreResult<Option<Model>> {
        self.get_hash(&MODELS, id).await?.map(|h| fields::model(&h)).transpose()
    }

    async fn create_model(&self, new: NewModel) -> StoreResult<Model> {
        let index = RedisStore::model_index(new.channel.as_str(), &new.model_id);
        let done = self.write(&MODELS, Mode::Create, &[index], &fields::new_model(&new)).await?;
        written(RedisStore::model_of(done, || format!("model id {:?}", new.model_id))?)
    }

    async fn update_model(&self, id: u64, patch: ModelPatch) -> StoreResult<Option<Model>> {
        let fields = fields::model_patch(&patch);
        if fields.is_empty() {
            return self.get_model(id).await;
        }
        let mut indexes = Vec::new();
        if let Some(model_id) = &patch.model_id {
            let Some(channel) = self.channel_of(&MODELS, id).await? else { return Ok(None) };
            indexes.push(RedisStore::model_index(&channel, model_id));
        }
        let done = self.write(&MODELS, Mode::Update(id), &indexes, &fields).await?;
        RedisStore::model_of(done, || format!("model id {:?}", patch.model_id.unwrap_or_default()))
    }

    async fn delete_model(&self, id: u64) -> StoreResult<bool> {
        self.delete_record(&MODELS, id).await
    }

    async fn upsert_model(&self, seed: NewModel) -> StoreResult<Model> {
        let index = RedisStore::model_index(seed.channel.as_str(), &seed.model_id);
        let done = self.write(&MODELS, Mode::Upsert, &[index], &fields::new_model(&seed)).await?;
        written(RedisStore::model_of(done, || format!("model id {:?}", seed.model_id))?)
    }

    /// Race: two instances starting at once may both seed; the unique index keeps one model per
    /// id, and both answer `true`. The marker is written after the models, so a seed cut short
    /// by a lost connection is completed on the next start.
    async fn seed_catalogue(&self, channel: ChannelKind, models: Vec<NewModel>) -> StoreResult<bool> {
        let marker = self.key("seeded");
        let mut conn = self.conn();
        let seeded: bool =
            bounded(::redis::cmd("SISMEMBER").arg(&marker).arg(channel.as_str()).query_async(&mut conn))
                .await?;
        if seeded {
            return Ok(false);
        }
        for model in models.iter().filter(|m| m.channel == channel) {
            let index = RedisStore::model_index(model.channel.as_str(), &model.model_id);
            // A conflict means the model is there already: leave it as it is.
            self.write(&MODELS, Mode::Create, &[index], &fields::new_model(model)).await?;
        }
        let _: i64 =
            bounded(::redis::cmd("SADD").arg(&marker).arg(channel.as_str()).query_async(&mut conn)).await?;
        Ok(true)
    }

    async fn list_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.list_hashes(&KEYS).await?.iter().map(fields::api_key).collect()
    }

    async fn get_key(&self, id: u64) -> StoreResult<Option<ApiKey>> {
        self.get_hash(&KEYS, id).await?.map(|h| fields::api_key(&h)).transpose()
    }

    async fn find_key(&self, hash: &KeyHash) -> StoreResult<Option<ApiKey>> {
        let mut inv = scripts::FIND.prepare_invoke();
        inv.key(self.key(&format!("key_hash:{}", hash.0))).arg(&self.prefix).arg(KEYS.stem);
        let hash = hash_of(self.script(&inv).await?)?;
        if hash.0.is_empty() {
            return Ok(None);
        }
        fields::api_key(&hash).map(Some)
    }

    async fn create_key(&self, new: NewApiKey) -> StoreResult<ApiKey> {
        let indexes = RedisStore::key_indexes(&new.name, &new.hash);
        let done = self.write(&KEYS, Mode::Create, &indexes, &fields::new_key(&new)).await?;
        written(RedisStore::key_of(done, || new.name.clone())?)
    }

    async fn update_key(&self, id: u64, patch: ApiKeyPatch) -> StoreResult<Option<ApiKey>> {
        let fields = fields::key_patch(&patch);
        if fields.is_empty() {
            return self.get_key(id).await;
        }
        let indexes: Vec<_> = patch.name.iter().map(|name| ("name", format!("key_name:{name}"))).collect();
        let done = self.write(&KEYS, Mode::Update(id), &indexes, &fields).await?;
        RedisStore::key_of(done, || patch.name.clone().unwrap_or_default())
    }

    async fn delete_key(&self, id: u64) -> StoreResult<bool> {
        self.delete_record(&KEYS, id).await
    }

    async fn upsert_key(&self, seed: NewApiKey) -> StoreResult<ApiKey> {
        let indexes = RedisStore::key_indexes(&seed.name, &seed.hash);
        let done = self.write(&KEYS, Mode::Upsert, &indexes, &fields::new_key(&seed)).await?;
        written(RedisStore::key_of(done, || seed.name.clone())?)
    }

    async fn settings(&self) -> StoreResult<Settings> {
        let mut conn = self.conn();
        let value: Value =
            bounded(::redis::cmd("HGETALL").arg(self.key("settings")).query_async(&mut conn)).await?;
        settings_of(value)
    }

    async fn update_settings(
        &self,
        changes: Vec<(String, Option<serde_json::Value>)>,
    ) -> StoreResult<Settings> {
        if changes.is_empty() {
            return self.settings().await;
        }
        let mut inv = scripts::SETTINGS.prepare_invoke();
        inv.key(self.key("settings")).key(self.key("changes"));
        for (name, value) in &changes {
            inv.arg(name).arg(value.as_ref().map_or(String::new(), |v| v.to_string()));
        }
        settings_of(self.script(&inv).await?)
    }

    async fn record_usage(&self, deltas: Vec<UsageDelta>) -> StoreResult<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        for d in &deltas {
            let day = self.key(&format!("usage:{}", d.day));
            for (name, n) in COUNTERS.iter().zip(counters(d)) {
                pipe.cmd("HINCRBY").arg(&day).arg(usage_field(name, d)).arg(n).ignore();
            }
            pipe.cmd("ZADD").arg(self.key("usage_days")).arg(d.day).arg(d.day).ignore();
        }
        let mut conn = self.conn();
        bounded(pipe.query_async::<()>(&mut conn)).await
    }

    async fn query_usage(&self, query: UsageQuery) -> StoreResult<Vec<UsageRow>> {
        let mut conn = self.conn();
        let bound = |day: Option<u32>, open: &str| day.map_or(open.to_string(), |d| d.to_string());
        let days: Vec<u32> = bounded(
            ::redis::cmd("ZRANGEBYSCORE")
                .arg(self.key("usage_days"))
                .arg(bound(query.from_day, "-inf"))
                .arg(bound(query.to_day, "+inf"))
                .query_async(&mut conn),
        )
        .await?;
        if days.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for day in &days {
            pipe.cmd("HGETALL").arg(self.key(&format!("usage:{day}")));
        }
        let hashes: Vec<Value> = bounded(pipe.query_async(&mut conn)).await?;
        let mut rows: BTreeMap<(u32, Option<u64>, Option<u64>, String), UsageRow> = BTreeMap::new();
        for (day, hash) in days.into_iter().zip(hashes) {
            for (field, value) in hash_of(hash)?.0 {
                let corrupt =
                    || StoreError::Corrupt(format!("usage of day {day}: field {field:?} is malformed"));
                let mut parts = field.splitn(4, '|');
                let (Some(counter), Some(key), Some(account), Some(model)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(corrupt());
                };
                let id = |s: &str| if s.is_empty() { Ok(None) } else { s.parse().map(Some) };
                let (Ok(key_id), Ok(account_id)) = (id(key), id(account)) else { return Err(corrupt()) };
                let Some(i) = COUNTERS.iter().position(|c| *c == counter) else { return Err(corrupt()) };
                let n: i64 = value.parse().map_err(|_| corrupt())?;
                let filtered = query.key_id.is_some_and(|k| Some(k) != key_id)
                    || query.account_id.is_some_and(|a| Some(a) != account_id)
                    || query.model.as_deref().is_some_and(|m| m != model);
                if filtered {
                    continue;
                }
                let row = rows.entry((day, key_id, account_id, model.to_string())).or_insert_with(|| {
                    UsageRow { day, key_id, account_id, model: model.to_string(), ..UsageRow::default() }
                });
                *counter_mut(row, i) = n.max(0) as u64;
            }
        }
        Ok(rows.into_values().collect())
    }

    async fn get_session(&self, key: &str) -> StoreResult<Option<Session>> {
        let mut conn = self.conn();
        let text: Option<String> =
            bounded(::redis::cmd("GET").arg(self.key(&format!("session:{key}"))).query_async(&mut conn))
                .await?;
        let Some(text) = text else { return Ok(None) };
        let stored: StoredSession = serde_json::from_str(&text)
            .map_err(|_| StoreError::Corrupt(format!("session {key:?} is not a stored session")))?;
        Ok(Some(Session { account_id: stored.account_id, data: stored.data }))
    }

    async fn put_session(&self, key: &str, session: Session, ttl: Duration) -> StoreResult<()> {
        let text =
            serde_json::to_string(&StoredSession { account_id: session.account_id, data: session.data })
                .map_err(|e| StoreError::Corrupt(format!("session {key:?} does not serialize: {e}")))?;
        let mut conn = self.conn();
        let cmd = ::redis::cmd("SET")
            .arg(self.key(&format!("session:{key}")))
            .arg(text)
            .arg("PX")
            .arg(duration_ms(ttl))
            .clone();
        bounded(cmd.query_async::<()>(&mut conn)).await
    }

    async fn delete_session(&self, key: &str) -> StoreResult<()> {
        let mut conn = self.conn();
        bounded(::redis::cmd("DEL").arg(self.key(&format!("session:{key}"))).query_async::<()>(&mut conn))
            .await
    }

    async fn get_console_session(&self, token: &KeyHash) -> StoreResult<Option<ConsoleSession>> {
        let mut conn = self.conn();
        let text: Option<String> = bounded(
            ::redis::cmd("GET").arg(self.key(&format!("console:{}", token.0))).query_async(&mut conn),
        )
        .await?;
        let Some(text) = text else { return Ok(None) };
        let stored: StoredConsoleSession = serde_json::from_str(&text)
            .map_err(|_| StoreError::Corrupt("a console session is not a stored session".into()))?;
        // The key's TTL ends with the session; this check covers a clock ahead of Redis'.
        Ok((stored.expires_at > now_ms())
            .then_some(ConsoleSession { user: stored.user, expires_at: stored.expires_at }))
    }

    async fn put_console_session(&self, token: &KeyHash, session: ConsoleSession) -> StoreResult<()> {
        let key = self.key(&format!("console:{}", token.0));
        let mut conn = self.conn();
        let ttl = session.expires_at - now_ms();
        if ttl <= 0 {
            return bounded(::redis::cmd("DEL").arg(key).query_async::<()>(&mut conn)).await;
        }
        let text = serde_json::to_string(&StoredConsoleSession {
            user: session.user,
            expires_at: session.expires_at,
        })
        .map_err(|e| StoreError::Corrupt(format!("a console session does not serialize: {e}")))?;
        bounded(::redis::cmd("SET").arg(key).arg(text).arg("PX").arg(ttl).query_async::<()>(&mut conn)).await
    }

    async fn delete_console_session(&self, token: &KeyHash) -> StoreResult<()> {
        let mut conn = self.conn();
        bounded(
            ::redis::cmd("DEL").arg(self.key(&format!("console:{}", token.0))).query_async::<()>(&mut conn),
        )
        .await
    }

    async fn try_lock(&self, name: &str, ttl: Duration) -> StoreResult<Option<LockToken>> {
        let token = LockToken::random();
        let mut conn = self.conn();
        let cmd = ::redis::cmd("SET")
            .arg(self.key(&format!("lock:{name}")))
            .arg(&token.0)
            .arg("NX")
            .arg("PX")
            .arg(duration_ms(ttl))
            .clone();
        let taken: Option<String> = bounded(cmd.query_async(&mut conn)).await?;
        Ok(taken.map(|_| token))
    }

    async fn unlock(&self, name: &str, token: LockToken) -> StoreResult<()> {
        let mut inv = scripts::UNLOCK.prepare_invoke();
        inv.key(self.key(&format!("lock:{name}"))).arg(token.0);
        self.script(&inv).await.map(|_| ())
    }

    async fn count_in_window(&self, key: &str, window: Duration) -> StoreResult<u64> {
        let mut inv = scripts::COUNT_IN_WINDOW.prepare_invoke();
        inv.arg(self.key("window:")).arg(duration_ms(window)).arg(key);
        match self.script(&inv).await? {
            Value::Int(n) => Ok(n.max(0) as u64),
            _ => Err(shape("a window count")),
        }
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}

fn settings_of(value: Value) -> StoreResult<Settings> {
    hash_of(value)?
        .0
        .into_iter()
        .map(|(name, text)| match serde_json::from_str(&text) {
            Ok(value) => Ok((name, value)),
            Err(_) => Err(StoreError::Corrupt(format!("setting {name:?} is not JSON"))),
        })
        .collect()
}

/// Subscribes a fresh pub/sub connection to `channel`.
async fn subscribe(client: &Client, channel: &str) -> Result<(PubSubSink, PubSubStream), RedisError> {
    let (mut sink, stream) = client.get_async_pubsub().await?.split();
    sink.subscribe(channel).await?;
    Ok((sink, stream))
}

/// The change-feed task: subscribes, forwards messages, and after a lost connection
/// resubscribes with backoff and sends [`Change::Resync`]. The first attempt's outcome goes to
/// `ready`; if it fails, the task ends (the store fails to open).
async fn run_feed(
    client: Client,
    channel: String,
    changes: broadcast::Sender<Change>,
    ready: oneshot::Sender<StoreResult<()>>,
) {
    let mut ready = Some(ready);
    let mut backoff = FEED_BACKOFF.0;
    loop {
        match tokio::time::timeout(CONNECT_TIMEOUT, subscribe(&client, &channel)).await {
            Ok(Ok((sink, stream))) => {
                match ready.take() {
                    Some(ready) => {
                        let _ = ready.send(Ok(()));
                    }
                    None => {
                        tracing::info!("store: redis change feed resubscribed; consumers re-read everything");
                        let _ = changes.send(Change::Resync);
                    }
                }
                backoff = FEED_BACKOFF.0;
                forward(sink, stream, &changes).await;
                tracing::warn!("store: redis change feed lost its connection; resubscribing");
            }
            failed => {
                let why = match failed {
                    Ok(Err(err)) => redis_error(err),
                    _ => StoreError::Unavailable("redis did not accept the subscription in time".into()),
                };
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(why));
                    return;
                }
                tracing::warn!(error = %why, retry_in_ms = backoff.as_millis() as u64, "store: redis change feed cannot resubscribe");
            }
        }
        // Full jitter keeps a fleet of instances from reconnecting in step.
        tokio::time::sleep(backoff.mul_f64(rand::random_range(0.5..1.0))).await;
        backoff = (backoff * 2).min(FEED_BACKOFF.1);
    }
}

/// Forwards changes until the connection is lost (the stream ends or a ping fails).
async fn forward(mut sink: PubSubSink, mut stream: PubSubStream, changes: &broadcast::Sender<Change>) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else { return };
                match message.get_payload::<String>().ok().as_deref().and_then(parse_change) {
                    Some(change) => {
                        let _ = changes.send(change);
                    }
                    None => tracing::debug!("store: ignored an unknown change message"),
                }
            }
            _ = ping.tick() => {
                let pong = tokio::time::timeout(OP_TIMEOUT, sink.ping::<Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the write scripts publish.
    fn change_message(change: &Change) -> String {
        match change {
            Change::Account(id) => format!("account:{id}"),
            Change::Model(id) => format!("model:{id}"),
            Change::Key(id) => format!("key:{id}"),
            Change::Settings => "settings".into(),
            Change::Resync => "resync".into(),
        }
    }

    #[test]
    fn change_messages_round_trip() {
        for change in [Change::Account(7), Change::Model(1), Change::Key(u64::MAX), Change::Settings] {
            assert_eq!(parse_change(&change_message(&change)), Some(change));
        }
        assert_eq!(parse_change("resync"), None, "resync is local, never published");
        assert_eq!(parse_change("account:x"), None);
        assert_eq!(parse_change("gadget:1"), None);
    }

    #[test]
    fn usage_fields_keep_a_model_with_separators_whole() {
        let d = UsageDelta {
            day: 20260101,
            key_id: None,
            account_id: Some(3),
            model: "a|b".into(),
            ..UsageDelta::default()
        };
        assert_eq!(usage_field("requests", &d), "requests||3|a|b");
    }
}
