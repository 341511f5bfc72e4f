//! The original Orchids-2api's account JSON (`reference/original-gateway.md` §5.1, §5.6), mapped
//! to a new account of ours.
//!
//! | original                         | orchids2api                                                  |
//! |----------------------------------|--------------------------------------------------------------|
//! | `account_type` (`""` = orchids)  | `channel`: `orchids`, `warp` or `grok` (any case)            |
//! | orchids `client_cookie`          | `credential` (Clerk `__client` cookie; `Bearer ` stripped)   |
//! | warp `refresh_token`             | `credential` (else `client_cookie`, where older records kept it) |
//! | grok `client_cookie`             | `credential` (the SSO token; else `refresh_token`)           |
//! | `name`                           | `name`; empty: `email`; empty: `<channel>-<fingerprint>`     |
//! | `enabled`                        | `enabled` (absent: `true`)                                   |
//! | `weight` (≤ 0 meant 1)           | `weight`, at least 1                                         |
//! | `priority` (not in the original) | `priority`, when present                                     |
//!
//! Everything else (`session_cookie`, `session_id`, `token`, `client_uat`, usage counters, status,
//! timestamps) is derived state the channel rebuilds from the credential, and is ignored: an
//! imported account starts healthy, with no usage.

use super::json::{self, FieldError, invalid};
use crate::channels::ChannelKind;
use crate::secret::Secret;
use crate::store::NewAccount;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct OriginalAccount {
    account_type: Option<String>,
    name: Option<String>,
    email: Option<String>,
    client_cookie: Option<String>,
    refresh_token: Option<String>,
    enabled: Option<bool>,
    weight: Option<i64>,
    priority: Option<i64>,
}

/// One of the original's accounts as a new account (not yet checked against ours).
pub fn account(value: Value) -> Result<NewAccount, FieldError> {
    let o: OriginalAccount = json::decode_foreign(value)?;
    let kind = o.account_type.as_deref().map(str::trim).unwrap_or("");
    let channel = match kind.to_ascii_lowercase().as_str() {
        "" | "orchids" => ChannelKind::Orchids,
        "warp" => ChannelKind::Warp,
        "grok" => ChannelKind::Grok,
        _ => {
            return Err(invalid(
                "account_type",
                format!("unknown account_type `{kind}` (the original had orchids, warp and grok)"),
            ));
        }
    };
    let present =
        |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let credential = match channel {
        ChannelKind::Warp => present(&o.refresh_token).or_else(|| present(&o.client_cookie)),
        ChannelKind::Grok => present(&o.client_cookie).or_else(|| present(&o.refresh_token)),
        _ => present(&o.client_cookie).map(|c| c.strip_prefix("Bearer ").map(str::to_string).unwrap_or(c)),
    }
    .map(Secret::new)
    .ok_or_else(|| {
        let field = match channel {
            ChannelKind::Warp => "refresh_token",
            _ => "client_cookie",
        };
        invalid(field, format!("a {channel} account needs `{field}`, its credential"))
    })?;
    let name = present(&o.name)
        .or_else(|| present(&o.email))
        .unwrap_or_else(|| format!("{channel}-{}", credential.fingerprint()));
    let priority = o.priority.unwrap_or(0);
    if priority < 0 {
        return Err(invalid("priority", "`priority` must not be negative"));
    }
    Ok(NewAccount {
        channel,
        name,
        credential,
        base_url: None,
        weight: u32::try_from(o.weight.unwrap_or(1).max(1)).unwrap_or(u32::MAX),
        priority: u32::try_from(priority).unwrap_or(u32::MAX),
        enabled: o.enabled.unwrap_or(true),
        max_concurrency: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_channel_takes_its_own_secret() {
        let orchids = account(json!({
            "id": 3, "name": "", "account_type": "", "email": "a@example.com",
            "client_cookie": "Bearer clerk-client-cookie", "session_cookie": "sess", "session_id": "sess_1",
            "token": "jwt", "enabled": false, "weight": 0, "usage_total": 12.5, "status_code": "401"
        }))
        .unwrap();
        assert_eq!(orchids.channel, ChannelKind::Orchids);
        assert_eq!(orchids.credential.expose(), "clerk-client-cookie");
        assert_eq!((orchids.name.as_str(), orchids.enabled, orchids.weight), ("a@example.com", false, 1));

        let warp =
            account(json!({"account_type": "Warp", "refresh_token": "AMf-refresh", "weight": 3})).unwrap();
        assert_eq!(
            (warp.channel, warp.credential.expose(), warp.weight),
            (ChannelKind::Warp, "AMf-refresh", 3)
        );
        assert_eq!(warp.name, format!("warp-{}", Secret::new("AMf-refresh").fingerprint()));
        let old_warp = account(json!({"account_type": "warp", "client_cookie": "AMf-old"})).unwrap();
        assert_eq!(old_warp.credential.expose(), "AMf-old");

        let grok =
            account(json!({"account_type": "grok", "name": "g", "client_cookie": "sso-token"})).unwrap();
        assert_eq!(
            (grok.channel, grok.credential.expose(), grok.enabled),
            (ChannelKind::Grok, "sso-token", true)
        );
    }

    #[test]
    fn entries_without_a_credential_or_with_an_unknown_type_are_refused() {
        let e = account(json!({"account_type": "orchids", "token": "jwt-only"})).unwrap_err();
        assert_eq!(e.param, Some("client_cookie"));
        assert!(!e.message.contains("jwt-only"));
        assert_eq!(account(json!({"account_type": "warp"})).unwrap_err().param, Some("refresh_token"));
        assert_eq!(
            account(json!({"account_type": "claude", "client_cookie": "c"})).unwrap_err().param,
            Some("account_type")
        );
        assert_eq!(account(json!({"client_cookie": 5})).unwrap_err().param, Some("client_cookie"));
        assert_eq!(account(json!("x")).unwrap_err().message, "expected a JSON object");
    }
}
