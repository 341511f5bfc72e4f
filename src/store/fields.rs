//! The stored form of accounts, models and API keys: one named scalar field per value, shared by
//! both backends.
//!
//! A *field* is a name and an optional [`Value`]; `None` is SQL `NULL` in the embedded backend
//! and an absent hash field in Redis. SQLite keeps a record as a row whose columns are these
//! names; Redis as a hash with the same field names. A patch becomes the list of fields it sets
//! or clears ([`account_patch`], ...), so both backends write those fields and nothing else:
//! two writers that patch different fields of one record never undo each other.
//!
//! Reading goes the other way: a backend wraps its row or hash in a [`Record`] and
//! [`account`]/[`model`]/[`api_key`] rebuild the typed value, opening the sealed credential and
//! state with the store's [`Cipher`]. Anything that does not parse is [`StoreError::Corrupt`]
//! naming the record's id and the field, never the value.

use super::crypto::Cipher;
use super::{
    Account, AccountPatch, ApiKey, ApiKeyPatch, Health, KeyHash, Model, ModelKind, ModelPatch, NewAccount,
    NewApiKey, NewModel, Quota, Reason, StoreError, StoreResult,
};
use crate::channels::ChannelKind;
use crate::secret::Secret;

/// A stored scalar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Int(i64),
    Text(String),
}

/// One field of a write: set to the value, or cleared by `None`.
pub(crate) type Field = (&'static str, Option<Value>);

/// A stored record as a backend reads it. `Err` carries a short reason ("not a number").
pub(crate) trait Record {
    fn int(&self, name: &str) -> Result<Option<i64>, String>;
    fn text(&self, name: &str) -> Result<Option<String>, String>;
}

fn int(v: impl TryInto<i64>) -> Option<Value> {
    // Every integer the records hold (u32 settings, u64 ids, i64 times) fits in an i64; the
    // ids are assigned by the store and stay far below 2^63.
    Some(Value::Int(v.try_into().unwrap_or(i64::MAX)))
}

fn text(v: impl Into<String>) -> Option<Value> {
    Some(Value::Text(v.into()))
}

fn flag(v: bool) -> Option<Value> {
    Some(Value::Int(i64::from(v)))
}

// --- writing -----------------------------------------------------------------------------------

/// The fields a [`NewAccount`] sets: everything an upsert of the same seed overwrites.
pub(crate) fn new_account(new: &NewAccount, cipher: &Cipher) -> Vec<Field> {
    vec![
        ("channel", text(new.channel.as_str())),
        ("name", text(new.name.as_str())),
        ("credential", text(cipher.seal(&new.credential))),
        ("base_url", new.base_url.clone().map(Value::Text)),
        ("weight", int(new.weight)),
        ("priority", int(new.priority)),
        ("enabled", flag(new.enabled)),
        ("max_concurrency", int(new.max_concurrency)),
    ]
}

pub(crate) fn account_patch(patch: &AccountPatch, cipher: &Cipher) -> Vec<Field> {
    let mut fields = Vec::new();
    if let Some(name) = &patch.name {
        fields.push(("name", text(name.as_str())));
    }
    if let Some(credential) = &patch.credential {
        fields.push(("credential", text(cipher.seal(credential))));
    }
    if let Some(base_url) = &patch.base_url {
        fields.push(("base_url", base_url.clone().map(Value::Text)));
    }
    if let Some(weight) = patch.weight {
        fields.push(("weight", int(weight)));
    }
    if let Some(priority) = patch.priority {
        fields.push(("priority", int(priority)));
    }
    if let Some(enabled) = patch.enabled {
        fields.push(("enabled", flag(enabled)));
    }
    if let Some(max) = patch.max_concurrency {
        fields.push(("max_concurrency", int(max)));
    }
    if let Some(health) = &patch.health {
        fields.push(("health_reason", health.reason.map(|r| Value::Text(r.as_str().into()))));
        fields.push(("cooldown_until", health.cooldown_until.map(Value::Int)));
        fields.push(("health_message", health.message.clone().map(Value::Text)));
    }
    if let Some(quota) = &patch.quota {
        fields.push(("quota_remaining", quota.remaining.map(Value::Int)));
        fields.push(("quota_limit", quota.limit.map(Value::Int)));
        fields.push(("quota_reset_at", quota.reset_at.map(Value::Int)));
    }
    if let Some(state) = &patch.state {
        fields.push(("state", state.as_ref().map(|s| Value::Text(cipher.seal(s)))));
    }
    if let Some(at) = patch.last_used_at {
        fields.push(("last_used_at", int(at)));
    }
    fields
}

pub(crate) fn new_model(new: &NewModel) -> Vec<Field> {
    vec![
        ("model_id", text(new.model_id.as_str())),
        ("channel", text(new.channel.as_str())),
        ("upstream", new.upstream.clone().map(Value::Text)),
        ("kind", text(new.kind.as_str())),
        ("enabled", flag(new.enabled)),
        ("display_name", new.display_name.clone().map(Value::Text)),
    ]
}

pub(crate) fn model_patch(patch: &ModelPatch) -> Vec<Field> {
    let mut fields = Vec::new();
    if let Some(model_id) = &patch.model_id {
        fields.push(("model_id", text(model_id.as_str())));
    }
    if let Some(upstream) = &patch.upstream {
        fields.push(("upstream", upstream.clone().map(Value::Text)));
    }
    if let Some(kind) = patch.kind {
        fields.push(("kind", text(kind.as_str())));
    }
    if let Some(enabled) = patch.enabled {
        fields.push(("enabled", flag(enabled)));
    }
    if let Some(display_name) = &patch.display_name {
        fields.push(("display_name", display_name.clone().map(Value::Text)));
    }
    fields
}

fn model_list(models: &[String]) -> Option<Value> {
    // A list of strings always serializes.
    text(serde_json::to_string(models).expect("a list of strings serializes"))
}

pub(crate) fn new_key(new: &NewApiKey) -> Vec<Field> {
    vec![
        ("name", text(new.name.as_str())),
        ("hash", text(new.hash.0.as_str())),
        ("prefix", text(new.prefix.as_str())),
        ("models", model_list(&new.models)),
        ("rpm", new.rpm.and_then(int)),
        ("max_concurrency", new.max_concurrency.and_then(int)),
        ("expires_at", new.expires_at.map(Value::Int)),
        ("enabled", flag(new.enabled)),
    ]
}

pub(crate) fn key_patch(patch: &ApiKeyPatch) -> Vec<Field> {
    let mut fields = Vec::new();
    if let Some(name) = &patch.name {
        fields.push(("name", text(name.as_str())));
    }
    if let Some(models) = &patch.models {
        fields.push(("models", model_list(models)));
    }
    if let Some(rpm) = patch.rpm {
        fields.push(("rpm", rpm.and_then(int)));
    }
    if let Some(max) = patch.max_concurrency {
        fields.push(("max_concurrency", max.and_then(int)));
    }
    if let Some(at) = patch.expires_at {
        fields.push(("expires_at", at.map(Value::Int)));
    }
    if let Some(enabled) = patch.enabled {
        fields.push(("enabled", flag(enabled)));
    }
    if let Some(at) = patch.last_used_at {
        fields.push(("last_used_at", int(at)));
    }
    fields
}

/// The value of the field `name` in `fields`, if the write sets it.
pub(crate) fn text_of<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| *n == name).and_then(|(_, v)| match v {
        Some(Value::Text(t)) => Some(t.as_str()),
        _ => None,
    })
}

// --- reading -----------------------------------------------------------------------------------

/// Reads typed fields of one record, naming it in every error.
struct Reader<'a, R: Record> {
    record: &'a R,
    /// "account 7"
    what: String,
}

impl<'a, R: Record> Reader<'a, R> {
    /// Starts reading a record of `kind` ("account"); its `id` field must be there.
    fn new(record: &'a R, kind: &str) -> StoreResult<(Reader<'a, R>, u64)> {
        let mut reader = Reader { record, what: kind.to_string() };
        let id = reader.required_int("id")?;
        let id = u64::try_from(id).map_err(|_| reader.corrupt("id", "is negative"))?;
        reader.what = format!("{kind} {id}");
        Ok((reader, id))
    }

    fn corrupt(&self, field: &str, why: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt(format!("{}: field {field} {why}", self.what))
    }

    fn int(&self, field: &str) -> StoreResult<Option<i64>> {
        self.record.int(field).map_err(|why| self.corrupt(field, why))
    }

    fn required_int(&self, field: &str) -> StoreResult<i64> {
        self.int(field)?.ok_or_else(|| self.corrupt(field, "is missing"))
    }

    fn u32(&self, field: &str) -> StoreResult<Option<u32>> {
        self.int(field)?
            .map(|v| u32::try_from(v).map_err(|_| self.corrupt(field, "is out of range")))
            .transpose()
    }

    fn required_u32(&self, field: &str) -> StoreResult<u32> {
        self.u32(field)?.ok_or_else(|| self.corrupt(field, "is missing"))
    }

    fn bool(&self, field: &str) -> StoreResult<bool> {
        Ok(self.required_int(field)? != 0)
    }

    fn text(&self, field: &str) -> StoreResult<Option<String>> {
        self.record.text(field).map_err(|why| self.corrupt(field, why))
    }

    fn required_text(&self, field: &str) -> StoreResult<String> {
        self.text(field)?.ok_or_else(|| self.corrupt(field, "is missing"))
    }

    fn channel(&self) -> StoreResult<ChannelKind> {
        let name = self.required_text("channel")?;
        name.parse().map_err(|_| self.corrupt("channel", "is not a known channel"))
    }

    /// Opens a sealed field; the error names the record and the field, never the value.
    fn secret(&self, field: &str, cipher: &Cipher) -> StoreResult<Option<Secret>> {
        self.text(field)?
            .map(|stored| cipher.open(&stored).map_err(|why| self.corrupt(field, why)))
            .transpose()
    }
}

pub(crate) fn account(record: &impl Record, cipher: &Cipher) -> StoreResult<Account> {
    let (r, id) = Reader::new(record, "account")?;
    let reason = match r.text("health_reason")? {
        Some(name) => {
            Some(Reason::from_name(&name).ok_or_else(|| r.corrupt("health_reason", "is not a reason"))?)
        }
        None => None,
    };
    Ok(Account {
        id,
        channel: r.channel()?,
        name: r.required_text("name")?,
        credential: r.secret("credential", cipher)?.ok_or_else(|| r.corrupt("credential", "is missing"))?,
        base_url: r.text("base_url")?,
        weight: r.required_u32("weight")?,
        priority: r.required_u32("priority")?,
        enabled: r.bool("enabled")?,
        max_concurrency: r.required_u32("max_concurrency")?,
        health: Health {
            reason,
            cooldown_until: r.int("cooldown_until")?,
            message: r.text("health_message")?,
        },
        quota: Quota {
            remaining: r.int("quota_remaining")?,
            limit: r.int("quota_limit")?,
            reset_at: r.int("quota_reset_at")?,
        },
        state: r.secret("state", cipher)?,
        last_used_at: r.int("last_used_at")?,
        created_at: r.required_int("created_at")?,
        updated_at: r.required_int("updated_at")?,
    })
}

pub(crate) fn model(record: &impl Record) -> StoreResult<Model> {
    let (r, id) = Reader::new(record, "model")?;
    let kind = r.required_text("kind")?;
    Ok(Model {
        id,
        model_id: r.required_text("model_id")?,
        channel: r.channel()?,
        upstream: r.text("upstream")?,
        kind: ModelKind::from_name(&kind).ok_or_else(|| r.corrupt("kind", "is not a model kind"))?,
        enabled: r.bool("enabled")?,
        display_name: r.text("display_name")?,
        created_at: r.required_int("created_at")?,
        updated_at: r.required_int("updated_at")?,
    })
}

pub(crate) fn api_key(record: &impl Record) -> StoreResult<ApiKey> {
    let (r, id) = Reader::new(record, "API key")?;
    let models = r.required_text("models")?;
    Ok(ApiKey {
        id,
        name: r.required_text("name")?,
        hash: KeyHash(r.required_text("hash")?),
        prefix: r.required_text("prefix")?,
        models: serde_json::from_str(&models)
            .map_err(|_| r.corrupt("models", "is not a list of model ids"))?,
        rpm: r.u32("rpm")?,
        max_concurrency: r.u32("max_concurrency")?,
        expires_at: r.int("expires_at")?,
        enabled: r.bool("enabled")?,
        last_used_at: r.int("last_used_at")?,
        created_at: r.required_int("created_at")?,
        updated_at: r.required_int("updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, Value>);

    impl Record for Map {
        fn int(&self, name: &str) -> Result<Option<i64>, String> {
            match self.0.get(name) {
                Some(Value::Int(v)) => Ok(Some(*v)),
                Some(Value::Text(_)) => Err("is not a number".into()),
                None => Ok(None),
            }
        }

        fn text(&self, name: &str) -> Result<Option<String>, String> {
            match self.0.get(name) {
                Some(Value::Text(v)) => Ok(Some(v.clone())),
                Some(Value::Int(_)) => Err("is not text".into()),
                None => Ok(None),
            }
        }
    }

    fn stored(fields: Vec<Field>, id: i64) -> Map {
        let mut map: HashMap<_, _> = fields.into_iter().filter_map(|(n, v)| Some((n, v?))).collect();
        map.insert("id", Value::Int(id));
        map.insert("created_at", Value::Int(1));
        map.insert("updated_at", Value::Int(2));
        Map(map)
    }

    #[test]
    fn an_account_round_trips_through_its_fields() {
        let cipher = Cipher::new(Some(&Secret::new("k")));
        let new = NewAccount {
            channel: ChannelKind::Warp,
            name: "w1".into(),
            credential: Secret::new("refresh-token"),
            base_url: None,
            weight: 3,
            priority: 1,
            enabled: true,
            max_concurrency: 4,
        };
        let record = stored(new_account(&new, &cipher), 9);
        let account = account(&record, &cipher).unwrap();
        assert_eq!((account.id, account.name.as_str(), account.weight), (9, "w1", 3));
        assert_eq!(account.credential, new.credential);
        assert_eq!(account.health, Health::default());
    }

    #[test]
    fn a_patch_names_only_the_fields_it_changes() {
        let cipher = Cipher::plain();
        let patch = AccountPatch { weight: Some(2), base_url: Some(None), ..AccountPatch::default() };
        assert_eq!(account_patch(&patch, &cipher), vec![("base_url", None), ("weight", Some(Value::Int(2)))]);
        assert!(account_patch(&AccountPatch::default(), &cipher).is_empty());
        let health = AccountPatch { health: Some(Health::default()), ..AccountPatch::default() };
        let names: Vec<_> = account_patch(&health, &cipher).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["health_reason", "cooldown_until", "health_message"]);
    }

    #[test]
    fn unreadable_fields_name_the_record_and_field_not_the_value() {
        let cipher = Cipher::new(Some(&Secret::new("k")));
        let new = NewAccount {
            channel: ChannelKind::Grok,
            name: "g".into(),
            credential: Secret::new("sso-secret"),
            base_url: None,
            weight: 1,
            priority: 0,
            enabled: true,
            max_concurrency: 0,
        };
        let record = stored(new_account(&new, &cipher), 4);
        let err = account(&record, &Cipher::new(Some(&Secret::new("other")))).unwrap_err().to_string();
        assert!(err.contains("account 4: field credential"), "{err}");
        assert!(!err.contains("sso-secret"));

        let mut bad = stored(
            new_model(&NewModel {
                model_id: "m".into(),
                channel: ChannelKind::Grok,
                upstream: None,
                kind: ModelKind::Chat,
                enabled: true,
                display_name: None,
            }),
            5,
        );
        bad.0.insert("kind", Value::Text("sound".into()));
        assert_eq!(
            model(&bad).unwrap_err(),
            StoreError::Corrupt("model 5: field kind is not a model kind".into())
        );
    }
}
