//! `/api/export` and `/api/import`: the gateway's configuration as one JSON document, and back.
//!
//! **Export** writes the gateway's own format:
//! `{"format":"orchids2api","version":1,"exported_at","credentials","accounts","models","keys","settings"}`.
//! No credential leaves in plain text: with `secret_key` configured each account carries its
//! credential *sealed* with the store's cipher (`credential_sealed`; a gateway with the same
//! `secret_key` opens it on import); without one, only its fingerprint. Keys travel as their
//! hash and display prefix: importable, never usable to recover a key. Settings are the stored
//! overrides.
//!
//! **Import** takes that format, or the original Orchids-2api's export (an array of its accounts,
//! or `{"accounts":[...]}`; see [`super::original`]). Entries are added one by one: a duplicate
//! (same credential, or same channel and name; same channel and model id; same key hash or
//! name) is skipped, a bad entry is reported with its index, and neither stops the others. A store
//! that becomes unreachable stops the import with 503; what was created stays, and importing the
//! same file again skips it.

use super::json::{self, FieldError, invalid, required};
use super::{Admin, accounts, keys, models, settings, store_error};
use crate::channels::ChannelKind;
use crate::dialect::ApiError;
use crate::secret::Secret;
use crate::server::Reply;
use crate::store::{KeyHash, ModelKind, NewAccount, NewApiKey, NewModel, StoreError, StoreResult};
use crate::time::{now_ms, parse_rfc3339, rfc3339};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// The value of `format` in the gateway's own export.
const FORMAT: &str = "orchids2api";
const VERSION: u64 = 1;

pub async fn export(admin: &Admin) -> Result<Reply, ApiError> {
    let store = &admin.live.store;
    let accounts = store.list_accounts().await.map_err(store_error)?;
    let models = store.list_models().await.map_err(store_error)?;
    let keys = store.list_keys().await.map_err(store_error)?;
    let settings = store.settings().await.map_err(store_error)?;
    let sealing = admin.cipher.is_sealing();
    let document = json!({
        "format": FORMAT,
        "version": VERSION,
        "exported_at": rfc3339(now_ms()),
        "credentials": if sealing { "sealed" } else { "omitted" },
        "accounts": accounts.iter().map(|a| {
            let mut record = json!({
                "channel": a.channel.as_str(),
                "name": a.name,
                "base_url": a.base_url,
                "weight": a.weight,
                "priority": a.priority,
                "enabled": a.enabled,
                "max_concurrency": a.max_concurrency,
                "credential_fingerprint": a.credential.fingerprint(),
            });
            if sealing {
                record["credential_sealed"] = admin.cipher.seal(&a.credential).into();
            }
            record
        }).collect::<Vec<_>>(),
        "models": models.iter().map(|m| json!({
            "model_id": m.model_id,
            "channel": m.channel.as_str(),
            "upstream": m.upstream,
            "kind": m.kind.as_str(),
            "enabled": m.enabled,
            "display_name": m.display_name,
        })).collect::<Vec<_>>(),
        "keys": keys.iter().map(|k| json!({
            "name": k.name,
            "hash": k.hash.0,
            "prefix": k.prefix,
            "models": k.models,
            "rpm": k.rpm,
            "max_concurrency": k.max_concurrency,
            "expires_at": k.expires_at.map(rfc3339),
            "enabled": k.enabled,
        })).collect::<Vec<_>>(),
        "settings": settings,
    });
    let mut reply = json::reply(StatusCode::OK, &document);
    reply.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"orchids2api-export.json\""),
    );
    tracing::info!(accounts = accounts.len(), models = models.len(), keys = keys.len(), "admin: exported");
    Ok(reply)
}

/// The gateway's own export, as import reads it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: Option<String>,
    version: Option<u64>,
    /// Informative only.
    #[serde(rename = "exported_at")]
    _exported_at: Option<String>,
    /// Informative only: whether credentials were sealed or omitted.
    #[serde(rename = "credentials")]
    _credentials: Option<String>,
    accounts: Option<Vec<Value>>,
    models: Option<Vec<Value>>,
    keys: Option<Vec<Value>>,
    settings: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountRecord {
    channel: Option<ChannelKind>,
    name: Option<String>,
    base_url: Option<String>,
    weight: Option<u32>,
    priority: Option<u32>,
    enabled: Option<bool>,
    max_concurrency: Option<u32>,
    credential_fingerprint: Option<String>,
    credential_sealed: Option<String>,
    /// Not written by export; lets a hand-made file carry a plain credential.
    credential: Option<Secret>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelRecord {
    model_id: Option<String>,
    channel: Option<ChannelKind>,
    upstream: Option<String>,
    kind: Option<ModelKind>,
    enabled: Option<bool>,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRecord {
    name: Option<String>,
    hash: Option<String>,
    prefix: Option<String>,
    models: Option<Vec<String>>,
    rpm: Option<u32>,
    max_concurrency: Option<u32>,
    expires_at: Option<String>,
    enabled: Option<bool>,
}

/// What an import did.
#[derive(Debug, Default, Serialize)]
struct Report {
    created: u64,
    skipped_duplicates: u64,
    errors: Vec<EntryError>,
    accounts: Tally,
    models: Tally,
    keys: Tally,
    /// Settings whose stored override the import set.
    settings_applied: usize,
}

#[derive(Debug, Default, Serialize)]
struct Tally {
    created: u64,
    skipped_duplicates: u64,
}

/// A list of the document whose entries are added one by one.
#[derive(Debug, Clone, Copy)]
enum Section {
    Accounts,
    Models,
    Keys,
}

impl Section {
    fn as_str(self) -> &'static str {
        match self {
            Section::Accounts => "accounts",
            Section::Models => "models",
            Section::Keys => "keys",
        }
    }
}

#[derive(Debug, Serialize)]
struct EntryError {
    /// `accounts`, `models`, `keys` or `settings`.
    section: &'static str,
    /// The entry's position in its list (`null` for settings, which are checked as one).
    index: Option<usize>,
    message: String,
}

/// What became of one entry.
enum Outcome {
    Created,
    Duplicate,
}

/// What an import reads.
enum Source {
    Own(Box<Document>),
    /// The original's accounts.
    Original(Vec<Value>),
}

pub async fn import(admin: &Admin, body: &[u8]) -> Result<Reply, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(ApiError::invalid_json)?;
    let source = source(value)?;
    let mut importer = Importer::load(admin).await?;
    match source {
        Source::Own(document) => importer.own(*document).await?,
        Source::Original(entries) => importer.original(entries).await?,
    }
    let report = importer.report;
    tracing::info!(
        created = report.created,
        skipped = report.skipped_duplicates,
        errors = report.errors.len(),
        "admin: imported"
    );
    Ok(json::reply(StatusCode::OK, &report))
}

/// Tells the formats apart, and checks the document's own shape before any entry is read.
fn source(value: Value) -> Result<Source, ApiError> {
    match value {
        Value::Array(entries) => Ok(Source::Original(entries)),
        Value::Object(map) if map.contains_key("format") => {
            let d: Document = json::decode_value(Value::Object(map))?;
            if d.format.as_deref() != Some(FORMAT) {
                return Err(invalid("format", format!("`format` must be \"{FORMAT}\"")).into());
            }
            if d.version != Some(VERSION) {
                return Err(invalid("version", format!("`version` must be {VERSION}")).into());
            }
            Ok(Source::Own(Box::new(d)))
        }
        Value::Object(mut map) if map.contains_key("accounts") => match map.remove("accounts") {
            Some(Value::Array(entries)) => Ok(Source::Original(entries)),
            _ => Err(invalid("accounts", "`accounts` must be an array").into()),
        },
        _ => Err(ApiError::bad_request(
            "expected this gateway's export ({\"format\":\"orchids2api\",...}) or the original's \
             (an array of accounts, or {\"accounts\":[...]})",
        )),
    }
}

/// One import: what the store already holds (to skip duplicates) and the report so far.
struct Importer<'a> {
    admin: &'a Admin,
    report: Report,
    /// SHA-256 of every account credential (the full form of its fingerprint).
    credentials: HashSet<KeyHash>,
    account_names: HashSet<(ChannelKind, String)>,
    models: HashSet<(ChannelKind, String)>,
    key_hashes: HashSet<KeyHash>,
    key_names: HashSet<String>,
}

impl<'a> Importer<'a> {
    async fn load(admin: &'a Admin) -> Result<Importer<'a>, ApiError> {
        let store = &admin.live.store;
        let accounts = store.list_accounts().await.map_err(store_error)?;
        let models = store.list_models().await.map_err(store_error)?;
        let keys = store.list_keys().await.map_err(store_error)?;
        Ok(Importer {
            admin,
            report: Report::default(),
            credentials: accounts.iter().map(|a| KeyHash::of(a.credential.expose())).collect(),
            account_names: accounts.iter().map(|a| (a.channel, a.name.clone())).collect(),
            models: models.iter().map(|m| (m.channel, m.model_id.clone())).collect(),
            key_hashes: keys.iter().map(|k| k.hash.clone()).collect(),
            key_names: keys.into_iter().map(|k| k.name).collect(),
        })
    }

    async fn own(&mut self, d: Document) -> Result<(), ApiError> {
        for (index, entry) in d.accounts.unwrap_or_default().into_iter().enumerate() {
            let new = self.own_account(entry);
            self.add_account(index, new).await?;
        }
        for (index, entry) in d.models.unwrap_or_default().into_iter().enumerate() {
            let outcome = match model(entry) {
                Ok(new) => self.add_model(new).await,
                Err(e) => Err(e),
            };
            self.settle(Section::Models, index, outcome)?;
        }
        for (index, entry) in d.keys.unwrap_or_default().into_iter().enumerate() {
            let outcome = match key(entry) {
                Ok(new) => self.add_key(new).await,
                Err(e) => Err(e),
            };
            self.settle(Section::Keys, index, outcome)?;
        }
        if let Some(entries) = d.settings.filter(|s| !s.is_empty()) {
            self.settings(entries).await?;
        }
        Ok(())
    }

    async fn original(&mut self, entries: Vec<Value>) -> Result<(), ApiError> {
        for (index, entry) in entries.into_iter().enumerate() {
            let new = super::original::account(entry).map_err(Failure::from);
            self.add_account(index, new).await?;
        }
        Ok(())
    }

    /// An account of the own format, its credential opened with this gateway's cipher.
    fn own_account(&self, entry: Value) -> Result<NewAccount, Failure> {
        let r: AccountRecord = json::decode_value(entry)?;
        let credential = match (r.credential, r.credential_sealed) {
            (Some(_), Some(_)) => {
                return Err(
                    invalid("credential", "give `credential` or `credential_sealed`, not both").into()
                );
            }
            (Some(plain), None) => plain,
            (None, Some(sealed)) => self.admin.cipher.open(&sealed).map_err(|e| {
                Failure::Entry(invalid("credential_sealed", format!("`credential_sealed` {e}")))
            })?,
            (None, None) => {
                return Err(invalid(
                    "credential",
                    "no credential: the exporting gateway had no secret_key, so only the fingerprint \
                     was exported; add this account with its credential",
                )
                .into());
            }
        };
        if r.credential_fingerprint.is_some_and(|f| f != credential.fingerprint()) {
            return Err(
                invalid("credential_fingerprint", "the credential does not match its fingerprint").into()
            );
        }
        Ok(NewAccount {
            channel: required("channel", r.channel)?,
            name: required("name", r.name)?,
            credential,
            base_url: r.base_url,
            weight: r.weight.unwrap_or(1),
            priority: r.priority.unwrap_or(0),
            enabled: r.enabled.unwrap_or(true),
            max_concurrency: r.max_concurrency.unwrap_or(0),
        })
    }

    async fn add_account(&mut self, index: usize, new: Result<NewAccount, Failure>) -> Result<(), ApiError> {
        let outcome = match new.and_then(|n| accounts::checked(n).map_err(Failure::from)) {
            Ok(new) => {
                let hash = KeyHash::of(new.credential.expose());
                let name = (new.channel, new.name.clone());
                if self.credentials.contains(&hash) || self.account_names.contains(&name) {
                    Ok(Outcome::Duplicate)
                } else {
                    let created = self.admin.live.store.create_account(new).await;
                    let outcome = stored(created);
                    if matches!(outcome, Ok(Outcome::Created)) {
                        self.credentials.insert(hash);
                        self.account_names.insert(name);
                    }
                    outcome
                }
            }
            Err(e) => Err(e),
        };
        self.settle(Section::Accounts, index, outcome)
    }

    async fn add_model(&mut self, new: NewModel) -> Result<Outcome, Failure> {
        let id = (new.channel, new.model_id.clone());
        if self.models.contains(&id) {
            return Ok(Outcome::Duplicate);
        }
        let outcome = stored(self.admin.live.store.create_model(new).await);
        if matches!(outcome, Ok(Outcome::Created)) {
            self.models.insert(id);
        }
        outcome
    }

    async fn add_key(&mut self, new: NewApiKey) -> Result<Outcome, Failure> {
        if self.key_hashes.contains(&new.hash) || self.key_names.contains(&new.name) {
            return Ok(Outcome::Duplicate);
        }
        let (hash, name) = (new.hash.clone(), new.name.clone());
        let outcome = stored(self.admin.live.store.create_key(new).await);
        if matches!(outcome, Ok(Outcome::Created)) {
            self.key_hashes.insert(hash);
            self.key_names.insert(name);
        }
        outcome
    }

    /// Settings are checked together and written together, as a PATCH of `/api/settings` is.
    async fn settings(&mut self, entries: Map<String, Value>) -> Result<(), ApiError> {
        match settings::checked(self.admin, entries.into_iter().collect()).await {
            Ok(changes) => {
                let count = changes.len();
                self.admin.live.store.update_settings(changes).await.map_err(store_error)?;
                self.report.settings_applied = count;
            }
            Err(e) if e.status == StatusCode::BAD_REQUEST => {
                self.report.errors.push(EntryError { section: "settings", index: None, message: e.message });
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Counts an entry's outcome; only a store that cannot be reached stops the import.
    fn settle(
        &mut self,
        section: Section,
        index: usize,
        outcome: Result<Outcome, Failure>,
    ) -> Result<(), ApiError> {
        let tally = match section {
            Section::Accounts => &mut self.report.accounts,
            Section::Models => &mut self.report.models,
            Section::Keys => &mut self.report.keys,
        };
        match outcome {
            Ok(Outcome::Created) => {
                tally.created += 1;
                self.report.created += 1;
            }
            Ok(Outcome::Duplicate) => {
                tally.skipped_duplicates += 1;
                self.report.skipped_duplicates += 1;
            }
            Err(Failure::Entry(e)) => {
                let section = section.as_str();
                self.report.errors.push(EntryError { section, index: Some(index), message: e.message });
            }
            Err(Failure::Store(e)) => {
                let mut error = store_error(e);
                error.message = format!(
                    "{} (the import stopped at {section}[{index}]; {} entries were created; importing \
                     the same file again skips them)",
                    error.message,
                    self.report.created,
                    section = section.as_str(),
                );
                return Err(error);
            }
        }
        Ok(())
    }
}

/// Why an entry was not imported.
enum Failure {
    /// The entry itself is bad: reported, and the import goes on.
    Entry(FieldError),
    /// The store cannot be reached: the import stops.
    Store(StoreError),
}

impl From<FieldError> for Failure {
    fn from(e: FieldError) -> Failure {
        Failure::Entry(e)
    }
}

/// A store write's outcome: a conflict (another writer got there first) is a duplicate, an
/// unreadable record is the entry's problem, an unreachable store stops the import.
fn stored<T>(result: StoreResult<T>) -> Result<Outcome, Failure> {
    match result {
        Ok(_) => Ok(Outcome::Created),
        Err(StoreError::Conflict(_)) => Ok(Outcome::Duplicate),
        Err(StoreError::Corrupt(m)) => Err(Failure::Entry(FieldError { param: None, message: m })),
        Err(e @ StoreError::Unavailable(_)) => Err(Failure::Store(e)),
    }
}

fn model(entry: Value) -> Result<NewModel, Failure> {
    let r: ModelRecord = json::decode_value(entry)?;
    Ok(models::checked(NewModel {
        model_id: required("model_id", r.model_id)?,
        channel: required("channel", r.channel)?,
        upstream: r.upstream,
        kind: r.kind.unwrap_or_default(),
        enabled: r.enabled.unwrap_or(true),
        display_name: r.display_name,
    })?)
}

fn key(entry: Value) -> Result<NewApiKey, Failure> {
    let r: KeyRecord = json::decode_value(entry)?;
    let hash = required("hash", r.hash)?.to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("hash", "`hash` must be the 64 hex digits of a SHA-256").into());
    }
    let expires_at = r
        .expires_at
        .map(|e| {
            parse_rfc3339(&e).ok_or_else(|| invalid("expires_at", "`expires_at` must be an RFC 3339 time"))
        })
        .transpose()?;
    Ok(NewApiKey {
        name: keys::checked_name(&required("name", r.name)?)?,
        hash: KeyHash(hash),
        prefix: required("prefix", r.prefix)?,
        models: keys::checked_models(r.models.unwrap_or_default())?,
        rpm: r.rpm.filter(|n| *n > 0),
        max_concurrency: r.max_concurrency.filter(|n| *n > 0),
        expires_at,
        enabled: r.enabled.unwrap_or(true),
    })
}
