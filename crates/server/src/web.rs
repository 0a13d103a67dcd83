//! The web client (`web/` at the repository root), embedded into the binary at compile time.
//!
//! - `GET /` and `GET /+{invite}` (the form of invite links): `index.html`, never cached, with
//!   the security headers below.
//! - `GET /app/{version}/{*path}`: the client's ES modules, stylesheet and icon. `version` is a
//!   hash of every embedded file, so these URLs change whenever any file does and can be
//!   cached for a year; a stale version (an index page from before an upgrade) is still
//!   answered, with the current file and without caching.
//!
//! There is no build step: the files are served exactly as they are in `web/`. Each file is
//! listed in [`ASSETS`] with `include_bytes!`, so cargo rebuilds the binary when one changes;
//! a test checks the list against the folder.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

/// What an HTML page may load: its own scripts, styles and images, and a WebSocket to its own
/// origin. No inline scripts or styles, no plugins, no framing, no foreign form targets.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// One embedded file of `web/`.
struct Asset {
    /// Path below `web/`, e.g. `app/main.js`.
    path: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal) => {
        Asset { path: $path, body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/", $path)) }
    };
}

/// Every file served under `/app/{version}/`.
const ASSETS: &[Asset] = &[
    asset!("app/api.js"),
    asset!("app/history.js"),
    asset!("app/icon.svg"),
    asset!("app/main.js"),
    asset!("app/model.js"),
    // account (#16): the moderation page's own script.
    asset!("app/moderation.js"),
    asset!("app/style.css"),
    asset!("app/sync.js"),
    // accountability (#16): the transparency report page's own script.
    asset!("app/transparency.js"),
    asset!("app/types.js"),
    // Preact and htm, vendored as published (web/app/vendor/README.md).
    asset!("app/vendor/htm.module.js"),
    asset!("app/vendor/preact.module.js"),
    asset!("app/views.js"),
];

const INDEX: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/index.html"));
/// account (#16): the moderation page (`GET /moderation`), for `[accountability] operators`.
const MODERATION: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/moderation.html"));
/// accountability (#16): the public transparency report (`GET /transparency`).
const TRANSPARENCY: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/transparency.html"));

/// The index page with its asset URLs filled in, and the version in them.
struct Site {
    version: String,
    index: String,
    moderation: String,
    transparency: String,
}

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let mut hash = Sha256::new();
        hash.update(INDEX.as_bytes());
        hash.update(MODERATION.as_bytes());
        hash.update(TRANSPARENCY.as_bytes());
        for a in ASSETS {
            hash.update(a.path.as_bytes());
            hash.update((a.body.len() as u64).to_le_bytes());
            hash.update(a.body);
        }
        let version = hex::encode(&hash.finalize()[..8]);
        let index = INDEX.replace("{{ASSETS}}", &format!("/app/{version}"));
        let moderation = MODERATION.replace("{{ASSETS}}", &format!("/app/{version}"));
        let transparency = TRANSPARENCY.replace("{{ASSETS}}", &format!("/app/{version}"));
        Site { version, index, moderation, transparency }
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The web client's routes; merged into the app's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/+{invite}", get(index))
        .route("/moderation", get(moderation))
        .route("/transparency", get(|| async { page(site().transparency.clone()) }))
        .route("/app/{version}/{*path}", get(asset))
}

/// `GET /`: the single page of the client.
async fn index() -> Response {
    page(site().index.clone())
}

/// `GET /moderation`: the operators' page (account, #16); the server checks every call.
async fn moderation() -> Response {
    page(site().moderation.clone())
}

/// An HTML page with the security headers, never cached.
fn page(body: String) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    (headers, body).into_response()
}

/// `GET /app/{version}/{*path}`: one embedded file.
async fn asset(Path((version, path)): Path<(String, String)>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path.strip_prefix("app/") == Some(path.as_str())) else {
        return (StatusCode::NOT_FOUND, [(header::X_CONTENT_TYPE_OPTIONS, "nosniff")], "no such file\n").into_response();
    };
    let cache = if version == site().version { "public, max-age=31536000, immutable" } else { "no-cache" };
    let headers =
        [(header::CONTENT_TYPE, content_type(asset.path)), (header::CACHE_CONTROL, cache), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")];
    (headers, asset.body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in `web/app` and its folders is embedded, and nothing else is listed (the
    /// vendored libraries' README, licence texts and type declarations are for readers and
    /// the type checker, not served).
    #[test]
    fn asset_list_matches_the_folder() {
        fn walk(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).expect("web/app exists").filter_map(|e| e.ok()) {
                let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
                if e.path().is_dir() {
                    walk(&e.path(), &name, out);
                } else if !name.ends_with(".md") && !name.ends_with(".d.ts") && !name.contains("/LICENSE") {
                    out.push(name);
                }
            }
        }
        let mut on_disk = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/app"), "app", &mut on_disk);
        on_disk.sort();
        let listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        assert_eq!(listed, on_disk, "update ASSETS in crates/server/src/web.rs");
    }

    /// The page forbids inline scripts and sniffing, and is never cached.
    #[tokio::test]
    async fn index_carries_the_security_headers() {
        let r = index().await;
        let h = r.headers();
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(CONTENT_SECURITY_POLICY.contains("connect-src 'self';"));
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    }

    /// Assets have their type; the current version is cached for good, a stale one not at all.
    #[tokio::test]
    async fn assets_are_typed_and_cached_by_version() {
        let fetch = |version: &str, path: &str| asset(Path((version.to_string(), path.to_string())));
        let current = fetch(&site().version, "main.js").await;
        assert_eq!(current.status(), StatusCode::OK);
        assert_eq!(current.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(current.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(current.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let stale = fetch("0000", "style.css").await;
        assert_eq!(stale.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(stale.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(fetch(&site().version, "../Cargo.toml").await.status(), StatusCode::NOT_FOUND);
    }

    /// The index page points at the versioned asset folder.
    #[test]
    fn index_names_the_current_version() {
        let site = site();
        assert!(!site.index.contains("{{ASSETS}}"));
        assert!(site.index.contains(&format!("/app/{}/main.js", site.version)));
    }
}
