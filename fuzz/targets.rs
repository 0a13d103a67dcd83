//! The bodies of the fuzz targets, one function per decoder of untrusted input.
//!
//! Shared by two callers so they cannot drift apart: the cargo-fuzz binaries in
//! `fuzz_targets/` (nightly, libFuzzer) and `crates/server/tests/fuzz_corpus.rs`, which replays
//! every file of `fuzz/corpus/<target>/` through the same function as an ordinary test on
//! stable. Each body asserts more than "does not panic": whatever a decoder accepts must
//! survive a round trip unchanged.

use heliograph_core::{Bio, DisplayName, LoginCode, MessageText, Phone, Title, Username};
use heliograph_proto::{ClientFrame, ErrorCode, Request, ServerFrame};

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target by name, as the corpus folders are named.
pub const TARGETS: &[(&str, Target)] = &[
    ("client_frame", client_frame),
    ("request_params", request_params),
    ("server_frame", server_frame),
    ("phone", phone),
    ("username", username),
    ("values", values),
    ("parse_mode", parse_mode),
    ("botapi_params", botapi_params),
    ("multipart", multipart),
    ("upload_headers", upload_headers),
    ("range", range),
    ("strict_json", strict_json),
    ("egress_url", egress_url),
];

/// A WebSocket text frame as the gateway receives it (`ClientFrame::parse`). An accepted
/// request re-encodes to a frame that parses to the same request; a refusal carries one of
/// the documented codes.
pub fn client_frame(data: &[u8]) {
    // Text frames are UTF-8 by the WebSocket protocol (tungstenite refuses others).
    let Ok(text) = std::str::from_utf8(data) else { return };
    match ClientFrame::parse(text) {
        Ok((id, request)) => {
            let again = serde_json::json!({"id": id, "method": request.method(), "params": request.params()}).to_string();
            match ClientFrame::parse(&again) {
                Ok((id2, request2)) => assert!(id2 == id && request2 == request, "round trip changed {text:?} into {again:?}"),
                Err((_, e)) => panic!("re-encoded {text:?} as {again:?}, which is refused: {e:?}"),
            }
        }
        Err((_, e)) => assert!(
            matches!(e.code, ErrorCode::BadRequest | ErrorCode::BadParams | ErrorCode::UnknownMethod),
            "unexpected code {:?} for {text:?}",
            e.code
        ),
    }
}

/// A known method with arbitrary JSON params (`Request::parse`): the first byte picks the
/// method, so the fuzzer spends its time inside each method's parameters.
pub fn request_params(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let method = Request::METHODS[usize::from(pick) % Request::METHODS.len()];
    let Ok(params) = serde_json::from_slice::<serde_json::Value>(rest) else { return };
    if let Ok(request) = Request::parse(method, params) {
        assert_eq!(request.method(), method);
        assert_eq!(Request::parse(method, request.params()).ok(), Some(request), "params do not round-trip");
    }
}

/// A frame from the server as the SDK and the CLI decode it: from a client's point of view
/// the server is untrusted input too.
pub fn server_frame(data: &[u8]) {
    if let Ok(frame) = serde_json::from_slice::<ServerFrame>(data) {
        let again = serde_json::to_string(&frame).expect("a decoded frame encodes");
        let frame2: ServerFrame = serde_json::from_str(&again).expect("an encoded frame decodes");
        assert_eq!(frame2, frame, "server frame does not round-trip");
    }
}

/// `Phone::parse`: an accepted number is canonical (parsing it again changes nothing).
pub fn phone(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(phone) = Phone::parse(text) {
        let s = phone.as_str();
        assert!(s.starts_with('+') && (9..=16).contains(&s.len()), "{s:?}");
        assert_eq!(Phone::parse(s).as_ref(), Ok(&phone));
        if let Some(code) = phone.test_code() {
            assert_eq!(code.len(), 5);
        }
    }
}

/// `Username::parse`: accepted names are ASCII, canonical, and their key is lowercase.
pub fn username(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(name) = Username::parse(text) {
        assert!(name.as_str().is_ascii() && (5..=32).contains(&name.as_str().len()));
        assert_eq!(Username::parse(name.as_str()).as_ref(), Ok(&name));
        assert_eq!(Username::parse(&format!("@{}", name.as_str())).as_ref(), Ok(&name));
        assert_eq!(name.key(), name.as_str().to_ascii_lowercase());
    }
}

/// The other checked values (names, bios, titles, message text, login codes): the first
/// byte picks one; whatever is accepted parses again to itself.
pub fn values(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match pick % 5 {
        0 => {
            if let Ok(v) = DisplayName::parse(text) {
                assert_eq!(DisplayName::parse(v.as_str()).as_ref(), Ok(&v));
            }
        }
        1 => {
            if let Ok(v) = Bio::parse(text) {
                assert_eq!(Bio::parse(v.as_str()).as_ref(), Ok(&v));
            }
        }
        2 => {
            if let Ok(v) = Title::parse(text) {
                assert_eq!(Title::parse(v.as_str()).as_ref(), Ok(&v));
            }
        }
        3 => {
            if let Ok(v) = MessageText::parse(text.to_string()) {
                assert_eq!(v.as_str(), text, "message text is kept exactly as sent");
            }
        }
        _ => {
            if let Ok(v) = LoginCode::parse(text) {
                assert_eq!(LoginCode::parse(v.as_str()).as_ref(), Ok(&v));
            }
        }
    }
}

/// A Bot API text with `parse_mode` (the first byte picks HTML, MarkdownV2 or Markdown):
/// whatever the parser accepts yields entities that lie inside the plain text it returns.
pub fn parse_mode(data: &[u8]) {
    use heliograph_server::botapi::parse_mode::{parse, ParseMode};
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let mode = [ParseMode::Html, ParseMode::MarkdownV2, ParseMode::Markdown][usize::from(pick) % 3];
    match parse(mode, text) {
        Ok((plain, entities)) => {
            let len = heliograph_core::utf16_len(&plain);
            for e in &entities {
                assert!(e.length > 0 && e.offset + e.length <= len, "{e:?} outside {plain:?} from {text:?} ({mode:?})");
            }
        }
        Err(description) => assert!(description.starts_with("can't parse entities: "), "{description:?} for {text:?}"),
    }
}

/// Characters a query string or form value may carry unescaped (the rest are `%XX`).
fn form_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every accessor a Bot API method uses, on every parameter: refusals are `ApiError`s, never
/// panics; a parameter that reads as a string reads the same every time.
fn read_every_way(params: &heliograph_server::botapi::params::Params, names: &[String]) {
    for name in names {
        let s = params.str(name);
        if let (Ok(a), Ok(b)) = (&s, params.str(name)) {
            assert_eq!(a, &b);
        }
        if let Ok(Some(n)) = params.int(name) {
            if let Ok(Some(text)) = &s {
                assert_eq!(text.trim().parse::<i64>().ok(), Some(n), "int {n} from {text:?}");
            }
        }
        let _ = params.required_str(name);
        let _ = params.required_int(name);
        let _ = params.bool(name);
        let _ = params.json::<serde_json::Value>(name);
        let _ = params.json::<Vec<i64>>(name);
        let _ = params.json::<Vec<Vec<serde_json::Value>>>(name);
        assert!(params.has(name) || matches!(s, Ok(None)));
    }
}

/// A Bot API request's parameters (`botapi/params.rs`): the first byte picks a query string
/// or URL-encoded form (`form_urlencoded`) or a JSON body; then every accessor reads every
/// parameter. A decoded form re-encodes (strictly percent-escaped) to the same pairs.
pub fn botapi_params(data: &[u8]) {
    use heliograph_server::botapi::params::{form_urlencoded, Params};
    let Some((&pick, rest)) = data.split_first() else { return };
    let mut object = serde_json::Map::new();
    if pick % 2 == 0 {
        // Query strings and form bodies: params.rs refuses a body that is not UTF-8.
        let Ok(text) = std::str::from_utf8(rest) else { return };
        let pairs = form_urlencoded(text);
        let again: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", form_escape(k), form_escape(v))).collect();
        assert_eq!(form_urlencoded(&again.join("&")), pairs, "form pairs of {text:?} do not round-trip");
        for (k, v) in pairs {
            object.insert(k, serde_json::Value::String(v));
        }
    } else {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(rest) else { return };
        object = map;
    }
    let names: Vec<String> = object.keys().cloned().chain(["chat_id".to_string(), "missing".to_string()]).collect();
    let params = Params::from_json(serde_json::Value::Object(object));
    read_every_way(&params, &names);
}

/// A `multipart/form-data` body read through axum's `Multipart` (multer) exactly as
/// `Params::read` reads it: at most 64 fields, text fields as text, file fields as chunks.
/// The boundary is the body's first line (without its `--`), as every client sends it. What
/// is read never exceeds what was sent, and a body that parses re-encodes (fresh boundary) to
/// the same fields.
pub fn multipart(data: &[u8]) {
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let boundary = std::str::from_utf8(first)
        .ok()
        .and_then(|l| l.trim_end_matches('\r').strip_prefix("--"))
        .filter(|b| !b.is_empty() && b.len() <= 70 && b.bytes().all(|c| c.is_ascii_graphic() && c != b'"' && c != b';'))
        .unwrap_or("heliograph-boundary")
        .to_string();
    let fields = read_multipart(&boundary, data.to_vec());
    let Ok(fields) = fields else { return };
    // A file's bytes come as sent; a text field is decoded (a byte that is not UTF-8 becomes
    // U+FFFD, three bytes; a Latin-1 byte two), but never yields more characters than bytes.
    let total: usize =
        fields.iter().map(|f| if f.file_name.is_some() { f.data.len() } else { String::from_utf8_lossy(&f.data).chars().count() }).sum();
    assert!(total <= data.len(), "read {total} bytes and characters from a body of {}", data.len());
    // Re-encode what was read, when it can be written unambiguously: names and file names
    // without quotes, backslashes or line breaks, data that does not contain the boundary.
    let fresh = "fuzz-roundtrip-7f3c1a";
    // multer reads `filename="` even inside a quoted name (`name="a; filename="` then
    // `; filename="x"` yields the file name `; filename=`): harmless for the Bot API (such a
    // field is staged as a file, as any file field may be), so names holding `name=` are
    // left out of the round trip rather than reported again.
    let plain = |s: &str| !s.contains(['"', '\\', '\r', '\n']) && !s.contains(fresh) && !s.contains("name=");
    if !fields.iter().all(|f| {
        f.name.as_deref().is_some_and(|n| !n.is_empty() && plain(n))
            && f.file_name.as_deref().is_none_or(|n| !n.is_empty() && plain(n))
            && f.content_type
                .as_deref()
                .is_none_or(|c| plain(c) && c.parse::<axum::http::HeaderValue>().is_ok() && c.trim() == c && !c.is_empty())
            && !f.data.windows(fresh.len()).any(|w| w == fresh.as_bytes())
            // A text field's leading byte order mark overrides its charset (encoding_rs sniffs
            // it: FE FF reads as UTF-16) and is dropped: such text does not round-trip.
            && (f.file_name.is_some() || ![&[0xEF, 0xBB, 0xBF][..], &[0xFE, 0xFF], &[0xFF, 0xFE]].iter().any(|bom| f.data.starts_with(bom)))
    }) {
        return;
    }
    // A text field is text once read (decoded from its charset): it is written back as UTF-8,
    // without its Content-Type.
    let fields: Vec<Field> =
        fields.into_iter().map(|f| if f.file_name.is_none() { Field { content_type: None, ..f } } else { f }).collect();
    let mut body = Vec::new();
    for f in &fields {
        body.extend_from_slice(
            format!("--{fresh}\r\nContent-Disposition: form-data; name=\"{}\"", f.name.as_deref().unwrap_or_default()).as_bytes(),
        );
        if let Some(file_name) = &f.file_name {
            body.extend_from_slice(format!("; filename=\"{file_name}\"").as_bytes());
        }
        if let Some(content_type) = &f.content_type {
            body.extend_from_slice(format!("\r\nContent-Type: {content_type}").as_bytes());
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(&f.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{fresh}--\r\n").as_bytes());
    match read_multipart(fresh, body) {
        Ok(again) => assert_eq!(again, fields, "multipart fields do not round-trip"),
        Err(e) => panic!("re-encoded fields {fields:?} are refused: {e}"),
    }
}

/// One field as `Params::read` sees it.
#[derive(Debug, PartialEq, Eq)]
struct Field {
    name: Option<String>,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

/// Reads a multipart body the way `Params::read` does, on a runtime kept for the thread.
fn read_multipart(boundary: &str, body: Vec<u8>) -> Result<Vec<Field>, String> {
    use axum::extract::{FromRequest, Multipart};
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime =
            tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime");
    }
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/bot1:x/sendDocument")
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(axum::body::Body::from(body))
        .expect("a request");
    RUNTIME.with(|rt| {
        rt.block_on(async move {
            let mut multipart = Multipart::from_request(request, &()).await.map_err(|e| e.body_text())?;
            let mut fields = Vec::new();
            while let Some(mut field) = multipart.next_field().await.map_err(|e| e.to_string())? {
                if fields.len() == 64 {
                    return Err("too many fields".to_string());
                }
                let name = field.name().map(str::to_string);
                let file_name = field.file_name().map(str::to_string);
                let content_type = field.content_type().map(str::to_string);
                let data = if file_name.is_some() {
                    // Files are staged chunk by chunk (`Files::stage`).
                    let mut data = Vec::new();
                    while let Some(chunk) = field.chunk().await.map_err(|e| e.to_string())? {
                        data.extend_from_slice(&chunk);
                    }
                    data
                } else {
                    field.text().await.map_err(|e| e.to_string())?.into_bytes()
                };
                fields.push(Field { name, file_name, content_type, data });
            }
            Ok(fields)
        })
    })
}

/// The upload path and names of `files.rs`: the first byte picks the upload id
/// (`UploadId::parse`, a folder name), the part number, the file name (`clean_name`), the
/// MIME type (`clean_mime`) or the `Content-Disposition` built from a name (`disposition`).
pub fn upload_headers(data: &[u8]) {
    use heliograph_server::files::{clean_mime, clean_name, disposition, UploadId};
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match pick % 4 {
        0 => {
            let ok = UploadId::parse(text).is_ok();
            let safe = (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            assert_eq!(ok, safe, "upload id {text:?}");
        }
        1 => {
            let name = clean_name(text);
            assert!(!name.trim().is_empty() && name.chars().count() <= 255, "{name:?}");
            assert!(!name.contains(['/', '\\']) && !name.chars().any(char::is_control), "{name:?} from {text:?}");
            assert_eq!(clean_name(&name), name, "clean_name is not idempotent on {text:?}");
        }
        2 => {
            if let Ok(mime) = clean_mime(Some(text)) {
                assert!(mime.len() <= 127 && mime.matches('/').count() == 1 && mime == mime.to_ascii_lowercase(), "{mime:?}");
                assert_eq!(clean_mime(Some(&mime)).ok().as_ref(), Some(&mime));
            }
        }
        _ => {
            let value = disposition(text);
            let value = value.to_str().expect("Content-Disposition is visible ASCII");
            if value != "attachment" {
                // The UTF-8 name decodes back to exactly the name given.
                let encoded = value.rsplit_once("filename*=UTF-8''").expect("an RFC 6266 name").1;
                let mut bytes = Vec::new();
                let mut rest = encoded.as_bytes();
                while let Some((&b, tail)) = rest.split_first() {
                    if b == b'%' {
                        let hex = std::str::from_utf8(&tail[..2]).expect("ASCII");
                        bytes.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
                        rest = &tail[2..];
                    } else {
                        bytes.push(b);
                        rest = tail;
                    }
                }
                assert_eq!(bytes, text.as_bytes(), "filename* of {text:?}");
            }
        }
    }
}

/// `Range: bytes=...` against a file whose size is the first eight bytes: a part is inside
/// the file, with its start before its end; an unsatisfiable range is one that really is.
pub fn range(data: &[u8]) {
    use heliograph_server::files::{wanted, Wanted};
    if data.len() < 8 {
        return;
    }
    let (size, header) = data.split_at(8);
    // Sizes up to 2^40 (a TiB) keep the interesting small values likely.
    let size = u64::from_le_bytes(size.try_into().expect("eight bytes")) >> 24;
    let Ok(header) = std::str::from_utf8(header) else { return };
    match wanted(Some(header), size) {
        Wanted::All => {}
        Wanted::Part(a, b) => assert!(a <= b && b < size, "{header:?} on {size} bytes gave {a}..={b}"),
        Wanted::Unsatisfiable => {
            let spec = header.trim().strip_prefix("bytes=").expect("only a bytes= range is unsatisfiable");
            let (a, b) = spec.split_once('-').expect("a range");
            let suffix_zero = a.trim().is_empty() && b.trim().parse::<u64>() == Ok(0);
            let past_end = a.trim().parse::<u64>().is_ok_and(|a| a >= size) || (a.trim().is_empty() && size == 0);
            assert!(suffix_zero || past_end, "{header:?} on {size} bytes called unsatisfiable");
        }
    }
    assert_eq!(wanted(None, size), Wanted::All);
}

/// `heliograph_proto::json::parse_slice`, the one reader of untrusted JSON: whatever it
/// accepts is exactly what `serde_json` reads (and survives a round trip); whatever
/// `serde_json` reads but it refuses names a duplicate key.
pub fn strict_json(data: &[u8]) {
    let loose = serde_json::from_slice::<serde_json::Value>(data);
    match (heliograph_proto::json::parse_slice(data), loose) {
        (Ok(strict), Ok(loose)) => {
            assert_eq!(strict, loose, "the strict reader read {data:?} differently");
            // Re-encoded, it reads as serde_json reads it (not always as the same value:
            // serde_json's default float parsing may land one ULP off the shortest form).
            let again = serde_json::to_vec(&strict).expect("a value encodes");
            let reread = serde_json::from_slice::<serde_json::Value>(&again).ok();
            assert_eq!(heliograph_proto::json::parse_slice(&again).ok(), reread, "round trip of {again:?}");
        }
        (Ok(strict), Err(e)) => panic!("accepted {data:?} as {strict} although serde_json refuses it: {e}"),
        (Err(e), Ok(_)) => assert!(e.to_string().contains("duplicate key"), "refused {data:?} for {e}"),
        (Err(_), Err(_)) => {}
    }
}

/// The outgoing-request guard's checks that need no network (`egress`): an address written
/// in a URL is let through only when it is public, and an IPv4 address classifies the same
/// as its IPv4-mapped IPv6 form. The first byte picks the input: raw address bytes or a URL.
pub fn egress_url(data: &[u8]) {
    use heliograph_server::egress::{classify, Egress, EgressConfig};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    static EGRESS: std::sync::OnceLock<Egress> = std::sync::OnceLock::new();
    let Some((&pick, rest)) = data.split_first() else { return };
    if pick % 2 == 0 {
        if let Ok(v4) = <[u8; 4]>::try_from(rest.get(..4).unwrap_or_default()) {
            let v4 = Ipv4Addr::from(v4);
            assert_eq!(classify(IpAddr::V4(v4)), classify(IpAddr::V6(v4.to_ipv6_mapped())), "{v4}");
        }
        if let Ok(v6) = <[u8; 16]>::try_from(rest.get(..16).unwrap_or_default()) {
            let _ = classify(IpAddr::V6(Ipv6Addr::from(v6)));
        }
        return;
    }
    let Ok(url) = std::str::from_utf8(rest) else { return };
    let egress = EGRESS.get_or_init(|| Egress::new(&EgressConfig::default()).expect("a client"));
    if let Ok(Some(ip)) = egress.check_literal(url) {
        assert_eq!(classify(ip), None, "{url:?} let {ip} through");
    }
}
