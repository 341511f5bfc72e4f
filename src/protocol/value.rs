//! Shapes both official protocols share: "a string or a list of parts", "one or many", and
//! "any JSON value, kept as text".

use crate::ir::RawJson;
use bytes::BytesMut;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Content given either as a plain string or as a list of typed parts.
#[derive(Debug)]
pub enum StringOrParts<'a, T> {
    String(Cow<'a, str>),
    Parts(Vec<T>),
}

impl<'de: 'a, 'a, T: de::Deserialize<'de>> de::Deserialize<'de> for StringOrParts<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a, T>(std::marker::PhantomData<(&'a (), T)>);
        impl<'de: 'a, 'a, T: de::Deserialize<'de>> Visitor<'de> for V<'a, T> {
            type Value = StringOrParts<'a, T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(StringOrParts::String(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(StringOrParts::String(Cow::Owned(s.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(p) = seq.next_element()? {
                    parts.push(p);
                }
                Ok(StringOrParts::Parts(parts))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A value given either alone or as a list (OpenAI `stop`).
#[derive(Debug)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: de::Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or an array of values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(v) = seq.next_element()? {
                    all.push(v);
                }
                Ok(OneOrMany(all))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                T::deserialize(de::value::BorrowedStrDeserializer::new(s)).map(|v| OneOrMany(vec![v]))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::new(s)).map(|v| OneOrMany(vec![v]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany(Vec::new()))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Any JSON value, re-written as compact JSON text while it is parsed (member order kept, no
/// intermediate tree). Tool schemas and tool inputs travel this way.
#[derive(Debug)]
pub struct AnyJson(pub RawJson);

impl<'de> de::Deserialize<'de> for AnyJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = BytesMut::new();
        Transcode(&mut out, 0).deserialize(d)?;
        // The writer only ever emits valid UTF-8 JSON.
        let text = String::from_utf8(out.to_vec()).map_err(de::Error::custom)?;
        Ok(AnyJson(RawJson::new_unchecked(text)))
    }
}

/// Nesting deeper than this is refused rather than followed (stack safety on hostile input).
const MAX_DEPTH: usize = 128;

struct Transcode<'o>(&'o mut BytesMut, usize);

impl<'de> DeserializeSeed<'de> for Transcode<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.1 > MAX_DEPTH {
            return Err(de::Error::custom("JSON nested too deeply"));
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Transcode<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if !v.is_finite() {
            return Err(E::custom("non-finite number"));
        }
        self.0.extend_from_slice(
            serde_json::Number::from_f64(v).map(|n| n.to_string()).unwrap_or_default().as_bytes(),
        );
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        crate::stream::json::write_str(self.0, v.as_bytes());
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        Transcode(self.0, self.1).deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.extend_from_slice(b"[");
        let mut first = true;
        loop {
            let mark = self.0.len();
            if !first {
                self.0.extend_from_slice(b",");
            }
            if seq.next_element_seed(Transcode(&mut *self.0, self.1 + 1))?.is_none() {
                // Nothing followed: take back the separator.
                self.0.truncate(mark);
                break;
            }
            first = false;
        }
        self.0.extend_from_slice(b"]");
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.extend_from_slice(b"{");
        let mut first = true;
        while let Some(key) = map.next_key::<KeyText>()? {
            if !first {
                self.0.extend_from_slice(b",");
            }
            first = false;
            crate::stream::json::write_str(self.0, key.0.as_bytes());
            self.0.extend_from_slice(b":");
            map.next_value_seed(Transcode(&mut *self.0, self.1 + 1))?;
        }
        self.0.extend_from_slice(b"}");
        Ok(())
    }
}

/// A map key, borrowed where the deserializer allows it.
struct KeyText<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> de::Deserialize<'de> for KeyText<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcode(json: &str) -> String {
        let mut bytes = json.as_bytes().to_vec();
        let v: AnyJson = simd_json::serde::from_slice(&mut bytes).unwrap();
        v.0.get().to_string()
    }

    #[test]
    fn any_json_keeps_member_order_and_compacts() {
        let json = r#"{ "z": 1, "a": [true, null, -2, 1.5, "x\"y"], "m": {"k": {}} , "e": []}"#;
        assert_eq!(transcode(json), r#"{"z":1,"a":[true,null,-2,1.5,"x\"y"],"m":{"k":{}},"e":[]}"#);
    }

    #[test]
    fn any_json_of_many_keys_keeps_order() {
        let keys: Vec<String> = (0..100).rev().map(|i| format!("\"k{i}\":{i}")).collect();
        let json = format!("{{{}}}", keys.join(","));
        assert_eq!(transcode(&json), json);
    }

    #[test]
    fn any_json_refuses_hostile_nesting() {
        let json = "[".repeat(500) + &"]".repeat(500);
        let mut bytes = json.into_bytes();
        assert!(simd_json::serde::from_slice::<AnyJson>(&mut bytes).is_err());
    }

    #[test]
    fn one_or_many_takes_both() {
        let mut a = br#"["a","b"]"#.to_vec();
        let mut b = br#""a""#.to_vec();
        let a: OneOrMany<String> = simd_json::serde::from_slice(&mut a).unwrap();
        let b: OneOrMany<String> = simd_json::serde::from_slice(&mut b).unwrap();
        assert_eq!(a.0, vec!["a", "b"]);
        assert_eq!(b.0, vec!["a"]);
    }
}
