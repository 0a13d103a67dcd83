//! `docs/bot-api.md` stays true, and the server answers as Telegram's specification
//! (`spec/telegram-bot-api.json`) says. The conformance table is generated from
//! [`heliograph_server::botapi::coverage::COVERAGE`], which lists every method of the
//! specification in its order; the methods it offers are exactly those the server has a
//! handler for ([`heliograph_server::botapi::methods::METHODS`]); a real server answers a
//! call of each, with its required parameters and every optional one it honours, with the
//! shape the specification gives its result, field by field; every other method is refused
//! by name. `BLESS=1 cargo test -p heliograph-server --test botapi_conformance` rewrites the
//! generated table after a change to the coverage list.

mod common;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use common::bot::Bot;
use common::{InProcess, Person};
use heliograph_client::proto;
use heliograph_server::botapi::coverage::{Status, COMMON_OPTIONS, COVERAGE};
use heliograph_server::botapi::methods::METHODS;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{json, Value};

const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/bot-api.md");
/// The lines the generated conformance table sits between, and the heading of update kinds.
const TABLE_START: &str =
    "<!-- generated from crates/server/src/botapi/coverage.rs: BLESS=1 cargo test -p heliograph-server --test botapi_conformance -->";
const TABLE_END: &str = "<!-- end of the generated table -->";
const UPDATES_HEADING: &str = "## Updates";

fn doc() -> String {
    std::fs::read_to_string(DOC_PATH).unwrap_or_else(|e| panic!("{DOC_PATH}: {e}"))
}

// --- the specification ---------------------------------------------------------------------

/// A JSON object's entries in the order they were written (the spec's order matters).
struct Ordered(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(serde::Deserialize)]
struct SpecFile {
    methods: Ordered,
    types: serde_json::Map<String, Value>,
}

struct Spec {
    /// Method names in the specification's order, and each method's description.
    methods: Vec<(String, Value)>,
    types: serde_json::Map<String, Value>,
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/telegram-bot-api.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("the Bot API specification at {path}: {e}"));
        let file: SpecFile = serde_json::from_str(&text).expect("the specification parses");
        Spec { methods: file.methods.0, types: file.types }
    })
}

impl Spec {
    fn method(&self, name: &str) -> &Value {
        &self.methods.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} is not in the specification")).1
    }

    /// The method's parameters: `(name, required)`, in the specification's order.
    fn fields(&self, method: &str) -> Vec<(String, bool)> {
        let fields = self.method(method)["fields"].as_array().cloned().unwrap_or_default();
        fields.iter().map(|f| (f["name"].as_str().unwrap_or_default().to_string(), f["required"] == json!(true))).collect()
    }

    fn returns(&self, method: &str) -> Vec<String> {
        let returns = self.method(method)["returns"].as_array().cloned().unwrap_or_default();
        returns.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
    }

    /// Why `value` is not one of `types` (alternatives, as the spec lists them); empty if it is.
    fn mismatches(&self, value: &Value, types: &[String], at: &str) -> Vec<String> {
        let mut best: Option<Vec<String>> = None;
        for ty in types {
            let errors = self.mismatches_one(value, ty, at);
            if errors.is_empty() {
                return errors;
            }
            if best.as_ref().is_none_or(|b| errors.len() < b.len()) {
                best = Some(errors);
            }
        }
        best.unwrap_or_else(|| vec![format!("{at}: the specification gives no type")])
    }

    fn mismatches_one(&self, value: &Value, ty: &str, at: &str) -> Vec<String> {
        let wrong = || vec![format!("{at}: expected {ty}, got {value}")];
        if let Some(inner) = ty.strip_prefix("Array of ") {
            let Some(items) = value.as_array() else { return wrong() };
            return items.iter().enumerate().flat_map(|(i, v)| self.mismatches_one(v, inner, &format!("{at}[{i}]"))).collect();
        }
        let ok = match ty {
            "Integer" => value.is_i64() || value.is_u64(),
            "Float" => value.is_number(),
            "String" => value.is_string(),
            "Boolean" => value.is_boolean(),
            "True" => value == &json!(true),
            _ => return self.mismatches_object(value, ty, at),
        };
        if ok {
            Vec::new()
        } else {
            wrong()
        }
    }

    fn mismatches_object(&self, value: &Value, ty: &str, at: &str) -> Vec<String> {
        let Some(def) = self.types.get(ty) else { return vec![format!("{at}: {ty} is not a type of the specification")] };
        if let Some(subtypes) = def["subtypes"].as_array() {
            let subtypes: Vec<String> = subtypes.iter().filter_map(|s| s.as_str().map(str::to_string)).collect();
            let errors = self.mismatches(value, &subtypes, at);
            return if errors.is_empty() { errors } else { [vec![format!("{at}: matches no kind of {ty}")], errors].concat() };
        }
        let Some(object) = value.as_object() else { return vec![format!("{at}: expected a {ty} object, got {value}")] };
        let fields = def["fields"].as_array().cloned().unwrap_or_default();
        let mut errors = Vec::new();
        for key in object.keys() {
            if !fields.iter().any(|f| f["name"] == key.as_str()) {
                errors.push(format!("{at}.{key}: {ty} has no such field"));
            }
        }
        for field in &fields {
            let name = field["name"].as_str().unwrap_or_default();
            let here = format!("{at}.{name}");
            match object.get(name) {
                None if field["required"] == json!(true) => errors.push(format!("{here}: required by {ty}, missing")),
                None => {}
                Some(v) => {
                    let types: Vec<String> =
                        field["types"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_string)).collect();
                    errors.extend(self.mismatches(v, &types, &here));
                    if let Some(constant) = constant(field["description"].as_str().unwrap_or_default()) {
                        if v.as_str() != Some(constant.as_str()) {
                            errors.push(format!("{here}: always \"{constant}\" in {ty}, got {v}"));
                        }
                    }
                }
            }
        }
        errors
    }
}

/// The value a field's description says it always has (`…, always "creator"`).
fn constant(description: &str) -> Option<String> {
    let rest = &description[description.find("always ")? + "always ".len()..];
    let rest = rest.strip_prefix('"').or_else(|| rest.strip_prefix('“'))?;
    let end = rest.find(['"', '”'])?;
    Some(rest[..end].to_string())
}

// --- the document --------------------------------------------------------------------------

/// The rows of the table under `heading`: the cells of each, the header and rule left out.
fn table(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let start = doc.find(heading).unwrap_or_else(|| panic!("docs/bot-api.md has a \"{heading}\" section"));
    let section = &doc[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut rows: Vec<Vec<String>> = section
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().trim_matches('`').to_string()).collect())
        .filter(|cells: &Vec<String>| !cells.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':')))
        .collect();
    assert!(!rows.is_empty(), "the \"{heading}\" section has a table");
    rows.remove(0);
    rows
}

/// A parameter list in prose: "`a`, `b` and `c`".
fn listed(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The conformance table as [`COVERAGE`] says it, with its summary line.
fn generated_table() -> String {
    let mut out = String::from("| method | status | notes |\n| --- | --- | --- |\n");
    for c in COVERAGE {
        let mut notes: Vec<String> = Vec::new();
        if !c.notes.is_empty() {
            notes.push(c.notes.to_string());
        }
        if !c.refuses.is_empty() {
            notes.push(format!("refuses {}", listed(&c.refuses.iter().map(|s| s.to_string()).collect::<Vec<_>>())));
        }
        let mut ignored: Vec<String> = c.ignores.iter().map(|s| s.to_string()).collect();
        if c.common {
            ignored.push("the common options".into());
        }
        if !ignored.is_empty() {
            let list = listed(&ignored).replace("`the common options`", "the common options");
            notes.push(format!("ignores {list}"));
        }
        out.push_str(&format!("| `{}` | {} | {} |\n", c.method, c.status.as_str(), notes.join("; ")).replace("|  |", "| |"));
    }
    let count = |s: Status| COVERAGE.iter().filter(|c| c.status == s).count();
    out.push_str(&format!(
        "\nIn all: {} supported, {} partial, {} not yet.\n",
        count(Status::Supported),
        count(Status::Partial),
        count(Status::NotOffered)
    ));
    out
}

#[test]
fn coverage_lists_every_spec_method_once_in_spec_order() {
    let spec = spec();
    let listed: Vec<&str> = COVERAGE.iter().map(|c| c.method).collect();
    let spec_names: Vec<&str> = spec.methods.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(listed, spec_names, "coverage.rs lists the specification's methods, in its order");
    let mut problems = Vec::new();
    for c in COVERAGE {
        let fields: Vec<String> = spec.fields(c.method).into_iter().map(|(n, _)| n).collect();
        for name in c.ignores.iter().chain(c.refuses) {
            if !fields.iter().any(|f| f == name) {
                problems.push(format!("{}: `{name}` is not one of its parameters", c.method));
            }
        }
        if let Some(both) = c.ignores.iter().find(|n| c.refuses.contains(n)) {
            problems.push(format!("{}: `{both}` both ignored and refused", c.method));
        }
        if c.common && !fields.iter().any(|f| COMMON_OPTIONS.contains(&f.as_str())) {
            problems.push(format!("{}: marked common, but has none of the common options", c.method));
        }
        if c.status == Status::NotOffered && (c.common || !c.ignores.is_empty() || !c.refuses.is_empty() || c.notes.is_empty()) {
            problems.push(format!("{}: a method not offered has a reason and no parameters", c.method));
        }
    }
    assert!(problems.is_empty(), "coverage.rs:\n{}", problems.join("\n"));
}

#[test]
fn the_offered_methods_are_exactly_the_ones_answered() {
    let offered: BTreeSet<&str> = COVERAGE.iter().filter(|c| c.status != Status::NotOffered).map(|c| c.method).collect();
    let answered: BTreeSet<&str> = METHODS.iter().copied().collect();
    let unlisted: Vec<_> = answered.difference(&offered).collect();
    let missing: Vec<_> = offered.difference(&answered).collect();
    assert!(unlisted.is_empty(), "answered by the server but not offered in coverage.rs: {unlisted:?}");
    assert!(missing.is_empty(), "offered in coverage.rs but not answered by the server: {missing:?}");
}

#[test]
fn the_conformance_table_is_generated_from_coverage() {
    let doc = doc();
    let start = doc.find(TABLE_START).unwrap_or_else(|| panic!("docs/bot-api.md has the line {TABLE_START}")) + TABLE_START.len() + 1;
    let end = doc[start..].find(TABLE_END).map(|e| start + e).unwrap_or_else(|| panic!("docs/bot-api.md has the line {TABLE_END}"));
    let want = generated_table();
    if doc[start..end] == want {
        return;
    }
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(DOC_PATH, format!("{}{want}{}", &doc[..start], &doc[end..])).expect("rewrite docs/bot-api.md");
        return;
    }
    let first = doc[start..end].lines().zip(want.lines()).find(|(a, b)| a != b);
    panic!(
        "docs/bot-api.md's conformance table differs from coverage.rs (first difference: {first:?}); \
         regenerate it with BLESS=1 cargo test -p heliograph-server --test botapi_conformance"
    );
}

#[test]
fn the_update_table_lists_the_kinds_produced() {
    let spec_fields: Vec<String> = spec().types["Update"]["fields"]
        .as_array()
        .expect("Update has fields")
        .iter()
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect();
    let rows: Vec<String> = table(&doc(), UPDATES_HEADING).into_iter().map(|cells| cells[0].clone()).collect();
    for field in &rows {
        assert!(spec_fields.contains(field), "{field} is not a field of Update");
    }
    let produced: BTreeSet<&str> = heliograph_server::botapi::updates::KINDS.iter().copied().chain(["update_id"]).collect();
    let listed: BTreeSet<&str> = rows.iter().map(String::as_str).collect();
    assert_eq!(listed, produced, "the Updates table lists update_id and every kind the server produces");
}

#[test]
fn the_shape_checker_catches_what_it_should() {
    let s = spec();
    let message = json!({ "message_id": 1, "date": 2, "chat": { "id": 3, "type": "private" } });
    assert!(s.mismatches(&message, &["Message".into()], "r").is_empty());
    assert!(!s.mismatches(&json!({ "message_id": 1, "date": 2 }), &["Message".into()], "r").is_empty(), "chat is required");
    assert!(!s
        .mismatches(&json!({ "message_id": 1, "date": 2, "chat": { "id": 3, "type": "private" }, "colour": 1 }), &["Message".into()], "r")
        .is_empty());
    assert!(s.mismatches(&json!(true), &["Message".into(), "Boolean".into()], "r").is_empty());
    let owner = json!({ "status": "creator", "user": { "id": 1, "is_bot": false, "first_name": "A" }, "is_anonymous": false });
    assert!(s.mismatches(&owner, &["ChatMember".into()], "r").is_empty());
    let lying = json!({ "status": "member", "user": { "id": 1, "is_bot": false, "first_name": "A" }, "is_anonymous": false });
    assert!(!s.mismatches(&lying, &["ChatMember".into()], "r").is_empty(), "the status names the kind");
    assert!(s.mismatches(&json!([]), &["Array of Update".into()], "r").is_empty());
    assert_eq!(constant("The member's status in the chat, always \"creator\""), Some("creator".into()));
}

// --- calling every method ------------------------------------------------------------------

impl Bot {
    /// The whole answer to `request`: `(HTTP status, body)`.
    async fn send(&self, method: &str, request: &Request) -> (u16, Value) {
        let http = self.http.post(self.url(method));
        let http = match request {
            Request::Json(params) => http.json(params),
            Request::Upload { params, field, name, mime, bytes } => {
                let mut form = reqwest::multipart::Form::new();
                for (k, v) in params.as_object().into_iter().flatten() {
                    form = form.text(k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string));
                }
                let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name(*name).mime_str(mime).expect("mime");
                http.multipart(form.part(*field, part))
            }
        };
        let r = http.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.expect("JSON answer"))
    }

    /// Polls until an update `want` accepts arrives; every update seen is returned, confirmed.
    async fn updates_until(&self, offset: &mut i64, want: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        for _ in 0..10 {
            let got = self.call("getUpdates", json!({ "offset": *offset, "timeout": 5 })).await;
            let list = got.as_array().cloned().unwrap_or_default();
            if let Some(last) = list.last() {
                *offset = last["update_id"].as_i64().expect("update_id") + 1;
            }
            let done = list.iter().any(&want);
            seen.extend(list);
            if done {
                return seen;
            }
        }
        panic!("the update awaited did not come within 50 s; seen: {seen:?}");
    }
}

/// How a call's parameters travel.
enum Request {
    Json(Value),
    /// A multipart body: `params` as text fields, plus one file under `field`.
    Upload {
        params: Value,
        field: &'static str,
        name: &'static str,
        mime: &'static str,
        bytes: Vec<u8>,
    },
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Request::Json(v) => write!(f, "{v}"),
            Request::Upload { params, field, name, bytes, .. } => write!(f, "multipart {params} + {field}={name} ({} bytes)", bytes.len()),
        }
    }
}

/// One call of the table: a method, valid parameters, and what else the result must show
/// beyond the specification's shape.
struct Call {
    method: &'static str,
    request: Request,
    check: fn(&Value) -> Result<(), String>,
}

fn any(_: &Value) -> Result<(), String> {
    Ok(())
}

fn is_true(v: &Value) -> Result<(), String> {
    if v == &json!(true) {
        Ok(())
    } else {
        Err(format!("expected true, got {v}"))
    }
}

fn call(method: &'static str, params: Value) -> Call {
    Call { method, request: Request::Json(params), check: any }
}

fn call_then(method: &'static str, params: Value, check: fn(&Value) -> Result<(), String>) -> Call {
    Call { method, request: Request::Json(params), check }
}

/// A 2×2 RGB PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0xd, 0xa, 0x1a, 0xa, 0x0, 0x0, 0x0, 0xd, 0x49, 0x48, 0x44, 0x52, 0x0, 0x0, 0x0, 0x2, 0x0, 0x0, 0x0, 0x2, 0x8,
    0x2, 0x0, 0x0, 0x0, 0xfd, 0xd4, 0x9a, 0x73, 0x0, 0x0, 0x0, 0x11, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x0, 0x44,
    0xc, 0x60, 0xf2, 0x3f, 0x0, 0x1b, 0xf2, 0x3, 0xfd, 0xf3, 0xe7, 0x4b, 0xb1, 0x0, 0x0, 0x0, 0x0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
    0x60, 0x82,
];

/// What the calls refer to, made before the table runs.
#[derive(Default)]
struct Fixtures {
    /// The person who owns the bot and talks to it (their id is their private chat's id).
    alice: i64,
    bob: i64,
    bot: i64,
    /// `-100…` ids of a group where the bot is an admin, a group it will leave, a channel
    /// where it is an admin, and the channel's @username.
    group: i64,
    leaving: i64,
    /// A group whose creator left it to the bot (its longest-standing admin).
    handed: i64,
    channel: i64,
    channel_username: String,
    /// Alice's "hello" in the private chat, and a file she sent the bot there.
    hello: i64,
    document_message: i64,
    file_id: String,
    /// The bot's own messages: in the private chat, to edit text, a document to edit the
    /// caption of, one with a keyboard; in the group, one to pin, one and two to delete.
    to_edit: i64,
    captioned: i64,
    with_keyboard: i64,
    to_pin: i64,
    to_delete: i64,
    to_delete_many: [i64; 2],
    /// A button press in flight.
    callback_query_id: String,
    /// Where updates continue from.
    offset: i64,
}

/// Every method answered, called with valid parameters, in an order that works (a message
/// deleted after it was sent, getUpdates before setWebhook, leaveChat and logOut last).
fn calls(f: &Fixtures) -> Vec<Call> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let in_an_hour = now + 3_600;
    let kb =
        json!({ "inline_keyboard": [[{ "text": "Again", "callback_data": "again" }], [{ "text": "Site", "url": "https://example.org" }]] });
    let commands = json!([{ "command": "start", "description": "Start" }, { "command": "help", "description": "Help" }]);
    vec![
        call("getMe", json!({})),
        call(
            "getUpdates",
            json!({ "offset": f.offset, "limit": 50, "timeout": 0, "allowed_updates": ["message", "callback_query", "my_chat_member", "chat_member"] }),
        ),
        call_then(
            "answerCallbackQuery",
            json!({ "callback_query_id": f.callback_query_id, "text": "Noted", "show_alert": true, "url": "https://example.org/game" }),
            is_true,
        ),
        // Sending.
        call(
            "sendMessage",
            json!({ "chat_id": f.alice, "text": "<b>hi</b> <a href=\"https://example.org\">there</a>", "parse_mode": "HTML", "reply_parameters": { "message_id": f.hello }, "reply_markup": kb }),
        ),
        call("sendMessage", json!({ "chat_id": f.group, "text": "*group*", "parse_mode": "MarkdownV2" })),
        call(
            "sendMessage",
            json!({ "chat_id": f.channel, "text": "a post", "entities": [{ "type": "italic", "offset": 0, "length": 1 }] }),
        ),
        call("forwardMessage", json!({ "chat_id": f.group, "from_chat_id": f.alice, "message_id": f.hello })),
        call_then(
            "copyMessage",
            json!({ "chat_id": f.group, "from_chat_id": f.alice, "message_id": f.document_message, "caption": "copied" }),
            |v| v["message_id"].as_i64().map(|_| ()).ok_or_else(|| "a MessageId".to_string()),
        ),
        call(
            "copyMessage",
            json!({ "chat_id": f.alice, "from_chat_id": f.alice, "message_id": f.document_message, "caption": "<b>copied</b> again", "parse_mode": "HTML", "reply_parameters": { "message_id": f.hello }, "reply_markup": kb }),
        ),
        call(
            "copyMessage",
            json!({ "chat_id": f.alice, "from_chat_id": f.alice, "message_id": f.document_message, "caption": "copied with entities", "caption_entities": [{ "type": "bold", "offset": 0, "length": 6 }] }),
        ),
        call_then("sendChatAction", json!({ "chat_id": f.alice, "action": "typing" }), is_true),
        // Files.
        Call {
            method: "sendPhoto",
            request: Request::Upload {
                params: json!({ "chat_id": f.alice, "caption": "a <i>dot</i>", "parse_mode": "HTML" }),
                field: "photo",
                name: "dot.png",
                mime: "image/png",
                bytes: PNG.to_vec(),
            },
            check: |v| if v["photo"].as_array().is_some_and(|p| !p.is_empty()) { Ok(()) } else { Err("a photo".into()) },
        },
        call(
            "sendPhoto",
            json!({ "chat_id": f.alice, "photo": f.file_id, "caption": "dot", "caption_entities": [{ "type": "italic", "offset": 0, "length": 3 }], "reply_parameters": { "message_id": f.hello }, "reply_markup": kb }),
        ),
        Call {
            method: "sendDocument",
            request: Request::Upload {
                params: json!({ "chat_id": f.group, "caption": "notes" }),
                field: "document",
                name: "notes.txt",
                mime: "text/plain",
                bytes: b"some notes\n".repeat(100),
            },
            check: |v| if v["document"]["file_name"] == "notes.txt" { Ok(()) } else { Err("the document's name".into()) },
        },
        call(
            "sendDocument",
            json!({ "chat_id": f.alice, "document": f.file_id, "caption": "again", "caption_entities": [{ "type": "bold", "offset": 0, "length": 5 }], "reply_parameters": { "message_id": f.hello }, "reply_markup": kb }),
        ),
        call("sendDocument", json!({ "chat_id": f.alice, "document": f.file_id, "caption": "<i>again</i>", "parse_mode": "HTML" })),
        call_then("sendAudio", json!({ "chat_id": f.alice, "audio": f.file_id }), |v| {
            v.get("audio").map(|_| ()).ok_or_else(|| "audio".into())
        }),
        call_then(
            "sendAudio",
            json!({ "chat_id": f.alice, "audio": f.file_id, "caption": "<b>audio</b>", "parse_mode": "HTML", "reply_parameters": { "message_id": f.hello }, "reply_markup": kb }),
            |v| if v["caption_entities"][0]["type"] == "bold" { Ok(()) } else { Err("a bold caption".into()) },
        ),
        call_then(
            "sendAudio",
            json!({ "chat_id": f.alice, "audio": f.file_id, "caption": "audio", "caption_entities": [{ "type": "italic", "offset": 0, "length": 2 }] }),
            |v| v.get("audio").map(|_| ()).ok_or_else(|| "audio".into()),
        ),
        call_then("sendVideo", json!({ "chat_id": f.alice, "video": f.file_id }), |v| {
            v.get("video").map(|_| ()).ok_or_else(|| "video".into())
        }),
        call_then(
            "sendVideo",
            json!({ "chat_id": f.alice, "video": f.file_id, "caption": "<b>video</b>", "parse_mode": "HTML", "reply_parameters": { "message_id": f.hello }, "reply_markup": kb }),
            |v| if v["caption_entities"][0]["type"] == "bold" { Ok(()) } else { Err("a bold caption".into()) },
        ),
        call_then(
            "sendVideo",
            json!({ "chat_id": f.alice, "video": f.file_id, "caption": "video", "caption_entities": [{ "type": "italic", "offset": 0, "length": 2 }] }),
            |v| v.get("video").map(|_| ()).ok_or_else(|| "video".into()),
        ),
        call_then("sendVoice", json!({ "chat_id": f.alice, "voice": f.file_id }), |v| {
            v.get("voice").map(|_| ()).ok_or_else(|| "voice".into())
        }),
        call_then(
            "sendVoice",
            json!({ "chat_id": f.alice, "voice": f.file_id, "caption": "<b>voice</b>", "parse_mode": "HTML", "reply_parameters": { "message_id": f.hello }, "reply_markup": kb }),
            |v| if v["caption_entities"][0]["type"] == "bold" { Ok(()) } else { Err("a bold caption".into()) },
        ),
        call_then(
            "sendVoice",
            json!({ "chat_id": f.alice, "voice": f.file_id, "caption": "voice", "caption_entities": [{ "type": "italic", "offset": 0, "length": 2 }] }),
            |v| v.get("voice").map(|_| ()).ok_or_else(|| "voice".into()),
        ),
        call_then("getFile", json!({ "file_id": f.file_id }), |v| v["file_path"].as_str().map(|_| ()).ok_or_else(|| "a file_path".into())),
        // Editing and deleting.
        call_then(
            "editMessageText",
            json!({ "chat_id": f.alice, "message_id": f.to_edit, "text": "edited <b>text</b>", "parse_mode": "HTML", "reply_markup": kb }),
            |v| {
                if v["text"] == "edited text" && v["edit_date"].is_i64() {
                    Ok(())
                } else {
                    Err("the new text and edit_date".into())
                }
            },
        ),
        call_then(
            "editMessageCaption",
            json!({ "chat_id": f.alice, "message_id": f.captioned, "caption": "<u>new</u> caption", "parse_mode": "HTML", "reply_markup": kb }),
            |v| if v["caption"] == "new caption" { Ok(()) } else { Err("the new caption".into()) },
        ),
        call_then(
            "editMessageCaption",
            json!({ "chat_id": f.alice, "message_id": f.captioned, "caption": "newer caption", "caption_entities": [{ "type": "bold", "offset": 0, "length": 5 }] }),
            |v| if v["caption_entities"][0]["type"] == "bold" { Ok(()) } else { Err("a bold caption".into()) },
        ),
        call_then(
            "editMessageText",
            json!({ "chat_id": f.alice, "message_id": f.to_edit, "text": "edited again", "entities": [{ "type": "code", "offset": 0, "length": 6 }] }),
            |v| if v["entities"][0]["type"] == "code" { Ok(()) } else { Err("a code entity".into()) },
        ),
        call(
            "editMessageReplyMarkup",
            json!({ "chat_id": f.alice, "message_id": f.with_keyboard, "reply_markup": { "inline_keyboard": [[{ "text": "Other", "callback_data": "other" }]] } }),
        ),
        call_then(
            "setMessageReaction",
            json!({ "chat_id": f.alice, "message_id": f.hello, "reaction": [{ "type": "emoji", "emoji": "🔥" }], "is_big": true }),
            is_true,
        ),
        call_then("setMessageReaction", json!({ "chat_id": f.alice, "message_id": f.hello }), is_true),
        call_then("deleteMessage", json!({ "chat_id": f.group, "message_id": f.to_delete }), is_true),
        call_then("deleteMessages", json!({ "chat_id": f.group, "message_ids": f.to_delete_many }), is_true),
        // Chats.
        call("getChat", json!({ "chat_id": f.alice })),
        call("getChat", json!({ "chat_id": f.group })),
        call("getChat", json!({ "chat_id": format!("@{}", f.channel_username) })),
        call_then("getChatMember", json!({ "chat_id": f.group, "user_id": f.alice }), |v| status(v, "creator")),
        call_then("getChatMember", json!({ "chat_id": f.group, "user_id": f.bob }), |v| status(v, "member")),
        call_then("getChatMember", json!({ "chat_id": f.group, "user_id": f.bot }), |v| status(v, "administrator")),
        call_then("getChatMemberCount", json!({ "chat_id": f.group }), |v| if v == &json!(3) { Ok(()) } else { Err("3 members".into()) }),
        call_then("getChatAdministrators", json!({ "chat_id": f.group }), |v| {
            if v.as_array().map(Vec::len) == Some(2) {
                Ok(())
            } else {
                Err("the creator and the bot".into())
            }
        }),
        // Moderation: Bob restricted, banned and let back; the group's permissions.
        call_then(
            "restrictChatMember",
            json!({ "chat_id": f.group, "user_id": f.bob, "permissions": { "can_send_messages": true, "can_send_photos": false, "can_send_polls": false }, "until_date": in_an_hour, "use_independent_chat_permissions": true }),
            is_true,
        ),
        call_then("getChatMember", json!({ "chat_id": f.group, "user_id": f.bob }), |v| {
            if v["status"] == "restricted" && v["can_send_messages"] == json!(true) && v["can_send_photos"] == json!(false) {
                Ok(())
            } else {
                Err("restricted to text".into())
            }
        }),
        call_then(
            "setChatPermissions",
            json!({ "chat_id": f.group, "permissions": { "can_send_messages": true, "can_send_photos": true, "can_send_documents": true }, "use_independent_chat_permissions": true }),
            is_true,
        ),
        call_then("setChatDescription", json!({ "chat_id": f.group, "description": "Where we conform" }), is_true),
        call_then("getChat", json!({ "chat_id": f.group }), |v| {
            if v["description"] == "Where we conform" && v["permissions"]["can_send_documents"] == json!(true) {
                Ok(())
            } else {
                Err("the description and the permissions".into())
            }
        }),
        call_then(
            "banChatMember",
            json!({ "chat_id": f.group, "user_id": f.bob, "until_date": in_an_hour, "revoke_messages": false }),
            is_true,
        ),
        call_then("getChatMember", json!({ "chat_id": f.group, "user_id": f.bob }), |v| status(v, "kicked")),
        call_then("unbanChatMember", json!({ "chat_id": f.group, "user_id": f.bob, "only_if_banned": true }), is_true),
        call_then("exportChatInviteLink", json!({ "chat_id": f.group }), |v| {
            if v.as_str().is_some_and(|l| l.starts_with("http") && l.contains("/+")) {
                Ok(())
            } else {
                Err("an invite link".into())
            }
        }),
        // In the chat the bot was handed by its creator, it appoints admins.
        call_then(
            "promoteChatMember",
            json!({ "chat_id": f.handed, "user_id": f.bob, "is_anonymous": false, "can_manage_chat": true, "can_delete_messages": true, "can_manage_video_chats": false, "can_restrict_members": true, "can_promote_members": false, "can_change_info": true, "can_invite_users": true, "can_post_stories": false, "can_edit_stories": false, "can_delete_stories": false, "can_post_messages": false, "can_edit_messages": false, "can_pin_messages": true, "can_manage_topics": false, "can_manage_direct_messages": false, "can_manage_tags": false }),
            is_true,
        ),
        call_then("getChatMember", json!({ "chat_id": f.handed, "user_id": f.bob }), |v| status(v, "administrator")),
        call_then("promoteChatMember", json!({ "chat_id": f.handed, "user_id": f.bob }), is_true),
        call_then("getChatMember", json!({ "chat_id": f.handed, "user_id": f.bot }), |v| status(v, "creator")),
        call_then("pinChatMessage", json!({ "chat_id": f.group, "message_id": f.to_pin }), is_true),
        call_then("unpinChatMessage", json!({ "chat_id": f.group, "message_id": f.to_pin }), is_true),
        call_then("setChatTitle", json!({ "chat_id": f.group, "title": "Renamed by the bot" }), is_true),
        call_then("leaveChat", json!({ "chat_id": f.leaving }), is_true),
        // Commands.
        call_then("setMyCommands", json!({ "commands": commands }), is_true),
        call_then(
            "setMyCommands",
            json!({ "commands": [{ "command": "hilfe", "description": "Hilfe" }], "scope": { "type": "chat", "chat_id": f.group }, "language_code": "de" }),
            is_true,
        ),
        call_then(
            "getMyCommands",
            json!({}),
            |v| if v.as_array().map(Vec::len) == Some(2) { Ok(()) } else { Err("the two commands".into()) },
        ),
        call_then("getMyCommands", json!({ "scope": { "type": "chat", "chat_id": f.group }, "language_code": "de" }), |v| {
            if v[0]["command"] == "hilfe" {
                Ok(())
            } else {
                Err("the German command of the group".into())
            }
        }),
        call_then("deleteMyCommands", json!({}), is_true),
        call_then("deleteMyCommands", json!({ "scope": { "type": "chat", "chat_id": f.group }, "language_code": "de" }), is_true),
        // The bot's profile.
        call_then("setMyName", json!({ "name": "Conformance Bot" }), is_true),
        call_then("setMyName", json!({ "name": "Konformität", "language_code": "de" }), is_true),
        call_then("getMyName", json!({}), |v| expect(v, "name", "Conformance Bot")),
        call_then("getMyName", json!({ "language_code": "de" }), |v| expect(v, "name", "Konformität")),
        call_then("setMyDescription", json!({ "description": "Checks\nshapes" }), is_true),
        call_then("setMyDescription", json!({ "description": "Prüft Formen", "language_code": "de" }), is_true),
        call_then("getMyDescription", json!({}), |v| expect(v, "description", "Checks\nshapes")),
        call_then("getMyDescription", json!({ "language_code": "fr" }), |v| expect(v, "description", "Checks\nshapes")),
        call_then("setMyShortDescription", json!({ "short_description": "Checks shapes" }), is_true),
        call_then("setMyShortDescription", json!({ "short_description": "Prüft", "language_code": "de" }), is_true),
        call_then("getMyShortDescription", json!({}), |v| expect(v, "short_description", "Checks shapes")),
        call_then("getMyShortDescription", json!({ "language_code": "de" }), |v| expect(v, "short_description", "Prüft")),
        call_then("setChatMenuButton", json!({ "chat_id": f.alice, "menu_button": { "type": "commands" } }), is_true),
        call_then("getChatMenuButton", json!({ "chat_id": f.alice }), |v| expect(v, "type", "commands")),
        call_then("getChatMenuButton", json!({}), |v| expect(v, "type", "commands")),
        call_then(
            "setMyDefaultAdministratorRights",
            json!({ "rights": { "is_anonymous": false, "can_manage_chat": true, "can_delete_messages": true, "can_manage_video_chats": false, "can_restrict_members": true, "can_promote_members": false, "can_change_info": false, "can_invite_users": true, "can_post_stories": false, "can_edit_stories": false, "can_delete_stories": false, "can_post_messages": true }, "for_channels": true }),
            is_true,
        ),
        call_then("getMyDefaultAdministratorRights", json!({ "for_channels": true }), |v| {
            if v["can_post_messages"] == json!(true) && v["can_promote_members"] == json!(false) {
                Ok(())
            } else {
                Err("the rights set for channels".into())
            }
        }),
        call_then("getMyDefaultAdministratorRights", json!({}), |v| {
            if v["can_manage_chat"] == json!(false) {
                Ok(())
            } else {
                Err("no rights for groups".into())
            }
        }),
        // Webhooks: nothing listens at the URL (port 9 is "discard"); deliveries just fail.
        call_then(
            "setWebhook",
            json!({ "url": "http://127.0.0.1:9/hook", "secret_token": "s3cr3t", "max_connections": 5, "allowed_updates": ["message"], "drop_pending_updates": true }),
            is_true,
        ),
        call_then("getWebhookInfo", json!({}), |v| {
            if v["url"] == "http://127.0.0.1:9/hook" {
                Ok(())
            } else {
                Err("the webhook's URL".into())
            }
        }),
        call_then("deleteWebhook", json!({ "drop_pending_updates": true }), is_true),
        // Handing the bot over: no-ops here, last anyway.
        call_then("close", json!({}), is_true),
        call_then("logOut", json!({}), is_true),
    ]
}

fn expect(v: &Value, field: &str, want: &str) -> Result<(), String> {
    if v[field] == want {
        Ok(())
    } else {
        Err(format!("{field} \"{want}\""))
    }
}

fn status(v: &Value, want: &str) -> Result<(), String> {
    if v["status"] == want {
        Ok(())
    } else {
        Err(format!("status {want}"))
    }
}

impl Request {
    /// The names of the parameters sent.
    fn names(&self) -> BTreeSet<String> {
        let (params, file) = match self {
            Request::Json(params) => (params, None),
            Request::Upload { params, field, .. } => (params, Some(field.to_string())),
        };
        params.as_object().into_iter().flatten().map(|(k, _)| k.clone()).chain(file).collect()
    }
}

/// Every offered method is called, each call with the method's required parameters, and
/// each optional parameter the server honours (not ignored, not refused) in one call at least.
#[test]
fn every_offered_method_is_called_with_every_parameter_it_honours() {
    let spec = spec();
    let calls = calls(&Fixtures::default());
    let mut problems = Vec::new();
    for c in COVERAGE.iter().filter(|c| c.status != Status::NotOffered) {
        let mine: Vec<&Call> = calls.iter().filter(|call| call.method == c.method).collect();
        if mine.is_empty() {
            problems.push(format!("{}: offered, but no call in `calls`", c.method));
            continue;
        }
        let sent: BTreeSet<String> = mine.iter().flat_map(|call| call.request.names()).collect();
        for (name, required) in spec.fields(c.method) {
            if required {
                for call in mine.iter().filter(|call| !call.request.names().contains(&name)) {
                    problems.push(format!("{}: a call without the required `{name}`: {:?}", c.method, call.request));
                }
            } else if !c.ignored(&name) && !c.refuses.contains(&name.as_str()) && !sent.contains(&name) {
                problems.push(format!("{}: honours `{name}` (neither ignored nor refused in coverage.rs), but no call sends it", c.method));
            }
        }
    }
    for call in &calls {
        if heliograph_server::botapi::coverage::of(call.method).is_none_or(|c| c.status == Status::NotOffered) {
            problems.push(format!("{}: called, but not offered", call.method));
        }
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// Everything [`calls`] refers to: people, the bot, chats, messages, a file, a press.
async fn fixtures(server: &InProcess) -> (Fixtures, Bot, Person, tokio::task::JoinHandle<Option<proto::CallbackAnswer>>, Vec<Value>) {
    let alice = Person::sign_in(server, 1).await;
    let bob = Person::sign_in(server, 2).await;
    let bot = Bot::create(server, &alice, "conform_bot").await;
    let to_api = |chat: i64| -(1_000_000_000_000 + chat);
    let mut f = Fixtures { alice: alice.id(), bob: bob.id(), bot: bot.id, ..Fixtures::default() };
    // Every kind of update, to check each one's shape.
    bot.call("getUpdates", json!({ "timeout": 0, "allowed_updates": heliograph_server::botapi::updates::KINDS })).await;

    // A private chat where Alice said hello and sent a file.
    let private = alice.client.open_private(bot.id).await.expect("open the bot's chat");
    f.hello = alice.client.send_message(private.id, "hello", None).await.expect("hello").message.id;
    let files = heliograph_client::files::Files::new(&format!("http://{}", server.addr()), &alice.token).expect("files");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.txt");
    std::fs::write(&path, b"quarterly numbers\n".repeat(200)).expect("write");
    let (sha, size) = heliograph_client::files::hash_file(&path).await.expect("hash");
    let uploaded = files.upload(&path, "conformance-1", &sha, size, Some("text/plain"), |_| {}).await.expect("upload");
    let sent = alice.client.send_media(private.id, 7, uploaded.id, proto::MediaKind::Document, Some("the report")).await.expect("media");
    f.document_message = sent.message.id;

    // A group where the bot is an admin, another it will leave, a channel it posts in.
    let group = alice.client.create_group("Conformance", &[bob.id(), bot.id]).await.expect("group");
    alice.client.set_admin(group.id, bot.id, true).await.expect("the bot is an admin");
    f.group = to_api(group.id);
    let leaving = alice.client.create_group("Short stay", &[bot.id]).await.expect("group");
    f.leaving = to_api(leaving.id);
    let handed = alice.client.create_group("Handed over", &[bot.id, bob.id()]).await.expect("group");
    alice.client.set_admin(handed.id, bot.id, true).await.expect("the bot is an admin");
    alice.client.remove_member(handed.id, alice.id()).await.expect("Alice leaves it to the bot");
    f.handed = to_api(handed.id);
    alice.client.add_members(leaving.id, &[bob.id()]).await.expect("someone joins after the bot: a chat_member update");
    f.channel_username = "conform_news".into();
    let channel = alice.client.create_channel("Conformance News", Some(&f.channel_username)).await.expect("channel");
    alice.client.add_members(channel.id, &[bot.id]).await.expect("the bot joins the channel");
    alice.client.set_admin(channel.id, bot.id, true).await.expect("the bot may post");
    f.channel = to_api(channel.id);
    bob.client.send_message(group.id, "/start@conform_bot", None).await.expect("a command in the group");
    let post = alice.client.send_message(channel.id, "first post", None).await.expect("a post").message.id;
    // Reactions: Alice's to her hello (a message_reaction), and to the post of the channel,
    // whose readers react anonymously (a message_reaction_count).
    let thumbs = [proto::ReactionType::Emoji { emoji: "👍".into() }];
    alice.client.react(private.id, f.hello, &thumbs).await.expect("a reaction in the private chat");
    alice.client.react(channel.id, post, &thumbs).await.expect("a reaction in the channel");

    // The bot's own messages, for the calls that change them.
    let send = |chat: i64, text: &str| bot.call("sendMessage", json!({ "chat_id": chat, "text": text }));
    f.to_edit = send(f.alice, "to edit").await["message_id"].as_i64().expect("id");
    f.captioned = bot
        .call("sendDocument", json!({ "chat_id": f.alice, "document": uploaded.id.to_string(), "caption": "old caption" }))
        .await["message_id"]
        .as_i64()
        .expect("id");
    let keyboard = json!({ "inline_keyboard": [[{ "text": "Press", "callback_data": "pressed" }]] });
    f.with_keyboard = bot.call("sendMessage", json!({ "chat_id": f.alice, "text": "press", "reply_markup": keyboard })).await["message_id"]
        .as_i64()
        .expect("id");
    f.to_pin = send(f.group, "to pin").await["message_id"].as_i64().expect("id");
    f.to_delete = send(f.group, "to delete").await["message_id"].as_i64().expect("id");
    f.to_delete_many = [
        send(f.group, "to delete too").await["message_id"].as_i64().expect("id"),
        send(f.group, "and this").await["message_id"].as_i64().expect("id"),
    ];

    // Alice presses the button and waits for the bot's answer.
    let press = {
        let client = alice.client.clone();
        let (chat, message) = (private.id, f.with_keyboard);
        tokio::spawn(async move { client.press_button(chat, message, "pressed").await.ok() })
    };
    let seen = bot.updates_until(&mut f.offset, |u| u.get("callback_query").is_some()).await;
    let query = seen.iter().find_map(|u| u.get("callback_query")).expect("the press");
    f.callback_query_id = query["id"].as_str().expect("a query id").to_string();
    f.file_id = uploaded.id.to_string();
    (f, bot, alice, press, seen)
}

#[tokio::test]
async fn every_answered_method_answers_with_the_shape_the_spec_says() {
    let server = InProcess::start_with(|c| {
        c.limits.requests_per_second = 10_000;
        c.limits.requests_burst = 10_000;
        // setWebhook names a loopback URL (nothing listens there): allowed explicitly.
        c.egress.allow = vec!["127.0.0.1/32".into()];
    })
    .await;
    let (f, bot, _alice, press, seen) = fixtures(&server).await;
    let spec = spec();
    let mut problems = Vec::new();

    // The updates the fixtures made: messages, a group command, a channel post, joins, a press.
    for (i, update) in seen.iter().enumerate() {
        for e in spec.mismatches(update, &["Update".into()], &format!("update {i}")) {
            problems.push(format!("getUpdates: {e}"));
        }
    }
    let kinds: BTreeSet<&str> = seen.iter().flat_map(|u| u.as_object().into_iter().flatten().map(|(k, _)| k.as_str())).collect();
    for kind in ["message", "channel_post", "callback_query", "my_chat_member", "chat_member", "message_reaction", "message_reaction_count"]
    {
        if !kinds.contains(kind) {
            problems.push(format!("getUpdates: no {kind} update among {kinds:?}"));
        }
    }

    for c in calls(&f) {
        let (status, body) = bot.send(c.method, &c.request).await;
        if status != 200 || body["ok"] != json!(true) {
            problems.push(format!("{} {:?} → HTTP {status} {body}", c.method, c.request));
            continue;
        }
        let result = &body["result"];
        let returns = spec.returns(c.method);
        let mut errors = spec.mismatches(result, &returns, "result");
        if returns == ["Boolean"] && result != &json!(true) {
            errors.push(format!("result: \"Returns True on success\", got {result}"));
        }
        if let Err(e) = (c.check)(result) {
            errors.push(format!("result: expected {e}"));
        }
        for e in errors {
            problems.push(format!("{} {:?}: {e}\n    result: {result}", c.method, c.request));
        }
    }

    // The answer reached Alice, who was still waiting on her press.
    match tokio::time::timeout(Duration::from_secs(15), press).await {
        Ok(Ok(Some(answer))) if answer.text.as_deref() == Some("Noted") && answer.alert => {}
        other => problems.push(format!("answerCallbackQuery: Alice's press got {other:?}")),
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// Every method of the specification the server does not offer is refused with Telegram's
/// `404` for a method it does not know, naming the method and why (never a silent success);
/// a name that is no method at all is refused alike; a parameter the coverage list marks
/// refused is refused with `400` naming it.
#[tokio::test]
async fn every_method_not_offered_is_refused_by_name() {
    let server = InProcess::start_with(|c| {
        c.limits.requests_per_second = 10_000;
        c.limits.requests_burst = 10_000;
    })
    .await;
    let alice = Person::sign_in(&server, 1).await;
    let bot = Bot::create(&server, &alice, "refused_bot").await;
    let mut refused = 0;
    for c in COVERAGE.iter().filter(|c| c.status == Status::NotOffered) {
        let want = format!("Not Found: method {} is not offered by this server ({})", c.method, c.notes);
        assert_eq!(bot.fail(c.method, json!({})).await, (404, want.clone()), "{}", c.method);
        assert_eq!(bot.fail(&c.method.to_lowercase(), json!({ "chat_id": alice.id() })).await, (404, want), "{}", c.method);
        refused += 1;
    }
    assert!(refused >= 100, "only {refused} methods not offered: did the specification shrink?");
    let made_up = bot.fail("sendRocket", json!({})).await;
    assert_eq!(made_up, (404, "Not Found: there is no method \"sendRocket\" in the Bot API".to_string()));
    for c in COVERAGE {
        for name in c.refuses {
            let (code, description) = bot.fail(c.method, json!({ *name: "x" })).await;
            assert_eq!(code, 400, "{} with {name}: {description}", c.method);
            assert!(description.contains(name), "{} with {name}: the refusal names it: {description}", c.method);
        }
    }
}
