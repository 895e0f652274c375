//! The OpenAPI document: it lists exactly the registered routes, is served as OpenAPI 3.1,
//! names every error code, and `/docs` shows every operation.

use crate::common::TestApp;
use chatsdk::error::ApiError;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// (METHOD, path) of every operation in a document.
fn operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn spec() -> Value {
    serde_json::to_value(chatsdk::openapi::spec()).unwrap()
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap()
}

#[test]
fn the_spec_documents_exactly_the_registered_routes() {
    let registered: BTreeSet<(String, String)> = chatsdk::routes::registered_routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    let documented = operations(&spec());

    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "registered but not in the spec: {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "in the spec but not registered: {stale:?}"
    );
    assert!(registered.contains(&("GET".into(), "/metrics".into())));
    assert!(registered.len() >= 28, "{registered:?}");
}

#[test]
fn every_operation_has_a_summary_a_tag_auth_and_error_answers() {
    let spec = spec();
    for (method, path) in operations(&spec) {
        let op = &spec["paths"][&path][method.to_lowercase()];
        let name = format!("{method} {path}");
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: summary"
        );
        assert!(op["tags"][0].is_string(), "{name}: tag");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{name}: a 2xx"
        );
        assert!(responses.contains_key("500"), "{name}: 500");
        let schemes: BTreeSet<&str> = op["security"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s.as_object().unwrap().keys().map(String::as_str))
            .collect();
        let expected: BTreeSet<&str> = if path.starts_with("/api/") {
            ["bearer", "api_key"].into()
        } else if path == "/tokens" {
            ["api_key"].into()
        } else {
            BTreeSet::new()
        };
        assert_eq!(schemes, expected, "{name}: security");
        if !expected.is_empty() {
            assert!(responses.contains_key("401"), "{name}: 401");
            assert!(responses.contains_key("429"), "{name}: 429");
        }
        if op["requestBody"].is_object() {
            for status in ["400", "413", "415"] {
                assert!(responses.contains_key(status), "{name}: {status}");
            }
        }
    }
}

/// Exactly the routes that read a body only for the backend's `userId` document it as
/// optional; every other body is required.
#[test]
fn only_the_acting_user_bodies_are_optional() {
    let spec = spec();
    let optional: BTreeSet<(String, String)> = operations(&spec)
        .into_iter()
        .filter(|(m, p)| {
            let body = &spec["paths"][p][m.to_lowercase()]["requestBody"];
            body.is_object() && body["required"] != true
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        "/api/channels/{id}/typing",
        "/api/channels/{id}/subscription-token",
    ]
    .into_iter()
    .map(|p| ("POST".to_string(), p.to_string()))
    .collect();
    assert_eq!(optional, expected);
}

#[actix_web::test]
async fn openapi_json_is_served_as_openapi_3_1_and_is_the_generated_document() {
    let app = TestApp::start().await;

    let res = get(&app, "/openapi.json").await;

    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let served: Value = res.json().await.expect("valid JSON");
    let version = served["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "{version}");
    assert_eq!(served, spec());
    for scheme in ["api_key", "bearer"] {
        assert!(served["components"]["securitySchemes"][scheme].is_object());
    }
    assert_eq!(
        served["components"]["securitySchemes"]["api_key"],
        json!({"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": served["components"]["securitySchemes"]["api_key"]["description"]})
    );
}

#[actix_web::test]
async fn the_error_code_enum_is_every_code_api_error_produces() {
    let app = TestApp::start().await;
    let served: Value = get(&app, "/openapi.json").await.json().await.unwrap();

    let error = &served["components"]["schemas"]["Error"];
    let listed: BTreeSet<&str> = error["properties"]["error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();

    let produced: BTreeSet<&str> = ApiError::ALL_CODES.iter().map(|(c, _)| *c).collect();
    assert_eq!(listed, produced);
    assert_eq!(error["required"], json!(["error"]));
    // Every error response of every operation uses that schema, and names only codes
    // of its own status.
    for (path, item) in served["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, r) in op["responses"].as_object().unwrap() {
                if status.starts_with('2') {
                    continue;
                }
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{method} {path} {status}"
                );
                let description = r["description"].as_str().unwrap();
                for code in description.split('`').skip(1).step_by(2) {
                    let known = ApiError::ALL_CODES
                        .iter()
                        .any(|(c, s)| *c == code && s.as_str() == status);
                    assert!(known, "{method} {path} {status}: `{code}`");
                }
            }
        }
    }
}

#[actix_web::test]
async fn docs_is_a_self_contained_html_page_listing_every_operation() {
    let app = TestApp::start().await;

    let res = get(&app, "/docs").await;

    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
    let html = res.text().await.unwrap();
    for (method, path) in operations(&spec()) {
        let shown = format!("{method}</span> <span class=\"p\">{path}</span>");
        assert!(html.contains(&shown), "{method} {path} is not on the page");
    }
    for code in ApiError::ALL_CODES.iter().map(|(c, _)| c) {
        assert!(html.contains(&format!("<code>{code}</code>")), "{code}");
    }
    assert!(!html.contains("<script"), "no scripts");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(!html.contains("<link"), "no external stylesheets");
}

/// Probes each documented operation on the live server with a real token: none may be
/// the router's "no such route" 404 or a 405, whatever the spec claims.
#[actix_web::test]
async fn every_documented_operation_is_answered_by_a_route() {
    let app = TestApp::start().await;
    let token = app.tokens_for("prober").await["token"]
        .as_str()
        .unwrap()
        .to_string();

    for (method, path) in operations(&spec()) {
        let url = format!("{}{}", app.base, path.replace(['{', '}'], "_"));
        let mut req = app
            .http
            .request(method.parse().unwrap(), &url)
            .json(&json!({}));
        req = if path == "/tokens" {
            req.header("X-API-Key", &app.api_key)
        } else {
            req.bearer_auth(&token)
        };
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let no_route = status == 404 && body["error"]["message"] == "route not found";
        assert!(
            !no_route && status != 405,
            "{method} {path}: {status} {body}"
        );
    }
}
