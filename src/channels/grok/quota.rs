//! Each account's quota per mode, read from `POST /rest/rate-limits` (fact sheet §1.6) and kept
//! in the pool, which skips an account whose quota for the requested mode is used up.
//!
//! Read after every answer and on a schedule. The reading's shape varies: query counts
//! (`remainingQueries`/`totalQueries`), token counts (`remainingTokens`/`totalTokens`), or generic
//! names, possibly nested. A family with both numbers beats one with only one; tokens beat
//! queries beat generic names. An empty quota is expected back `windowSizeSeconds` after the
//! reading, unless the answer names a reset time; the next reading ends the wait earlier.

use super::client::Client;
use crate::pool::{Pool, ScopedQuota};
use crate::time::now_ms;
use serde_json::{Value, json};

/// Name families, in priority order: (limit keys, remaining keys), normalised (lower case,
/// no `_` or `-`).
const FAMILIES: [(&[&str], &[&str]); 3] = [
    (
        &["limittokens", "maxtokens", "tokenlimit", "tokenslimit", "totaltokens"],
        &["remainingtokens", "tokensremaining"],
    ),
    (
        &["maxqueries", "querylimit", "querieslimit", "totalqueries", "requestlimit", "requestslimit"],
        &["remainingqueries", "queriesremaining", "remainingrequests"],
    ),
    (&["limit", "quota", "quotalimit"], &["remaining", "quotaremaining"]),
];
const RESET_KEYS: [&str; 6] = ["resetatms", "resetat", "reset", "resettime", "resettimestamp", "nextreset"];

/// Reads the quota of `mode` with this account.
pub async fn read(client: &Client, mode: &str) -> Result<ScopedQuota, crate::ir::UpstreamError> {
    let answer = client
        .post_json("/rest/rate-limits", "/", &json!({"requestKind": "DEFAULT", "modelName": mode}))
        .await?;
    parse(mode, &answer, now_ms()).ok_or_else(|| {
        crate::ir::UpstreamError::new(crate::ir::ErrorKind::Protocol)
            .with_message("grok's rate limits named no quota")
    })
}

/// A reading younger than this, with more than [`PLENTY`] left, is not renewed after an answer.
const FRESH_MS: i64 = 60_000;
const PLENTY: i64 = 5;

/// After an answer: reads again unless a recent reading left plenty, so a busy account does not
/// double its calls to grok.
pub async fn refresh_after_use(client: &Client, pool: &Pool, account: u64, mode: &str) {
    let recent = pool
        .scoped_quota(account, mode)
        .is_some_and(|q| q.remaining > PLENTY && now_ms() - q.checked_at < FRESH_MS);
    if !recent {
        refresh(client, pool, account, mode).await;
    }
}

/// Reads and records; failures are only logged (the next reading tries again).
pub async fn refresh(client: &Client, pool: &Pool, account: u64, mode: &str) {
    match read(client, mode).await {
        Ok(quota) => pool.set_scoped_quota(account, quota),
        Err(e) => tracing::debug!(account, mode, error = %e, "grok: quota not read"),
    }
}

/// A rate-limits answer as a quota; `None` when it names no remaining count.
pub fn parse(mode: &str, answer: &Value, now: i64) -> Option<ScopedQuota> {
    let mut found: Vec<(String, i64)> = Vec::new();
    collect(answer, &mut found);
    let first = |keys: &[&str]| found.iter().find(|(k, _)| keys.contains(&k.as_str())).map(|(_, v)| *v);
    let mut best: Option<(Option<i64>, i64)> = None;
    for (limits, remainings) in FAMILIES {
        let (limit, remaining) = (first(limits), first(remainings));
        match (limit, remaining, best) {
            (Some(l), Some(r), _) => {
                best = Some((Some(l), r));
                break;
            }
            (None, Some(r), None) => best = Some((None, r)),
            _ => {}
        }
    }
    let (total, remaining) = best?;
    let total = total.map(|t| t.max(remaining));
    let window = first(&["windowsizeseconds"]).filter(|w| *w > 0);
    let reset_at = found
        .iter()
        .find(|(k, _)| RESET_KEYS.contains(&k.as_str()))
        .map(|(_, v)| if *v > 1_000_000_000_000 { *v } else { v * 1000 })
        .or_else(|| reset_from_text(answer))
        .or_else(|| window.map(|w| now + w * 1000));
    Some(ScopedQuota { scope: mode.to_string(), remaining, total, reset_at, checked_at: now })
}

/// Every numeric value under a key anywhere in the answer, in document order.
fn collect(value: &Value, out: &mut Vec<(String, i64)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key: String =
                    k.chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_lowercase();
                match v {
                    Value::Number(n) => {
                        if let Some(n) = n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)) {
                            out.push((key, n));
                        }
                    }
                    other => collect(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// A key as the name families list it: lower case, without `_` and `-`.
fn normal(key: &str) -> String {
    key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

/// An RFC 3339 `resetAt`-style string, as Unix ms.
fn reset_from_text(answer: &Value) -> Option<i64> {
    let Value::Object(map) = answer else { return None };
    map.iter().find_map(|(k, v)| {
        if RESET_KEYS.contains(&normal(k).as_str()) {
            crate::time::parse_rfc3339(v.as_str()?)
        } else {
            reset_from_text(v)
        }
    })
}

/// Reads every grok account's quotas every `every`: the modes it has a reading for, and `fast`.
pub fn spawn_scheduler(
    options: std::sync::Arc<super::Options>,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            for (account, live) in options.pool.accounts(crate::channels::ChannelKind::Grok) {
                if !account.enabled {
                    continue;
                }
                let Ok(client) = super::client(&options, &account) else { continue };
                let mut modes: Vec<String> = live.scoped_quotas().iter().map(|q| q.scope.clone()).collect();
                if !modes.iter().any(|m| m == "fast") {
                    modes.push("fast".to_string());
                }
                for mode in modes {
                    refresh(&client, &options.pool, account.id, &mode).await;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(v: &str) -> Option<(i64, Option<i64>, Option<i64>)> {
        parse("fast", &serde_json::from_str(v).unwrap(), 1_000).map(|q| (q.remaining, q.total, q.reset_at))
    }

    #[test]
    fn reads_every_shape_of_the_fact_sheet() {
        assert_eq!(
            q(
                r#"{"windowSizeSeconds":72000,"remainingQueries":20,"totalQueries":20,"lowEffortRateLimits":null}"#
            ),
            Some((20, Some(20), Some(1_000 + 72_000_000)))
        );
        assert_eq!(q(r#"{"maxQueries":140,"remainingQueries":23}"#), Some((23, Some(140), None)));
        assert_eq!(
            q(
                r#"{"limits":{"maxTokens":500000,"remainingTokens":499000,"maxQueries":140,"remainingQueries":23}}"#
            ),
            Some((499_000, Some(500_000), None))
        );
        assert_eq!(
            q(r#"{"windowSizeSeconds":72000,"remainingQueries":0,"totalQueries":0,"remainingTokens":80,"totalTokens":80,"lowEffortRateLimits":{"cost":1,"remainingQueries":80}}"#).map(|x| (x.0, x.1)),
            Some((80, Some(80)))
        );
        assert_eq!(
            q(r#"{"remaining":3,"meta":{"reset_at_ms":1730000000000}}"#),
            Some((3, None, Some(1_730_000_000_000)))
        );
        assert_eq!(
            q(r#"{"remaining":0,"resetAt":"2026-03-05T19:00:00Z"}"#).unwrap().2,
            Some(1_772_737_200_000)
        );
        assert_eq!(q(r#"{"other":1}"#), None);
    }
}
