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
