//! The OpenAPI document (SPEC 13): the committed `docs/openapi.json` is what the code generates, it is
//! served at `/api/openapi.json` without a token, and the router and the document list the same routes.
//!
//! After changing the API, regenerate the committed file with:
//! `UPDATE_OPENAPI=1 cargo test -p windowdesk-server --test api_openapi`

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;
use windowdesk_server::api::{document, openapi::render};
use windowdesk_store::testing::Backend;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_committed_openapi_document_is_what_the_code_generates() {
    let generated = render(&document());
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date with the code. Regenerate it with:\n\n    \
         UPDATE_OPENAPI=1 cargo test -p windowdesk-server --test api_openapi\n\nand commit the result."
    );
}

/// Every `.route("…")` path literal in the server's sources.
fn route_literals(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            route_literals(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split(".route(\"").skip(1) {
                out.insert(part.split('"').next().unwrap().to_owned());
            }
        }
    }
}

fn documented() -> Vec<(String, String)> {
    let doc = serde_json::to_value(document()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys().filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str())) {
            ops.push((method.clone(), path.clone()));
        }
    }
    ops
}

#[test]
fn routes_outside_the_documented_router_are_not_api_routes() {
    // API routes are registered only through `utoipa_axum::routes!`, which documents them; a plain
    // `.route("/api…")` anywhere would serve an undocumented endpoint.
    let mut literals = BTreeSet::new();
    route_literals(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"), &mut literals);
    let documented: BTreeSet<String> = documented().into_iter().map(|(_, p)| p).collect();
    for literal in literals.iter().filter(|l| l.starts_with("/api")) {
        assert!(documented.contains(literal), "{literal} is routed but not in the OpenAPI document");
    }
    assert!(documented.iter().all(|p| p.starts_with("/api/")), "{documented:?}");
}

on_both_backends!(every_documented_route_is_served_and_the_document_is_public);

async fn every_documented_route_is_served_and_the_document_is_public(backend: Backend) {
    let app = TestApp::start(backend).await;
    let served: Value = app.client.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(served, serde_json::to_value(document()).unwrap(), "the served document is the generated one");
    let ops = documented();
    assert!(ops.len() >= 10, "{ops:?}");
    for (method, path) in ops {
        let url = app.url(&path.replace("{id}", "1"));
        let req = app.client.request(method.to_uppercase().parse().unwrap(), url).header("content-type", "application/json").body("{}");
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        // Unrouted paths answer 404 with an empty body and unrouted methods 405; routed API paths
        // without a token answer 401 with a JSON error (the document itself answers 200).
        assert_ne!(status, 405, "{method} {path} is documented but the method is not routed");
        let body = resp.text().await.unwrap();
        assert!(!body.is_empty(), "{method} {path} is documented but not routed ({status})");
        if path != "/api/openapi.json" {
            assert_eq!(status, 401, "{method} {path} must require a token");
        }
    }
    let unknown = app.client.get(app.url("/api/v1/nothing-here")).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    app.stop().await;
}
