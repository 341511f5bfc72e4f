//! The health classifier: what an upstream failure means for the account that met it.
//!
//! One function, [`judge`], maps an [`UpstreamError`] and the account's failure streak to a
//! [`Verdict`]: a reason code and how long the account sits out. Only the relay calls it, after a
//! failed attempt; client cancellations never reach it.
//!
//! | failure                                   | reason            | cooldown                                   |
//! |-------------------------------------------|-------------------|--------------------------------------------|
//! | 401 (after a refresh, where there is one) | `auth_failed`     | until fixed (an operator resets it)        |
//! | 403 with an API error                     | `forbidden`       | 30 min, doubling per repeat, at most 6 h   |
//! | HTML challenge page                       | `challenge`       | 2 min, doubling, at most 30 min            |
//! | 429                                       | `rate_limited`    | `Retry-After`, else 60 s doubling to 1 h   |
//! | 402 / out of credits                      | `quota_exhausted` | `Retry-After` / reset, else 1 h            |
//! | 5xx, timeout, cut stream, empty 200, ...  | `upstream_error`  | from the 3rd failure in a row: 30 s,       |
//! |                                           |                   | doubling, at most 10 min                   |
//! | the request's own fault (400, 404)        | —                 | none, and the streak is untouched          |
//! | a conflict (409), a plan restriction      | —                 | none (the relay tries another account for  |
//! |                                           |                   | a plan restriction, never for a conflict)  |

use crate::ir::{ErrorKind, UpstreamError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Why an account is cooling down or out of service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    AuthFailed,
    Forbidden,
    Challenge,
    RateLimited,
    QuotaExhausted,
    UpstreamError,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::AuthFailed,
        Reason::Forbidden,
        Reason::Challenge,
        Reason::RateLimited,
        Reason::QuotaExhausted,
        Reason::UpstreamError,
    ];

    /// The reason whose [`Reason::as_str`] is `name`.
    pub fn from_name(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::AuthFailed => "auth_failed",
            Reason::Forbidden => "forbidden",
            Reason::Challenge => "challenge",
            Reason::RateLimited => "rate_limited",
            Reason::QuotaExhausted => "quota_exhausted",
            Reason::UpstreamError => "upstream_error",
        }
    }

    /// A compact code for an atomic; 0 means "no reason".
    pub(crate) fn code(self) -> u8 {
        self as u8 + 1
    }

    pub(crate) fn from_code(code: u8) -> Option<Reason> {
        Reason::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }
}

/// What a failure means for its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub reason: Reason,
    /// How long the account sits out; `None`: until an operator acts.
    pub cooldown: Option<Duration>,
}

/// Consecutive failures before an `upstream_error` cools the account: one flaky answer should
/// move the request elsewhere, not bench the account.
pub const STREAK_BEFORE_COOLDOWN: u32 = 3;

const MINUTE: Duration = Duration::from_secs(60);

/// Judges a failure. `streak` counts the account's consecutive failures *including* this one.
/// `None`: the request was at fault, the account is fine.
pub fn judge(error: &UpstreamError, streak: u32) -> Option<Verdict> {
    let repeats = streak.saturating_sub(1);
    let (reason, cooldown) = match error.kind() {
        // The request's fault, or this account's plan: the account itself is fine.
        ErrorKind::InvalidRequest
        | ErrorKind::ModelNotFound
        | ErrorKind::Conflict
        | ErrorKind::NotEntitled => {
            return None;
        }
        ErrorKind::Unauthorized => (Reason::AuthFailed, None),
        ErrorKind::Forbidden => (Reason::Forbidden, Some(doubling(30 * MINUTE, repeats, 6 * 60 * MINUTE))),
        ErrorKind::Challenge => (Reason::Challenge, Some(doubling(2 * MINUTE, repeats, 30 * MINUTE))),
        ErrorKind::RateLimited => {
            let wait = error.retry_after().unwrap_or_else(|| doubling(MINUTE, repeats, 60 * MINUTE));
            (Reason::RateLimited, Some(wait))
        }
        ErrorKind::QuotaExhausted => {
            (Reason::QuotaExhausted, Some(error.retry_after().unwrap_or(60 * MINUTE)))
        }
        ErrorKind::Overloaded
        | ErrorKind::Server
        | ErrorKind::Timeout
        | ErrorKind::Connect
        | ErrorKind::EmptyResponse
        | ErrorKind::StreamCut
        | ErrorKind::Protocol => {
            if streak < STREAK_BEFORE_COOLDOWN {
                return Some(Verdict { reason: Reason::UpstreamError, cooldown: Some(Duration::ZERO) });
            }
            let repeats = streak - STREAK_BEFORE_COOLDOWN;
            (Reason::UpstreamError, Some(doubling(Duration::from_secs(30), repeats, 10 * MINUTE)))
        }
    };
    Some(Verdict { reason, cooldown })
}

/// `base × 2^repeats`, at most `cap`.
fn doubling(base: Duration, repeats: u32, cap: Duration) -> Duration {
    base.checked_mul(1u32.checked_shl(repeats.min(20)).unwrap_or(u32::MAX)).unwrap_or(cap).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: ErrorKind) -> UpstreamError {
        UpstreamError::new(kind)
    }

    #[test]
    fn conflicts_and_plan_restrictions_leave_the_account_alone() {
        assert_eq!(judge(&err(ErrorKind::Conflict), 1), None);
        assert_eq!(judge(&err(ErrorKind::NotEntitled), 5), None);
        assert!(!err(ErrorKind::Conflict).is_retryable());
        assert!(err(ErrorKind::NotEntitled).is_retryable(), "another account may be entitled");
    }

    #[test]
    fn each_failure_gets_its_reason_and_cooldown() {
        assert_eq!(
            judge(&err(ErrorKind::Unauthorized), 1),
            Some(Verdict { reason: Reason::AuthFailed, cooldown: None })
        );
        assert_eq!(judge(&err(ErrorKind::Forbidden), 1).unwrap().cooldown, Some(30 * MINUTE));
        assert_eq!(judge(&err(ErrorKind::Forbidden), 2).unwrap().cooldown, Some(60 * MINUTE));
        assert_eq!(judge(&err(ErrorKind::Forbidden), 10).unwrap().cooldown, Some(6 * 60 * MINUTE));
        assert_eq!(
            judge(&err(ErrorKind::Challenge), 1).unwrap(),
            Verdict { reason: Reason::Challenge, cooldown: Some(2 * MINUTE) }
        );
        let limited = err(ErrorKind::RateLimited).with_retry_after(Duration::from_secs(7));
        assert_eq!(judge(&limited, 5).unwrap().cooldown, Some(Duration::from_secs(7)));
        assert_eq!(judge(&err(ErrorKind::RateLimited), 1).unwrap().cooldown, Some(MINUTE));
        assert_eq!(judge(&err(ErrorKind::RateLimited), 2).unwrap().cooldown, Some(2 * MINUTE));
        assert_eq!(judge(&err(ErrorKind::QuotaExhausted), 1).unwrap().reason, Reason::QuotaExhausted);
        assert_eq!(judge(&err(ErrorKind::InvalidRequest), 1), None);
        assert_eq!(judge(&err(ErrorKind::ModelNotFound), 1), None);
    }

    #[test]
    fn upstream_errors_cool_only_after_a_streak() {
        for kind in [
            ErrorKind::Server,
            ErrorKind::Timeout,
            ErrorKind::EmptyResponse,
            ErrorKind::StreamCut,
            ErrorKind::Connect,
        ] {
            assert_eq!(judge(&err(kind), 1).unwrap().cooldown, Some(Duration::ZERO), "{kind:?}");
            assert_eq!(judge(&err(kind), 2).unwrap().cooldown, Some(Duration::ZERO));
            assert_eq!(judge(&err(kind), 3).unwrap().cooldown, Some(Duration::from_secs(30)));
            assert_eq!(judge(&err(kind), 4).unwrap().cooldown, Some(Duration::from_secs(60)));
            assert_eq!(judge(&err(kind), 40).unwrap().cooldown, Some(10 * MINUTE));
        }
    }

    #[test]
    fn reason_codes_round_trip() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
        assert_eq!(Reason::from_code(0), None);
    }
}
