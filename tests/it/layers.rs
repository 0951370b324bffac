//! The layer check: below the HTTP layer, no file may import `crate::app` (the `AppState`) or
//! `crate::api` (its handlers and `ApiError` use cases). See "The layers" in README.md.
//!
//! A second check: the dashboard and the CLI are adapters over the domain use cases, so they
//! never import `crate::api` (only `cli/serve.rs`, which starts the server, may).
//!
//! `KNOWN_OFFENDERS` and `KNOWN_API_IMPORTERS` held what the redesign ([3/10]) had not cleared;
//! both are empty now and must stay so. A file that imports the layer fails the test, and so
//! would a listed file that no longer does.
use std::path::{Path, PathBuf};

/// The HTTP layer and what starts the server: these may use `AppState` and `api`.
const HTTP_LAYER: &[&str] = &[
    "src/app.rs",
    "src/api/",
    "src/dashboard/",
    "src/ingress/meta.rs",
    "src/ingress/twilio.rs",
    "src/ingress/fonnte.rs",
    "src/ingress/mod.rs",
    "src/server.rs",
    "src/cli/serve.rs",
    "src/demo/",
];

/// Lower-layer files that still import `crate::app` or `crate::api`; only ever remove entries.
const KNOWN_OFFENDERS: &[&str] = &[];

/// Adapters that must not import `crate::api`, and the one that may (it starts the server).
const API_FREE: &[&str] = &["src/dashboard/", "src/cli/"];
const API_ALLOWED: &[&str] = &["src/cli/serve.rs"];

/// Dashboard and CLI files that still import `crate::api`; only ever remove entries.
const KNOWN_API_IMPORTERS: &[&str] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `source` names `crate::app` or `crate::api`, directly (`crate::app::X`) or in a
/// grouped import (`use crate::{app::X, …}`); comment lines do not count.
fn imports_http_layer(source: &str) -> bool {
    imports_any(source, &["app", "api"])
}

/// Whether `source` names `crate::<m>` for one of `modules`, directly or in a grouped import.
fn imports_any(source: &str, modules: &[&str]) -> bool {
    let code: Vec<&str> = source.lines().filter(|line| !line.trim_start().starts_with("//")).collect();
    let code = code.join("\n");
    let is_layer = |name: &str| modules.contains(&name);
    // The identifier right after `crate::` (empty for a grouped import).
    let direct = code.match_indices("crate::").any(|(at, _)| {
        let rest = &code[at + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        is_layer(&name)
    });
    // Grouped imports: the top-level names inside `crate::{ … }`.
    let grouped = code.match_indices("crate::{").any(|(at, _)| {
        let mut depth = 0;
        let mut top = String::new();
        for c in code[at + "crate::{".len()..].chars() {
            match c {
                '}' if depth == 0 => break,
                '{' => depth += 1,
                '}' => depth -= 1,
                _ if depth == 0 => top.push(c),
                _ => {}
            }
        }
        top.split(',').any(|item| is_layer(item.split("::").next().unwrap_or("").trim()))
    });
    direct || grouped
}

/// Files under `src/` (relative, `/`-separated) for which `offends` holds, sorted.
fn offenders(offends: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut found: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(root).expect("under the crate").to_string_lossy().replace('\\', "/");
            let source = std::fs::read_to_string(path).expect("a readable source file");
            offends(&relative, &source).then_some(relative)
        })
        .collect();
    found.sort();
    found
}

fn within(relative: &str, places: &[&str]) -> bool {
    places.iter().any(|p| relative == *p || p.ends_with('/') && relative.starts_with(p))
}

/// Fails naming new offenders and listed files that no longer offend.
fn ratchet(what: &str, offenders: &[String], known: &[&str]) {
    let new: Vec<&String> = offenders.iter().filter(|f| !known.contains(&f.as_str())).collect();
    let cleared: Vec<&&str> = known.iter().filter(|f| !offenders.iter().any(|o| o == **f)).collect();
    assert!(
        new.is_empty() && cleared.is_empty(),
        "{} files {what} (known: {}).\n\
         New offenders (import from a lower layer instead): {new:?}\n\
         No longer offending (remove them from the known list): {cleared:?}",
        offenders.len(),
        known.len(),
    );
}

#[test]
fn lower_layers_do_not_import_the_http_layer() {
    let found = offenders(|file, source| !within(file, HTTP_LAYER) && imports_http_layer(source));
    ratchet("below the HTTP layer import crate::app or crate::api", &found, KNOWN_OFFENDERS);
}

#[test]
fn the_dashboard_and_the_cli_do_not_import_the_api() {
    let found =
        offenders(|file, source| within(file, API_FREE) && !within(file, API_ALLOWED) && imports_any(source, &["api"]));
    ratchet("in dashboard/ or cli/ import crate::api", &found, KNOWN_API_IMPORTERS);
}

#[test]
fn the_import_scan_sees_each_form() {
    assert!(imports_http_layer("use crate::app::AppState;\n"));
    assert!(imports_http_layer("    crate::app::install_crypto_provider();\n"));
    assert!(imports_http_layer("use crate::api::auth::Role;\n"));
    assert!(imports_http_layer("use crate::{api, store};\n"));
    assert!(imports_http_layer("use crate::{\n    app::AppState,\n    store::Store,\n};\n"));
    assert!(!imports_http_layer("use crate::apis::X;\nuse crate::application::Y;\n"));
    assert!(!imports_http_layer("use crate::{store::{app, api}, tenants};\n"));
    assert!(!imports_http_layer("// see crate::app::AppState\n"));
    assert!(imports_any("use crate::api::kb::create_entry;\n", &["api"]));
    assert!(!imports_any("use crate::app::AppState;\n", &["api"]));
}
