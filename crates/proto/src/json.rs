//! Reading untrusted JSON: one reader for every boundary (WebSocket frames, Bot API bodies and
//! JSON-valued parameters, the HTTP file API), which refuses an object that names a key twice.
//!
//! `serde_json` keeps the last of duplicate keys. A proxy, logger or filter in front of the
//! server may keep the first, and would then see a different request than the one that runs
//! (`{"method":"users.get_me","method":"auth.log_out"}`). Refusing them leaves one reading.
//! Everything else is `serde_json`'s: its syntax, its error positions, its nesting limit.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `text` as one JSON value, refusing duplicate keys at any depth.
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Strict.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// [`parse`] of bytes, which must be UTF-8.
pub fn parse_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// [`parse_slice`], then the value as a `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_value(parse_slice(bytes)?)
}

/// Builds a [`Value`] as `serde_json` does, except that a repeated key is an error.
#[derive(Clone, Copy)]
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity, so every parsed float is a number.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                let shown: String = key.chars().take(64).collect();
                return Err(de::Error::custom(format_args!("duplicate key {shown:?}")));
            }
            let value = map.next_value_seed(Strict)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Ok(())`: the same value `serde_json` reads; `Err(part)`: refused, naming `part`.
    fn check(input: &str, expect: Result<(), &str>) {
        match (parse(input), expect) {
            (Ok(value), Ok(())) => {
                let loose: Value = serde_json::from_str(input).expect("serde_json reads it too");
                assert_eq!(value, loose, "{input}");
                assert_eq!(parse_slice(input.as_bytes()).ok(), Some(loose), "{input} as bytes");
            }
            (Err(e), Err(part)) => assert!(e.to_string().contains(part), "{input}: {e}"),
            (got, expect) => panic!("{input}: got {got:?}, expected {expect:?}"),
        }
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        let cases: &[(&str, Result<(), &str>)] = &[
            (r#"{"id":1,"method":"users.get_me","params":{}}"#, Ok(())),
            (r#"{"id":1,"method":"users.get_me","method":"auth.log_out"}"#, Err("duplicate key \"method\"")),
            (r#"{"params":{"a":1,"b":{"a":2}}}"#, Ok(())),
            (r#"{"params":{"a":1,"a":1}}"#, Err("duplicate key \"a\"")),
            (r#"[{"x":1},{"x":2},[{"y":[{"z":1,"z":2}]}]]"#, Err("duplicate key \"z\"")),
            // The same key after unescaping is the same key.
            (r#"{"method":1,"\u006dethod":2}"#, Err("duplicate key \"method\"")),
            (r#"{"a":1.5,"b":-3,"c":18446744073709551615,"d":null,"e":true,"f":"\u00e9"}"#, Ok(())),
            ("[]", Ok(())),
            ("\"x\"", Ok(())),
            ("{} {}", Err("trailing characters")),
            ("{\"a\":", Err("EOF")),
            ("", Err("EOF")),
        ];
        for (input, expect) in cases {
            check(input, *expect);
        }
    }

    #[test]
    fn deep_nesting_stops_at_serde_jsons_limit() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&deep).is_err_and(|e| e.to_string().contains("recursion limit")));
    }

    #[test]
    fn typed_reads_go_through_the_same_check() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            name: String,
        }
        assert!(from_slice::<Body>(br#"{"name":"a"}"#).is_ok());
        assert!(from_slice::<Body>(br#"{"name":"a","extra":1,"extra":2}"#).is_err());
    }
}
