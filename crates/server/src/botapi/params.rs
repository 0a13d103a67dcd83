//! A Bot API request's parameters, however they came: query string, URL-encoded form, JSON
//! body or `multipart/form-data` (whose file fields are staged on disk, never held in memory).
//!
//! Telegram accepts every scalar as a string too (`chat_id=42`, `disable_notification=true`)
//! and objects as JSON-serialized strings (`reply_markup={"inline_keyboard":...}`); the
//! accessors here do the same, and word their refusals the way Telegram does. Every JSON
//! (a body, a JSON-valued parameter) is read by `heliograph_proto::json`, which refuses
//! duplicate keys.
//!
//! When a parameter comes twice, the body wins over the query string, and an empty value
//! (`document=` in the query) counts as absent: node-telegram-bot-api sends a file as a
//! multipart part *and* an empty field of the same name in the query string.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, Method};
use heliograph_core::UserId;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::ApiError;
use crate::files::{Files, Staged};

/// Largest non-multipart body: parameters, not files.
const MAX_BODY: usize = 1024 * 1024;
/// Most fields in one multipart body.
const MAX_FIELDS: usize = 64;

/// A file sent in a multipart body.
pub struct Upload {
    pub staged: Staged,
    pub name: String,
    pub mime: Option<String>,
}

#[derive(Default)]
pub struct Params {
    values: Map<String, Value>,
    files: HashMap<String, Upload>,
}

impl Params {
    /// Reads every parameter of `request`. Files in a multipart body are staged for `bot`.
    pub async fn read(files: &Files, bot: UserId, request: Request) -> Result<Params, ApiError> {
        let mut params = Params::default();
        if let Some(query) = request.uri().query() {
            for (k, v) in form_urlencoded(query) {
                params.set(k, v);
            }
        }
        if request.method() == Method::GET || request.method() == Method::HEAD {
            return Ok(params);
        }
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(request, &())
                .await
                .map_err(|e| ApiError::bad_request(format!("can't parse multipart body: {}", e.body_text())))?;
            let mut fields = 0;
            while let Some(field) =
                multipart.next_field().await.map_err(|e| ApiError::bad_request(format!("can't parse multipart body: {e}")))?
            {
                fields += 1;
                if fields > MAX_FIELDS {
                    return Err(ApiError::bad_request(format!("too many fields in the multipart body (at most {MAX_FIELDS})")));
                }
                let Some(name) = field.name().map(str::to_string) else { continue };
                match field.file_name().map(str::to_string) {
                    Some(file_name) => {
                        let mime = field.content_type().map(str::to_string);
                        let staged = files.stage(bot, field).await.map_err(ApiError::from_refusal)?;
                        // The file in the body wins over a value of the same name in the query.
                        params.values.remove(&name);
                        params.files.insert(name, Upload { staged, name: file_name, mime });
                    }
                    None => {
                        let text = field.text().await.map_err(|e| ApiError::bad_request(format!("can't parse multipart body: {e}")))?;
                        if text.len() > MAX_BODY {
                            return Err(ApiError::bad_request(format!("field {name} is too long")));
                        }
                        params.set(name, text);
                    }
                }
            }
            return Ok(params);
        }
        let body = axum::body::to_bytes(Body::new(request.into_body()), MAX_BODY)
            .await
            .map_err(|_| ApiError::new(413, "Request Entity Too Large".to_string()))?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(params);
        }
        if content_type.starts_with("application/json") {
            match heliograph_proto::json::parse_slice(&body) {
                Ok(Value::Object(map)) => params.values.extend(map),
                Ok(_) => return Err(ApiError::bad_request("the JSON body must be an object".to_string())),
                Err(e) => return Err(ApiError::bad_request(format!("can't parse JSON body: {e}"))),
            }
        } else {
            let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the body is not UTF-8".to_string()))?;
            for (k, v) in form_urlencoded(text) {
                params.set(k, v);
            }
        }
        Ok(params)
    }

    /// A value as text (query string, form, multipart field): a later one replaces an
    /// earlier one, an empty one is no value at all.
    fn set(&mut self, name: String, value: String) {
        if !value.is_empty() {
            self.values.insert(name, Value::String(value));
        }
    }

    pub fn from_json(values: Value) -> Params {
        Params { values: values.as_object().cloned().unwrap_or_default(), files: HashMap::new() }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|v| !v.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some() || self.files.contains_key(name)
    }

    pub fn str(&self, name: &str) -> Result<Option<String>, ApiError> {
        Ok(match self.get(name) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(_) => return Err(ApiError::bad_request(format!("field \"{name}\" must be of type String"))),
        })
    }

    pub fn required_str(&self, name: &str) -> Result<String, ApiError> {
        self.str(name)?.filter(|s| !s.is_empty()).ok_or_else(|| ApiError::empty(name))
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        Ok(match self.get(name) {
            None => None,
            Some(Value::Number(n)) => {
                Some(n.as_i64().ok_or_else(|| ApiError::bad_request(format!("field \"{name}\" must be of type Integer")))?)
            }
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => {
                Some(s.trim().parse().map_err(|_| ApiError::bad_request(format!("field \"{name}\" must be of type Integer")))?)
            }
            Some(_) => return Err(ApiError::bad_request(format!("field \"{name}\" must be of type Integer"))),
        })
    }

    pub fn required_int(&self, name: &str) -> Result<i64, ApiError> {
        self.int(name)?.ok_or_else(|| ApiError::empty(name))
    }

    pub fn bool(&self, name: &str) -> Result<bool, ApiError> {
        Ok(match self.get(name) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64() != Some(0),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" | "" => false,
                _ => return Err(ApiError::bad_request(format!("field \"{name}\" must be of type Boolean"))),
            },
            Some(_) => return Err(ApiError::bad_request(format!("field \"{name}\" must be of type Boolean"))),
        })
    }

    /// An object or array parameter, given as JSON or as a JSON-serialized string.
    pub fn json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ApiError> {
        let value = match self.get(name) {
            None => return Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => {
                heliograph_proto::json::parse(s).map_err(|e| ApiError::bad_request(format!("can't parse {name} JSON object: {e}")))?
            }
            Some(v) => v.clone(),
        };
        serde_json::from_value(value).map(Some).map_err(|e| ApiError::bad_request(format!("can't parse {name}: {e}")))
    }

    /// A file field sent in the multipart body, by its field name.
    pub fn take_file(&mut self, name: &str) -> Option<Upload> {
        self.files.remove(name)
    }
}

/// `a=1&b=x%20y` as pairs, `+` meaning space.
pub fn form_urlencoded(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_decode() {
        assert_eq!(
            form_urlencoded("chat_id=42&text=a+b%20c%21&empty=&flag"),
            vec![
                ("chat_id".into(), "42".into()),
                ("text".into(), "a b c!".into()),
                ("empty".into(), "".into()),
                ("flag".into(), "".into())
            ]
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%é"), "%é");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
    }

    #[test]
    fn scalars_come_as_strings_or_json() {
        let p = Params::from_json(json!({
            "a": "42", "b": 42, "c": "x", "t": "true", "f": 0, "k": "{\"inline_keyboard\":[]}", "o": {"inline_keyboard": []}, "n": null
        }));
        assert_eq!(p.int("a").unwrap(), Some(42));
        assert_eq!(p.int("b").unwrap(), Some(42));
        assert!(p.int("c").is_err());
        assert_eq!(p.int("n").unwrap(), None);
        assert!(p.bool("t").unwrap());
        assert!(!p.bool("f").unwrap());
        assert!(!p.bool("missing").unwrap());
        assert!(p.bool("c").is_err());
        assert_eq!(p.str("b").unwrap().as_deref(), Some("42"));
        assert!(p.json::<Value>("k").unwrap().is_some());
        assert!(p.json::<Value>("o").unwrap().is_some());
        assert!(p.json::<Value>("c").is_err());
        let twice = Params::from_json(json!({ "k": "{\"inline_keyboard\":[],\"inline_keyboard\":[[]]}" }));
        let refused = twice.json::<Value>("k").err().map(|e| e.description).unwrap_or_default();
        assert!(refused.contains("duplicate key \"inline_keyboard\""), "{refused}");
        assert_eq!(p.required_str("missing").unwrap_err().description, "Bad Request: missing is empty");
    }
}
