//! The server crate's modules form layers and import nothing above their own: shared values,
//! state and errors at the bottom, the areas that handle requests over them, the transports
//! and the app on top. So no module cycle can form, and an area (the Bot API) could become a
//! crate of its own. This reads the `crate::` paths of every file under `src/` (comments
//! aside) and checks them against the table below; a new module must be given a layer here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bottom first. A module may import modules of the layers below its own.
const LAYERS: &[(&str, &[&str])] = &[
    // Values and services that hold no request state: limits, configuration, login codes,
    // the wire error mapping and `Failure`, metrics, rendering, callback answers, the web page,
    // the egress guard, phone lookups, the TLS certificate loader.
    (
        "values",
        &[
            "limits",
            "config",
            "codes",
            "errors",
            "metrics",
            "convert",
            "callbacks",
            "web",
            "egress",
            "discovery",
            "tls",
            "identity",
            // secret chats (#15): the MLS checks of the Delivery Service.
            "mls",
        ],
    ),
    // What every request shares: store, bus, configuration, limiters, token cache, shutdown.
    ("shared state", &["state"]),
    // The areas: `/files`, the protocol's methods, the Bot API, the transparency log.
    // accountability (#16): `/transparency`, the public log.
    ("areas", &["files", "methods", "botapi", "transparency"]),
    // Transports and background work over the areas: `/ws`, the commit fan-out, the
    // listening sockets (caps at accept, deadlines, TLS) the router is served on.
    ("transports", &["gateway", "fanout", "listener"]),
    // The router, start and shutdown.
    ("app", &["app"]),
];

/// Imports between modules of one layer: every one allowed, the rest must point down.
const WITHIN: &[(&str, &str)] = &[
    ("config", "limits"),
    ("codes", "config"),
    // `[egress]` is read into the guard's own configuration type.
    ("config", "egress"),
    // `[tls]` names the certificate files the loader reads.
    ("tls", "config"),
    // Phone lookups are limited and refused as every other request is.
    ("discovery", "limits"),
    ("discovery", "errors"),
    // account (#16): lookups hash the number with the phone key; `[accountability]` names the keys.
    ("discovery", "identity"),
    ("identity", "config"),
    // Bot uploads and downloads go through the file service.
    ("botapi", "files"),
];

/// The crate's root (module list, re-exports) and its binary are not modules of the graph.
const ROOTS: &[&str] = &["lib", "main"];

#[test]
fn modules_import_only_layers_below_and_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = imports(&src);
    let layer_of: BTreeMap<&str, usize> =
        LAYERS.iter().enumerate().flat_map(|(i, (_, modules))| modules.iter().map(move |m| (*m, i))).collect();

    let mut problems = Vec::new();
    for module in graph.keys() {
        if !layer_of.contains_key(module.as_str()) {
            problems.push(format!("module `{module}` has no layer in tests/layers.rs"));
        }
    }
    for (module, uses) in &graph {
        let Some(&from) = layer_of.get(module.as_str()) else { continue };
        for used in uses {
            let Some(&to) = layer_of.get(used.as_str()) else {
                problems.push(format!(
                    "`{module}` uses `crate::{used}`, which is not a module with a layer (name the module, not a re-export)"
                ));
                continue;
            };
            let allowed = to < from || WITHIN.contains(&(module.as_str(), used.as_str()));
            if !allowed {
                problems.push(format!(
                    "`{module}` ({}) imports `{used}` ({}): imports point down, or are listed in WITHIN",
                    LAYERS[from].0, LAYERS[to].0
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(&graph) {
        problems.push(format!("module cycle: {}", cycle.join(" -> ")));
    }
    assert!(problems.is_empty(), "the server crate's module layers are broken:\n{}", problems.join("\n"));
}

#[test]
fn the_bot_api_stands_on_the_shared_layers_only() {
    let graph = imports(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let botapi = graph.get("botapi").expect("src/botapi exists");
    for forbidden in ["gateway", "methods", "app", "fanout"] {
        assert!(!botapi.contains(forbidden), "botapi imports `{forbidden}`; it may use only the shared layers and `files`");
    }
}

#[test]
fn the_reader_sees_grouped_and_nested_paths() {
    let text = "use crate::a::B;\nuse crate::{b, c::{D, E}};\n// use crate::commented;\nlet x = crate::d::f();\n";
    assert_eq!(crate_paths(text), BTreeSet::from(["a", "b", "c", "d"].map(String::from)));
    let mut graph = BTreeMap::new();
    graph.insert("x".to_string(), BTreeSet::from(["y".to_string()]));
    graph.insert("y".to_string(), BTreeSet::from(["x".to_string()]));
    assert_eq!(find_cycle(&graph), Some(vec!["x".to_string(), "y".to_string(), "x".to_string()]));
}

/// Module → the other modules its files name through `crate::`. A folder (`botapi/`) is one
/// module; `super::` inside it stays inside it.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = Vec::new();
    collect(src, &mut files);
    assert!(!files.is_empty(), "no source files under {}", src.display());
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a path").as_os_str().to_string_lossy().to_string();
        let module = first.strip_suffix(".rs").unwrap_or(&first).to_string();
        if ROOTS.contains(&module.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        let uses = graph.entry(module.clone()).or_default();
        uses.extend(crate_paths(&text).into_iter().filter(|m| *m != module));
    }
    graph
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first segment of every `crate::` path outside comments, `crate::{a, b::C}` included.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            // Not the tail of another path (`heliograph_crate::`).
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 0;
                let mut item = String::new();
                let mut items = Vec::new();
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                        _ if depth == 0 => item.push(c),
                        _ => {}
                    }
                }
                items.push(item);
                found.extend(items.iter().map(|i| ident(i.trim())).filter(|i| !i.is_empty()));
            } else {
                let name = ident(rest);
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

fn ident(s: &str) -> String {
    s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// A cycle in `graph`, as the modules along it (the first repeated at the end), if any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path[at..].iter().map(|n| n.to_string()).collect();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}
