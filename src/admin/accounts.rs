//! `/api/accounts`: upstream accounts — list, create, read, change, delete, check against the
//! upstream, reset their health.
//!
//! An account *view* is the stored record without its secrets (the credential shows only as its
//! fingerprint; the channel's state not at all), with the health as a `status`, plus what this
//! instance's pool sees live: requests in flight and the failure streak.

use super::json::{self, FieldError, Patch, invalid, not_null, nullable, required};
use super::query::Query;
use super::{Admin, not_found, store_error};
use crate::channels::ChannelKind;
use crate::dialect::ApiError;
use crate::ir::{ErrorKind, UpstreamError};
use crate::pool::{self, health};
use crate::secret::Secret;
use crate::server::Reply;
use crate::store::{Account, AccountPatch, Health, NewAccount, Quota, Reason};
use crate::time::{now_ms, rfc3339};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Longest account name accepted.
const MAX_NAME: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    channel: Option<ChannelKind>,
    name: Option<String>,
    credential: Option<Secret>,
    base_url: Option<String>,
    weight: Option<u32>,
    priority: Option<u32>,
    enabled: Option<bool>,
    max_concurrency: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default, deserialize_with = "nullable")]
    name: Patch<String>,
    #[serde(default, deserialize_with = "nullable")]
    credential: Patch<Secret>,
    #[serde(default, deserialize_with = "nullable")]
    base_url: Patch<String>,
    #[serde(default, deserialize_with = "nullable")]
    weight: Patch<u32>,
    #[serde(default, deserialize_with = "nullable")]
    priority: Patch<u32>,
    #[serde(default, deserialize_with = "nullable")]
    enabled: Patch<bool>,
    #[serde(default, deserialize_with = "nullable")]
    max_concurrency: Patch<u32>,
}

pub async fn list(admin: &Admin, query: Option<&str>) -> Result<Reply, ApiError> {
    let query = Query::parse(query, &["channel"])?;
    let channel = query
        .get("channel")
        .map(|c| c.parse::<ChannelKind>().map_err(|e| invalid("channel", e.to_string())))
        .transpose()?;
    let accounts = admin.live.store.list_accounts().await.map_err(store_error)?;
    let live = pool_state(admin);
    let now = now_ms();
    let views: Vec<Value> = accounts
        .iter()
        .filter(|a| channel.is_none_or(|c| c == a.channel))
        .map(|a| view(a, live.get(&a.id).map(Arc::as_ref), now))
        .collect();
    Ok(json::reply(StatusCode::OK, &views))
}

pub async fn get(admin: &Admin, id: u64) -> Result<Reply, ApiError> {
    let account = stored(admin, id).await?;
    Ok(json::reply(StatusCode::OK, &view_live(admin, &account)))
}

pub async fn create(admin: &Admin, body: &[u8]) -> Result<Reply, ApiError> {
    let c: Create = json::decode(body)?;
    let new = checked(NewAccount {
        channel: required("channel", c.channel)?,
        name: required("name", c.name)?,
        credential: required("credential", c.credential)?,
        base_url: c.base_url,
        weight: c.weight.unwrap_or(1),
        priority: c.priority.unwrap_or(0),
        enabled: c.enabled.unwrap_or(true),
        max_concurrency: c.max_concurrency.unwrap_or(0),
    })?;
    let account = admin.live.store.create_account(new).await.map_err(store_error)?;
    tracing::info!(account = account.id, channel = %account.channel, name = %account.name, "admin: account created");
    Ok(json::reply(StatusCode::CREATED, &view_live(admin, &account)))
}

pub async fn update(admin: &Admin, id: u64, body: &[u8]) -> Result<Reply, ApiError> {
    let u: Update = json::decode(body)?;
    let current = stored(admin, id).await?;
    let mut patch = AccountPatch {
        name: not_null("name", u.name)?.map(|n| checked_name(&n)).transpose()?,
        credential: not_null("credential", u.credential)?.map(|c| checked_credential(&c)).transpose()?,
        base_url: u.base_url.map(|b| b.map(|b| checked_base_url(&b)).transpose()).transpose()?,
        weight: not_null("weight", u.weight)?.map(checked_weight).transpose()?,
        priority: not_null("priority", u.priority)?,
        enabled: not_null("enabled", u.enabled)?,
        max_concurrency: not_null("max_concurrency", u.max_concurrency)?,
        ..AccountPatch::default()
    };
    if patch.credential.as_ref().is_some_and(|c| *c != current.credential) {
        // The channel's cached tokens belong to the old credential; an auth failure was the old
        // credential's too.
        patch.state = Some(None);
        if current.health.reason == Some(Reason::AuthFailed) {
            patch.health = Some(Health::default());
        }
    }
    if patch == AccountPatch::default() {
        return Ok(json::reply(StatusCode::OK, &view_live(admin, &current)));
    }
    let account = admin
        .live
        .store
        .update_account(id, patch)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("account", id))?;
    tracing::info!(account = id, "admin: account updated");
    Ok(json::reply(StatusCode::OK, &view_live(admin, &account)))
}

pub async fn delete(admin: &Admin, id: u64) -> Result<Reply, ApiError> {
    if !admin.live.store.delete_account(id).await.map_err(store_error)? {
        return Err(not_found("account", id));
    }
    tracing::info!(account = id, "admin: account deleted");
    Ok(json::no_content())
}

/// Clears the account's health and quota: every instance's pool may pick it again.
pub async fn reset(admin: &Admin, id: u64) -> Result<Reply, ApiError> {
    let patch = AccountPatch {
        health: Some(Health::default()),
        quota: Some(Quota::default()),
        ..AccountPatch::default()
    };
    let account = admin
        .live
        .store
        .update_account(id, patch)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("account", id))?;
    tracing::info!(account = id, "admin: account health reset");
    Ok(json::reply(StatusCode::OK, &view_live(admin, &account)))
}

/// Calls the upstream with the account as stored (a cheap call: a model list, never tokens).
/// Success clears its health; a failure is judged as the relay would judge it and, when it
/// benches the account, recorded. The answer is 200 either way: the check itself ran. One check
/// per account runs at a time on an instance; another meanwhile is a 409.
pub async fn check(admin: &Admin, id: u64) -> Result<Reply, ApiError> {
    let _running = admin.checks.start(id).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "check_in_progress",
            format!("account {id} is being checked already"),
        )
    })?;
    let account = stored(admin, id).await?;
    let channel = admin
        .channels
        .get(account.channel)
        .ok_or_else(|| {
            ApiError::not_supported(&format!("checking an account of channel {}", account.channel))
        })?
        .clone();
    let timeout = admin.live.runtime.load().request_timeout;
    let info = Arc::new(crate::state::spec(&account).info);
    let outcome = tokio::time::timeout(timeout, channel.check(info)).await.unwrap_or_else(|_| {
        Err(UpstreamError::new(ErrorKind::Timeout).with_message("no answer within request_timeout_s"))
    });
    let error = match outcome {
        Ok(()) => {
            let patch = AccountPatch { health: Some(Health::default()), ..AccountPatch::default() };
            let account = updated(admin, id, patch).await?;
            tracing::info!(account = id, "admin: account check passed");
            return Ok(json::reply(
                StatusCode::OK,
                &json!({"ok": true, "account": view_live(admin, &account)}),
            ));
        }
        Err(error) => error,
    };
    let streak = pool_state(admin).get(&id).map_or(0, |l| l.streak()) + 1;
    let verdict = health::judge(&error, streak);
    let now = now_ms();
    let cooldown_until = verdict.and_then(|v| v.cooldown).map(|d| now.saturating_add(d.as_millis() as i64));
    let benched = verdict.is_some_and(|v| v.cooldown.is_none_or(|d| !d.is_zero()));
    let account = if let (true, Some(v)) = (benched, verdict) {
        let health = Health {
            reason: Some(v.reason),
            cooldown_until,
            message: Some(format!("check failed: {}", error.kind().code())),
        };
        updated(admin, id, AccountPatch { health: Some(health), ..AccountPatch::default() }).await?
    } else {
        account
    };
    tracing::info!(account = id, error = error.kind().code(), "admin: account check failed");
    Ok(json::reply(
        StatusCode::OK,
        &json!({
            "ok": false,
            "error": {
                "code": error.kind().code(),
                "message": error.client_message(),
                "upstream_status": error.status(),
            },
            "reason": verdict.map(|v| v.reason.as_str()),
            "cooldown_until": cooldown_until.filter(|_| benched).map(rfc3339),
            "account": view_live(admin, &account),
        }),
    ))
}

/// The accounts whose check is running on this instance.
#[derive(Default)]
pub struct Checks(Mutex<HashSet<u64>>);

/// A running check; the account is free for the next one when this is dropped (the check
/// finished, or its request went away).
pub struct Running<'a> {
    checks: &'a Checks,
    id: u64,
}

impl Checks {
    /// Marks `id` as being checked, unless it already is.
    fn start(&self, id: u64) -> Option<Running<'_>> {
        let fresh = self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
        fresh.then_some(Running { checks: self, id })
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.checks.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

/// A new account with its fields trimmed and checked, as create and import take it.
pub(super) fn checked(new: NewAccount) -> Result<NewAccount, FieldError> {
    Ok(NewAccount {
        name: checked_name(&new.name)?,
        credential: checked_credential(&new.credential)?,
        base_url: new.base_url.as_deref().map(checked_base_url).transpose()?,
        weight: checked_weight(new.weight)?,
        ..new
    })
}

fn checked_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(invalid("name", format!("`name` must be 1 to {MAX_NAME} characters")));
    }
    Ok(name.to_string())
}

/// Surrounding whitespace (a pasted line break) is never part of a credential.
fn checked_credential(credential: &Secret) -> Result<Secret, FieldError> {
    let trimmed = credential.expose().trim();
    if trimmed.is_empty() {
        return Err(invalid("credential", "`credential` must not be empty"));
    }
    Ok(Secret::new(trimmed))
}

fn checked_base_url(url: &str) -> Result<String, FieldError> {
    let url = url.trim();
    if !crate::config::is_http_url(url) {
        return Err(invalid("base_url", "`base_url` must be an http:// or https:// URL"));
    }
    Ok(url.to_string())
}

fn checked_weight(weight: u32) -> Result<u32, FieldError> {
    if weight == 0 {
        return Err(invalid("weight", "`weight` must be at least 1"));
    }
    Ok(weight)
}

async fn stored(admin: &Admin, id: u64) -> Result<Account, ApiError> {
    admin.live.store.get_account(id).await.map_err(store_error)?.ok_or_else(|| not_found("account", id))
}

async fn updated(admin: &Admin, id: u64, patch: AccountPatch) -> Result<Account, ApiError> {
    admin
        .live
        .store
        .update_account(id, patch)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("account", id))
}

/// This instance's live record of every account in the pool, by id.
fn pool_state(admin: &Admin) -> HashMap<u64, Arc<pool::Live>> {
    ChannelKind::ALL
        .into_iter()
        .flat_map(|c| admin.live.pool.accounts(c))
        .map(|(info, live)| (info.id, live))
        .collect()
}

fn view_live(admin: &Admin, account: &Account) -> Value {
    view(account, pool_state(admin).get(&account.id).map(Arc::as_ref), now_ms())
}

/// What the admin API shows of an account. Health counts while its cooldown runs (or, without
/// a deadline, until an operator acts); a cooldown that has passed shows as `ok`.
pub(super) fn view(a: &Account, live: Option<&pool::Live>, now: i64) -> Value {
    let active = a.health.reason.is_some() && a.health.cooldown_until.is_none_or(|until| until > now);
    let status = match (a.enabled, active, a.health.cooldown_until) {
        (false, _, _) => "disabled",
        (true, false, _) => "ok",
        (true, true, None) => "failed",
        (true, true, Some(_)) => "cooling",
    };
    json!({
        "id": a.id,
        "channel": a.channel.as_str(),
        "name": a.name,
        "base_url": a.base_url,
        "weight": a.weight,
        "priority": a.priority,
        "enabled": a.enabled,
        "max_concurrency": a.max_concurrency,
        "credential_fingerprint": a.credential.fingerprint(),
        "status": status,
        "reason": a.health.reason.filter(|_| active).map(Reason::as_str),
        "cooldown_until": a.health.cooldown_until.filter(|_| active).map(rfc3339),
        "health_message": a.health.message.as_ref().filter(|_| active),
        "quota": {
            "remaining": a.quota.remaining,
            "limit": a.quota.limit,
            "reset_at": a.quota.reset_at.map(rfc3339),
        },
        "in_flight": live.map_or(0, |l| l.in_flight()),
        "failure_streak": live.map_or(0, |l| l.streak()),
        "last_used_at": a.last_used_at.max(live.and_then(|l| l.last_used())).map(rfc3339),
        "created_at": rfc3339(a.created_at),
        "updated_at": rfc3339(a.updated_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(f: impl FnOnce(&mut Account)) -> Account {
        let mut a = Account {
            id: 1,
            channel: ChannelKind::OpenAi,
            name: "a".into(),
            credential: Secret::new("sk-secret-credential"),
            base_url: None,
            weight: 1,
            priority: 0,
            enabled: true,
            max_concurrency: 0,
            health: Health::default(),
            quota: Quota::default(),
            state: Some(Secret::new("cached-token")),
            last_used_at: None,
            created_at: 0,
            updated_at: 0,
        };
        f(&mut a);
        a
    }

    #[test]
    fn views_show_status_and_no_secret() {
        let now = 1_000_000;
        let ok = view(&account(|_| {}), None, now);
        assert_eq!(ok["status"], "ok");
        let text = ok.to_string();
        assert!(!text.contains("sk-secret-credential") && !text.contains("cached-token"), "{text}");
        assert_eq!(ok["credential_fingerprint"], Secret::new("sk-secret-credential").fingerprint());

        let cooling = view(
            &account(|a| {
                a.health = Health {
                    reason: Some(Reason::RateLimited),
                    cooldown_until: Some(now + 1),
                    message: Some("rate_limited".into()),
                }
            }),
            None,
            now,
        );
        assert_eq!(
            (cooling["status"].as_str(), cooling["reason"].as_str()),
            (Some("cooling"), Some("rate_limited"))
        );
        let over = view(
            &account(|a| {
                a.health =
                    Health { reason: Some(Reason::RateLimited), cooldown_until: Some(now), message: None }
            }),
            None,
            now,
        );
        assert_eq!((over["status"].as_str(), over["reason"].as_str()), (Some("ok"), None));
        let failed = view(
            &account(|a| {
                a.health = Health { reason: Some(Reason::AuthFailed), cooldown_until: None, message: None }
            }),
            None,
            now,
        );
        assert_eq!((failed["status"].as_str(), failed["cooldown_until"].as_str()), (Some("failed"), None));
        assert_eq!(view(&account(|a| a.enabled = false), None, now)["status"], "disabled");
    }

    #[test]
    fn one_check_per_account_at_a_time() {
        let checks = Checks::default();
        let first = checks.start(1).unwrap();
        assert!(checks.start(1).is_none());
        assert!(checks.start(2).is_some());
        drop(first);
        assert!(checks.start(1).is_some());
    }

    #[test]
    fn new_accounts_are_trimmed_and_checked() {
        let new = |f: fn(&mut NewAccount)| {
            let mut n = NewAccount {
                channel: ChannelKind::OpenAi,
                name: " main ".into(),
                credential: Secret::new("sk-x\n"),
                base_url: Some("http://127.0.0.1:1/v1".into()),
                weight: 1,
                priority: 0,
                enabled: true,
                max_concurrency: 0,
            };
            f(&mut n);
            checked(n)
        };
        let ok = new(|_| {}).unwrap();
        assert_eq!((ok.name.as_str(), ok.credential.expose()), ("main", "sk-x"));
        assert_eq!(new(|n| n.name = " ".into()).unwrap_err().param, Some("name"));
        assert_eq!(new(|n| n.credential = Secret::new("  ")).unwrap_err().param, Some("credential"));
        assert_eq!(new(|n| n.base_url = Some("ftp://x".into())).unwrap_err().param, Some("base_url"));
        assert_eq!(new(|n| n.weight = 0).unwrap_err().param, Some("weight"));
    }
}
