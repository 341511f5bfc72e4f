//! The query string of an admin request: `name=value` pairs, percent-decoded, each name known to
//! the endpoint and given at most once.

use super::json::{FieldError, invalid};

/// The decoded parameters of one query string.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(&'static str, String)>,
}

impl Query {
    /// Parses `raw` (the part after `?`), accepting only the names in `known`.
    pub fn parse(raw: Option<&str>, known: &[&'static str]) -> Result<Query, FieldError> {
        let mut pairs = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name).unwrap_or_default();
            let Some(&known_name) = known.iter().find(|k| **k == name) else {
                return Err(FieldError {
                    param: None,
                    message: format!(
                        "unknown query parameter `{name}` (expected one of: {})",
                        known.join(", ")
                    ),
                });
            };
            if pairs.iter().any(|(n, _)| *n == known_name) {
                return Err(invalid(known_name, format!("`{known_name}` is given twice")));
            }
            let value = decode(value).ok_or_else(|| {
                invalid(known_name, format!("`{known_name}` is not valid percent-encoded UTF-8"))
            })?;
            pairs.push((known_name, value));
        }
        Ok(Query { pairs })
    }

    /// The value of `name`, if given (an empty value counts as not given).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// The value of `name` as a number, if given.
    pub fn number(&self, name: &'static str) -> Result<Option<u64>, FieldError> {
        self.get(name)
            .map(|v| v.parse::<u64>().map_err(|_| invalid(name, format!("`{name}` must be a whole number"))))
            .transpose()
    }

    /// The value of `name` as a UTC day `yyyymmdd`, if given.
    pub fn day(&self, name: &'static str) -> Result<Option<u32>, FieldError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let stamp = format!(
            "{}-{}-{}T00:00:00Z",
            v.get(0..4).unwrap_or(""),
            v.get(4..6).unwrap_or(""),
            v.get(6..).unwrap_or("")
        );
        match (v.len(), crate::time::parse_rfc3339(&stamp)) {
            (8, Some(ms)) => Ok(Some(crate::time::day_of(ms))),
            _ => Err(invalid(name, format!("`{name}` must be a day as yyyymmdd"))),
        }
    }
}

/// Percent-decoding with `+` as a space; `None` for a bad escape or bytes that are not UTF-8.
fn decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_and_checked() {
        let q =
            Query::parse(Some("model=meta-llama%2FLlama+3&from=20260101&key="), &["model", "from", "key"])
                .unwrap();
        assert_eq!(q.get("model"), Some("meta-llama/Llama 3"));
        assert_eq!(q.day("from").unwrap(), Some(20260101));
        assert_eq!(q.get("key"), None);
        assert_eq!(q.number("key").unwrap(), None);
        assert!(Query::parse(Some("modle=x"), &["model"]).unwrap_err().message.contains("`modle`"));
        assert_eq!(Query::parse(Some("a=1&a=2"), &["a"]).unwrap_err().param, Some("a"));
        assert_eq!(Query::parse(Some("a=%zz"), &["a"]).unwrap_err().param, Some("a"));
        assert_eq!(Query::parse(Some("a=%ff"), &["a"]).unwrap_err().param, Some("a"));
        assert!(Query::parse(None, &[]).unwrap().get("a").is_none());
    }

    #[test]
    fn days_and_numbers_are_validated() {
        let q =
            Query::parse(Some("from=20260230&to=2026011&key=x&account=7"), &["from", "to", "key", "account"])
                .unwrap();
        assert_eq!(q.day("from").unwrap_err().param, Some("from"));
        assert_eq!(q.day("to").unwrap_err().param, Some("to"));
        assert_eq!(q.number("key").unwrap_err().param, Some("key"));
        assert_eq!(q.number("account").unwrap(), Some(7));
    }
}
