//! JSON in and out of the admin API: request objects decoded with errors that name the field at
//! fault, the three states of a PATCH field, and JSON replies.
//!
//! **Naming the field.** serde's errors say what was wrong ("invalid type: string, expected
//! u32") but not where. Request types here declare every field optional at the serde level
//! (required ones are checked by [`required`]), so a one-member object `{field: value}` decodes
//! exactly when that value is right: on failure, the first member whose one-member object fails
//! is the culprit. The field names come from serde itself ([`field_names`]), so they cannot drift
//! from the struct.
//!
//! **Secrets.** serde's messages quote the offending scalar; for a credential field they would
//! quote the credential. Errors on [`SECRET_FIELDS`] only say what was expected.

use crate::dialect::ApiError;
use crate::server::Reply;
use http::StatusCode;
use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Fields whose value is never quoted back, even when it is malformed.
const SECRET_FIELDS: &[&str] =
    &["credential", "credential_sealed", "client_cookie", "refresh_token", "session_cookie", "token"];

/// A PATCH field: absent (`None`: unchanged), `null` (`Some(None)`: cleared) or a value.
pub type Patch<T> = Option<Option<T>>;

/// serde `deserialize_with` for [`Patch`] fields (with `#[serde(default)]`): a present `null`
/// becomes `Some(None)` instead of disappearing into `None`.
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Patch<T>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Why a JSON object did not decode into a request type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field at fault, when it is one of the type's own.
    pub param: Option<&'static str>,
    pub message: String,
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> ApiError {
        let error = ApiError::bad_request(e.message);
        match e.param {
            Some(param) => error.with_param(param),
            None => error,
        }
    }
}

/// A request body: a JSON object of `T`'s fields and nothing else.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(ApiError::invalid_json)?;
    Ok(decode_value(value)?)
}

/// A JSON value that must be an object of `T`'s fields and nothing else.
pub fn decode_value<T: DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    decode_object(value, true)
}

/// A JSON object written by another program: the members `T` does not know are ignored.
pub fn decode_foreign<T: DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    decode_object(value, false)
}

fn decode_object<T: DeserializeOwned>(value: Value, strict: bool) -> Result<T, FieldError> {
    let Value::Object(mut map) = value else {
        return Err(FieldError { param: None, message: "expected a JSON object".into() });
    };
    let fields = field_names::<T>();
    if strict && let Some(unknown) = map.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(FieldError {
            param: None,
            message: format!("unknown field `{unknown}` (expected one of: {})", fields.join(", ")),
        });
    }
    map.retain(|k, _| fields.contains(&k.as_str()));
    match serde_json::from_value::<T>(Value::Object(map.clone())) {
        Ok(decoded) => Ok(decoded),
        Err(whole) => Err(culprit::<T>(fields, &map)
            .unwrap_or_else(|| FieldError { param: None, message: whole.to_string() })),
    }
}

/// The first member of `map` that does not decode on its own.
fn culprit<T: DeserializeOwned>(
    fields: &'static [&'static str],
    map: &Map<String, Value>,
) -> Option<FieldError> {
    fields.iter().find_map(|&field| {
        let value = map.get(field)?;
        let alone = Map::from_iter([(field.to_string(), value.clone())]);
        let error = serde_json::from_value::<T>(Value::Object(alone)).err()?;
        let message = if SECRET_FIELDS.contains(&field) {
            format!("{field}: expected a string")
        } else {
            format!("{field}: {error}")
        };
        Some(FieldError { param: Some(field), message })
    })
}

/// A required field's value, or a 400 naming it.
pub fn required<T>(param: &'static str, value: Option<T>) -> Result<T, FieldError> {
    value.ok_or_else(|| FieldError { param: Some(param), message: format!("`{param}` is required") })
}

/// A PATCH field that can be changed but not cleared: `null` is refused.
pub fn not_null<T>(param: &'static str, value: Patch<T>) -> Result<Option<T>, FieldError> {
    match value {
        Some(None) => Err(FieldError { param: Some(param), message: format!("`{param}` cannot be null") }),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

/// A 400 naming `param`.
pub fn invalid(param: &'static str, message: impl Into<String>) -> FieldError {
    FieldError { param: Some(param), message: message.into() }
}

/// `value` as a JSON reply.
pub fn reply(status: StatusCode, value: &impl Serialize) -> Reply {
    // Serializing a `Value` or a derived struct of strings and numbers cannot fail.
    let body = serde_json::to_vec(value).unwrap_or_default();
    crate::server::json_reply(status, &body)
}

/// 204 No Content.
pub fn no_content() -> Reply {
    let mut response = Reply::new(crate::server::ResponseBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// The field names of a struct, as serde knows them: its derived `Deserialize` hands them to
/// `deserialize_struct`, which this deserializer records before declining to go on.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe(Option<&'static [&'static str]>);

    impl<'de> Deserializer<'de> for &mut Probe {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = Some(fields);
            Err(serde::de::Error::custom("probed"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut probe = Probe(None);
    let _ = T::deserialize(&mut probe);
    probe.0.unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Example {
        name: Option<String>,
        weight: Option<u32>,
        credential: Option<String>,
        #[serde(default, deserialize_with = "nullable")]
        base_url: Patch<String>,
    }

    fn decoded(v: Value) -> Result<Example, FieldError> {
        decode_value(v)
    }

    #[test]
    fn foreign_objects_may_carry_members_of_their_own() {
        let e: Example = decode_foreign(json!({"name": "a", "session_id": "s"})).unwrap();
        assert_eq!(e.name.as_deref(), Some("a"));
        assert_eq!(
            decode_foreign::<Example>(json!({"weight": "x", "y": 1})).unwrap_err().param,
            Some("weight")
        );
    }

    #[test]
    fn field_names_come_from_serde() {
        assert_eq!(field_names::<Example>(), ["name", "weight", "credential", "base_url"]);
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let e = decoded(json!({"name": "a", "weight": "heavy"})).unwrap_err();
        assert_eq!(e.param, Some("weight"));
        assert!(e.message.starts_with("weight: invalid type"), "{}", e.message);
        let e = decoded(json!({"weight": -1})).unwrap_err();
        assert_eq!(e.param, Some("weight"));
        let e = decoded(json!({"nmae": "a"})).unwrap_err();
        assert_eq!(e.param, None);
        assert!(e.message.contains("unknown field `nmae`"), "{}", e.message);
        assert_eq!(decoded(json!([1])).unwrap_err().message, "expected a JSON object");
    }

    #[test]
    fn secret_fields_are_not_quoted() {
        let e = decoded(json!({"credential": 123456789})).unwrap_err();
        assert_eq!(e.param, Some("credential"));
        assert!(!e.message.contains("123456789"), "{}", e.message);
    }

    #[test]
    fn patch_fields_tell_absent_from_null() {
        assert_eq!(decoded(json!({})).unwrap().base_url, None);
        assert_eq!(decoded(json!({"base_url": null})).unwrap().base_url, Some(None));
        assert_eq!(decoded(json!({"base_url": "http://x"})).unwrap().base_url, Some(Some("http://x".into())));
        assert_eq!(not_null("base_url", Some(None::<String>)).unwrap_err().param, Some("base_url"));
    }
}
