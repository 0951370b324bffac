//! The OpenAPI document covers every `/api/v1` route the code registers.
use serde_json::Value;

use crate::on_both_databases;

const SOURCES: &[&str] = &[
    include_str!("../../src/api/session.rs"),
    include_str!("../../src/api/escalations.rs"),
    include_str!("../../src/api/conversations.rs"),
    include_str!("../../src/api/kb.rs"),
    include_str!("../../src/api/settings.rs"),
    include_str!("../../src/api/users.rs"),
    include_str!("../../src/api/contacts.rs"),
    include_str!("../../src/api/requests.rs"),
    include_str!("../../src/api/subprocessors.rs"),
];

/// (method, path) of every `.route("/api/v1/…", get(…).post(…))` in the API modules.
fn registered_routes() -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for source in SOURCES {
        for chunk in source.split(".route(\"").skip(1) {
            let (path, rest) = chunk.split_once('"').unwrap();
            let call = &rest[..rest.find("))").unwrap_or(rest.len())];
            for method in ["get", "post", "put", "patch", "delete"] {
                if call.contains(&format!("{method}(")) {
                    routes.push((method.to_string(), path.to_string()));
                }
            }
        }
    }
    routes
}

on_both_databases! {
    async fn every_api_route_is_in_the_openapi_document(app) {
        let doc: Value = app.http.get(format!("{}/api/v1/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let routes = registered_routes();
        assert!(routes.len() >= 20, "{routes:?}");
        for (method, path) in routes {
            assert!(doc["paths"][&path][&method].is_object(), "{method} {path} is not documented");
        }
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }
}
