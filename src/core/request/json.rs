//! A strict JSON reader that borrows from the body instead of copying it.
//!
//! It decides whether a body is JSON garita is willing to judge: a repeated key in any
//! object, nesting deeper than [`MAX_DEPTH`] or trailing data is refused, because a
//! backend that read such a body differently would act on a request garita never saw.
//! What it builds is a tree whose strings point into the body (a string is copied only
//! when it holds escapes) and whose objects are vectors in document order, so reading a
//! 1 KiB payment request costs one allocation per object and array, not two per field.
//! Lookups in an object are linear: selectors are few and objects in payment requests
//! small; repeated keys are found by a linear scan while an object is small and by sorting
//! its keys once when it is large, so a body of many keys costs n log n, not n².

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Deepest nesting of JSON arrays and objects accepted.
pub const MAX_DEPTH: usize = 32;

/// Objects up to this many keys are checked for repeats as each key arrives.
const LINEAR_KEYS: usize = 16;

/// One JSON value, borrowing its strings from the text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'a, str>),
    Array(Vec<JsonValue<'a>>),
    /// Members in document order; no key appears twice.
    Object(Vec<(Cow<'a, str>, JsonValue<'a>)>),
}

impl JsonValue<'_> {
    /// The member named `key`, if this is an object that has one.
    pub fn member(&self, key: &str) -> Option<&Self> {
        match self {
            JsonValue::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Why a text is not JSON garita accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    Malformed,
    DuplicateKey(String),
    TooDeep,
}

const DUPLICATE: &str = "garita:duplicate:";
const TOO_DEEP: &str = "garita:too-deep";

/// Read `text` as one JSON value, refusing repeated keys, deep nesting and trailing data.
pub fn parse(text: &str) -> Result<JsonValue<'_>, JsonError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictValue { depth: 0 }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|_| v));
    value.map_err(|e| {
        // serde's error type carries only a message; the two refusals of our own are
        // told apart by the prefix they were raised with.
        let msg = e.to_string();
        if let Some(rest) = msg.strip_prefix(DUPLICATE) {
            let key = rest.split(" at line").next().unwrap_or(rest);
            JsonError::DuplicateKey(key.to_string())
        } else if msg.starts_with(TOO_DEEP) {
            JsonError::TooDeep
        } else {
            JsonError::Malformed
        }
    })
}

struct StrictValue {
    depth: usize,
}

impl StrictValue {
    fn nested<E: serde::de::Error>(&self) -> Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(TOO_DEEP));
        }
        Ok(StrictValue {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = JsonValue<'de>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// A key, borrowed when it holds no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = JsonValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(JsonValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(JsonValue::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(JsonValue::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(JsonValue::Null, JsonValue::Number))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(JsonValue::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JsonValue::String(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(JsonValue::String(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(JsonValue::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(JsonValue::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue { depth: inner.depth })? {
            items.push(v);
        }
        Ok(JsonValue::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let inner = self.nested()?;
        // Room for a payment request's fields at once (they come 10 to 20 to an
        // object), rather than growing through 4, 8 and 16 as a request is read.
        let mut members: Vec<(Cow<'de, str>, JsonValue<'de>)> = Vec::with_capacity(LINEAR_KEYS);
        while let Some(key) = access.next_key_seed(Key)? {
            if members.len() < LINEAR_KEYS && members.iter().any(|(k, _)| *k == key) {
                return Err(A::Error::custom(format!("{DUPLICATE}{key}")));
            }
            let value = access.next_value_seed(StrictValue { depth: inner.depth })?;
            members.push((key, value));
        }
        if members.len() > LINEAR_KEYS {
            let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
            keys.sort_unstable();
            if let Some(pair) = keys.windows(2).find(|pair| pair[0] == pair[1]) {
                return Err(A::Error::custom(format!("{DUPLICATE}{}", pair[0])));
            }
        }
        Ok(JsonValue::Object(members))
    }
}

/// The same tree as serde_json's (owned): for comparing the two readers, in unit and
/// property tests.
pub fn to_serde(value: &JsonValue<'_>) -> serde_json::Value {
    match value {
        JsonValue::Null => serde_json::Value::Null,
        JsonValue::Bool(b) => (*b).into(),
        JsonValue::Number(n) => serde_json::Value::Number(n.clone()),
        JsonValue::String(s) => s.as_ref().into(),
        JsonValue::Array(items) => items.iter().map(to_serde).collect(),
        JsonValue::Object(members) => serde_json::Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.to_string(), to_serde(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads_and_borrows_plain_strings() {
        let text = r#"{"a":[1,-2,3.5,true,null,"x\"y"],"b":{"c":"plain","\u00e9":{}},"n":1e400}"#;
        let ours = parse(text);
        // serde_json refuses a number out of f64's range, and so do we.
        assert_eq!(ours, Err(JsonError::Malformed));
        let text = r#"{"a":[1,-2,3.5,true,null,"x\"y"],"b":{"c":"plain","\u00e9":{}},"big":18446744073709551615}"#;
        let ours = parse(text).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(to_serde(&ours), theirs);
        let c = ours.member("b").and_then(|b| b.member("c")).unwrap();
        assert!(matches!(c, JsonValue::String(Cow::Borrowed("plain"))));
        let escaped = &ours.member("a").unwrap();
        let JsonValue::Array(items) = escaped else {
            panic!("an array")
        };
        assert!(matches!(&items[5], JsonValue::String(Cow::Owned(s)) if s == "x\"y"));
    }

    #[test]
    fn a_repeated_key_is_refused_in_small_and_large_objects() {
        assert_eq!(
            parse(r#"{"dni":"1","dni":"2"}"#),
            Err(JsonError::DuplicateKey("dni".into()))
        );
        // An escaped spelling of the same key is the same key.
        assert_eq!(
            parse(r#"{"dni":"1","d\u006ei":"2"}"#),
            Err(JsonError::DuplicateKey("dni".into()))
        );
        let many: Vec<String> = (0..100).map(|i| format!("\"k{i}\":{i}")).collect();
        let unique = format!("{{{}}}", many.join(","));
        assert!(parse(&unique).is_ok());
        let repeated = format!("{{{},\"k7\":0}}", many.join(","));
        assert_eq!(parse(&repeated), Err(JsonError::DuplicateKey("k7".into())));
        let nested = format!("{{\"outer\":{repeated}}}");
        assert_eq!(parse(&nested), Err(JsonError::DuplicateKey("k7".into())));
    }

    #[test]
    fn nesting_is_bounded_and_trailing_data_refused() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(&deep), Err(JsonError::TooDeep));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep_objects = format!(
            "{}1{}",
            "{\"a\":".repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(parse(&deep_objects), Err(JsonError::TooDeep));
        assert_eq!(parse("{} {}"), Err(JsonError::Malformed));
        assert_eq!(parse("{\"a\":"), Err(JsonError::Malformed));
    }
}
