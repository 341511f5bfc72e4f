//! The `google.protobuf` well-known types as they appear on Warp's wire, and their JSON mapping.
//!
//! These are proto3 messages (implicit presence): a zero is simply not written.

use std::collections::BTreeMap;

/// `google.protobuf.Empty`: the marker of oneof variants that carry nothing.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub(crate) struct Empty {}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub(crate) struct Timestamp {
    #[prost(int64, tag = "1")]
    pub(crate) seconds: i64,
    #[prost(int32, tag = "2")]
    pub(crate) nanos: i32,
}

impl Timestamp {
    /// The timestamp of a Unix time in milliseconds.
    pub(crate) fn from_unix_ms(ms: i64) -> Timestamp {
        Timestamp { seconds: ms.div_euclid(1000), nanos: (ms.rem_euclid(1000) * 1_000_000) as i32 }
    }
}

/// `google.protobuf.Duration`.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub(crate) struct Duration {
    #[prost(int64, tag = "1")]
    pub(crate) seconds: i64,
    #[prost(int32, tag = "2")]
    pub(crate) nanos: i32,
}

/// `google.protobuf.FieldMask`: which paths of a message an update or append touches.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub(crate) struct FieldMask {
    #[prost(string, repeated, tag = "1")]
    pub(crate) paths: Vec<String>,
}

/// `google.protobuf.Struct`: a JSON object. Kept in key order (a `BTreeMap`) so that encoding is
/// deterministic.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Struct {
    #[prost(btree_map = "string, message", tag = "1")]
    pub(crate) fields: BTreeMap<String, Value>,
}

/// `google.protobuf.Value`: one JSON value.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Value {
    #[prost(oneof = "value::Kind", tags = "1, 2, 3, 4, 5, 6")]
    pub(crate) kind: Option<value::Kind>,
}

pub(crate) mod value {
    /// `Value.kind`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Kind {
        /// Always `NullValue::NULL_VALUE` (0).
        #[prost(enumeration = "super::NullValue", tag = "1")]
        Null(i32),
        #[prost(double, tag = "2")]
        Number(f64),
        #[prost(string, tag = "3")]
        String(String),
        #[prost(bool, tag = "4")]
        Bool(bool),
        #[prost(message, tag = "5")]
        Struct(super::Struct),
        #[prost(message, tag = "6")]
        List(super::ListValue),
    }
}

/// `google.protobuf.NullValue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum NullValue {
    NullValue = 0,
}

/// `google.protobuf.ListValue`: a JSON array.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ListValue {
    #[prost(message, repeated, tag = "1")]
    pub(crate) values: Vec<Value>,
}

impl Value {
    pub(crate) fn string(s: impl Into<String>) -> Value {
        Value { kind: Some(value::Kind::String(s.into())) }
    }

    pub(crate) fn bool(b: bool) -> Value {
        Value { kind: Some(value::Kind::Bool(b)) }
    }

    /// The protobuf form of a JSON value. Numbers become doubles, as in every protobuf JSON mapping.
    pub(crate) fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        let kind = match json {
            J::Null => value::Kind::Null(NullValue::NullValue as i32),
            J::Bool(b) => value::Kind::Bool(*b),
            J::Number(n) => value::Kind::Number(n.as_f64().unwrap_or(0.0)),
            J::String(s) => value::Kind::String(s.clone()),
            J::Array(items) => {
                value::Kind::List(ListValue { values: items.iter().map(Value::from_json).collect() })
            }
            J::Object(_) => value::Kind::Struct(Struct::from_json(json).unwrap_or_default()),
        };
        Value { kind: Some(kind) }
    }

    /// The JSON form. A value without a kind reads as `null`; a number that is integral and fits
    /// an `i64` is written as an integer (`5.0` → `5`), since the double form is a protobuf
    /// artefact, not something the model meant.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.kind {
            None | Some(value::Kind::Null(_)) => J::Null,
            Some(value::Kind::Bool(b)) => J::Bool(*b),
            Some(value::Kind::Number(n)) => {
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    J::from(*n as i64)
                } else {
                    serde_json::Number::from_f64(*n).map_or(J::Null, J::Number)
                }
            }
            Some(value::Kind::String(s)) => J::String(s.clone()),
            Some(value::Kind::Struct(s)) => s.to_json(),
            Some(value::Kind::List(list)) => J::Array(list.values.iter().map(Value::to_json).collect()),
        }
    }
}

impl Struct {
    /// The protobuf form of a JSON object; `None` for any other JSON value.
    pub(crate) fn from_json(json: &serde_json::Value) -> Option<Struct> {
        let object = json.as_object()?;
        Some(Struct { fields: object.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect() })
    }

    /// The JSON object (keys in sorted order).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.fields.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
    }
}
