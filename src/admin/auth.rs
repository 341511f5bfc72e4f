//! Who may call the admin API: the bearer of `admin_token`.
//!
//! The token is kept only as its SHA-256 digest, and a presented token is hashed and compared
//! with it in constant time: the comparison's timing says nothing about the token, and the
//! token itself is never held in this module's memory after start-up.
//!
//! With no `admin_token` configured the admin API is off: every request gets 403 saying how to
//! turn it on. The console login (a session cookie checked against the store's console sessions)
//! will be a second way in, tried here before the token.

use crate::dialect::ApiError;
use crate::secret::Secret;
use http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};

/// The configured admin token, as a digest.
pub struct AdminToken(Option<[u8; 32]>);

impl AdminToken {
    pub fn new(token: Option<&Secret>) -> AdminToken {
        AdminToken(token.map(|t| digest(t.expose())))
    }

    /// Lets the request through, or says why not: 403 when the admin API is off, 401 for a
    /// missing or wrong token.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.0 else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "admin_disabled",
                "the admin API is off: set `admin_token` (or O2A_ADMIN_TOKEN) to use it",
            ));
        };
        let presented = bearer(headers).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_admin_token",
                "no admin token: send it as `Authorization: Bearer <admin_token>`",
            )
        })?;
        if same(&digest(presented), expected) {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_admin_token", "invalid admin token"))
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two digests without stopping at the first difference.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// The token of the first `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get_all(header::AUTHORIZATION).iter().find_map(|v| {
        let (scheme, token) = v.to_str().ok()?.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, authorization.parse().unwrap());
        h
    }

    #[test]
    fn only_the_configured_token_passes() {
        let token = AdminToken::new(Some(&Secret::new("admin-secret")));
        assert!(token.check(&headers("Bearer admin-secret")).is_ok());
        assert!(token.check(&headers("bearer  admin-secret ")).is_ok());
        assert_eq!(token.check(&headers("Bearer admin-secreT")).unwrap_err().code, "invalid_admin_token");
        assert_eq!(token.check(&headers("Basic admin-secret")).unwrap_err().code, "missing_admin_token");
        assert_eq!(token.check(&HeaderMap::new()).unwrap_err().status, StatusCode::UNAUTHORIZED);
        let off = AdminToken::new(None);
        assert_eq!(off.check(&headers("Bearer admin-secret")).unwrap_err().status, StatusCode::FORBIDDEN);
    }
}
