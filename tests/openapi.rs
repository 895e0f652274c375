//! The OpenAPI document: it lists exactly the registered routes, is served as OpenAPI 3.1,
//! names every error code, `/docs` shows every operation, and each limit it states is the
//! const the server checks.

use crate::common::TestApp;
use chatsdk::chat::{
    DEFAULT_CHANNEL_PAGE, DEFAULT_MEMBER_PAGE, DEFAULT_PAGE, MAX_CHANNEL_PAGE, MAX_MEMBER_PAGE,
    MAX_PAGE, MAX_UNREAD_COUNT,
};
use chatsdk::domain::{
    MAX_CUSTOM_BYTES, MAX_EMAIL_CHARS, MAX_EMOJI_CHARS, MAX_ID_CHARS, MAX_IMAGE_CHARS,
    MAX_MEMBERS_PER_REQUEST, MAX_NAME_CHARS, MAX_TEXT_CHARS, MAX_USER_ID_CHARS,
};
use chatsdk::error::ApiError;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

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

/// The JSON Schema keywords that state a numeric limit.
const LIMIT_KEYWORDS: [&str; 6] = [
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
];

/// Limits by (where, keyword), with every value seen there: a parameter that several
/// methods of one path share counts once per distinct value.
type Limits = BTreeMap<(String, &'static str), BTreeSet<i64>>;

/// Every numeric limit anywhere in the spec. Where: `Schema.property`, `path ?param`, or
/// the raw JSON path for any other place (which then fails the comparison, by design).
fn stated_limits(spec: &Value) -> Limits {
    fn walk(spec: &Value, v: &Value, at: &mut Vec<String>, out: &mut Limits) {
        match v {
            Value::Object(map) => {
                for keyword in LIMIT_KEYWORDS {
                    if let Some(n) = map.get(keyword) {
                        let label = label(spec, at);
                        let n = n
                            .as_i64()
                            .unwrap_or_else(|| panic!("{label} {keyword}: {n}"));
                        out.entry((label, keyword)).or_default().insert(n);
                    }
                }
                for (key, child) in map {
                    at.push(key.clone());
                    walk(spec, child, at, out);
                    at.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    at.push(i.to_string());
                    walk(spec, child, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    fn label(spec: &Value, at: &[String]) -> String {
        let at: Vec<&str> = at.iter().map(String::as_str).collect();
        match at.as_slice() {
            ["components", "schemas", name, "properties", property] => {
                format!("{name}.{property}")
            }
            ["paths", path, method, "parameters", i, "schema"] => {
                let i: usize = i.parse().unwrap();
                let name = spec["paths"][path][method]["parameters"][i]["name"]
                    .as_str()
                    .unwrap();
                format!("{path} ?{name}")
            }
            other => other.join("/"),
        }
    }
    let mut out = Limits::new();
    walk(spec, spec, &mut Vec::new(), &mut out);
    out
}

/// What each limit in the spec must be: the const the server's check uses.
fn expected_limits(spec: &Value) -> Limits {
    let mut want = Limits::new();
    let mut put = |at: &str, keyword: &'static str, n: usize| {
        let n = i64::try_from(n).unwrap();
        want.insert((at.to_string(), keyword), BTreeSet::from([n]));
    };
    for (at, max) in [
        ("TokenRequest.userId", MAX_USER_ID_CHARS),
        ("CreateBody.userId", MAX_USER_ID_CHARS),
        ("DirectBody.userId", MAX_USER_ID_CHARS),
        ("CreateBody.id", MAX_ID_CHARS),
        ("SendBody.clientMsgId", MAX_ID_CHARS),
        ("SendBody.parentId", MAX_ID_CHARS),
        ("SendBody.text", MAX_TEXT_CHARS),
        ("EditBody.text", MAX_TEXT_CHARS),
    ] {
        put(at, "minLength", 1);
        put(at, "maxLength", max);
    }
    // Names and profile fields may be empty.
    for (at, max) in [
        ("TokenRequest.name", MAX_NAME_CHARS),
        ("TokenRequest.image", MAX_IMAGE_CHARS),
        ("TokenRequest.email", MAX_EMAIL_CHARS),
        ("CreateBody.name", MAX_NAME_CHARS),
        ("UpdateBody.name", MAX_NAME_CHARS),
    ] {
        put(at, "maxLength", max);
    }
    put("AddBody.userIds", "minItems", 1);
    put("AddBody.userIds", "maxItems", MAX_MEMBERS_PER_REQUEST);
    put("CreateBody.members", "maxItems", MAX_MEMBERS_PER_REQUEST);
    let emoji = "/api/channels/{id}/messages/{msgId}/reactions/{emoji} ?emoji";
    put(emoji, "minLength", 1);
    put(emoji, "maxLength", MAX_EMOJI_CHARS);
    put(
        "ChannelView.unreadCount",
        "maximum",
        usize::try_from(MAX_UNREAD_COUNT).unwrap(),
    );
    for (at, max) in [
        ("/api/channels ?limit", MAX_CHANNEL_PAGE),
        ("/api/channels/{id}/members ?limit", MAX_MEMBER_PAGE),
        ("/api/channels/{id}/messages ?limit", MAX_PAGE),
    ] {
        put(at, "minimum", 1);
        put(at, "maximum", max);
    }
    // No const behind these: sequence numbers and lifetimes are never negative.
    for at in [
        "ReadBody.seq",
        "SubscriptionToken.expiresIn",
        "TokenResponse.expiresIn",
        "TokenResponse.wsExpiresIn",
        "/api/channels/{id}/messages ?before",
        "/api/channels/{id}/messages ?after",
    ] {
        put(at, "minimum", 0);
    }
    for (_, path) in operations(spec) {
        let acts_as = METHODS.iter().any(|m| {
            spec["paths"][&path][m]["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "userId" && p["in"] == "query")
        });
        if acts_as {
            put(&format!("{path} ?userId"), "minLength", 1);
            put(&format!("{path} ?userId"), "maxLength", MAX_USER_ID_CHARS);
        }
    }
    want
}

/// The attributes cannot name a const, so a limit changed in one place only shows here.
#[test]
fn every_limit_the_spec_states_is_the_const_the_server_checks() {
    let spec = spec();

    let stated = stated_limits(&spec);
    let expected = expected_limits(&spec);

    let wrong: Vec<String> = stated
        .keys()
        .chain(expected.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|key| stated.get(key) != expected.get(key))
        .map(|key @ (at, keyword)| {
            format!(
                "{at} {keyword}: the spec says {:?}, the const {:?}",
                stated.get(key),
                expected.get(key)
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "limits that differ from their const:\n{}",
        wrong.join("\n")
    );
    assert!(stated.len() >= 40, "{stated:?}");
}

/// Limits spelled out in prose, where no schema keyword carries them.
#[test]
fn every_limit_a_description_states_is_the_const_the_server_checks() {
    let spec = spec();
    let property = |schema: &str, property: &str| {
        let at = &spec["components"]["schemas"][schema]["properties"][property];
        vec![at["description"].as_str().unwrap_or_default().to_string()]
    };
    let param = |path: &str, name: &str| {
        let found: Vec<String> = METHODS
            .iter()
            .flat_map(|m| spec["paths"][path][m]["parameters"].as_array())
            .flatten()
            .filter(|p| p["name"] == name)
            .map(|p| p["description"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(!found.is_empty(), "{path} ?{name}: no such parameter");
        found
    };
    let page = |max: usize, default: usize| format!("1–{max} (default {default})");
    // `{}` of an f64 drops a zero fraction: 8192 bytes reads "8 KiB", 8000 would not.
    let custom_kib = MAX_CUSTOM_BYTES as f64 / 1024.0;

    let cases = [
        (
            property("SendBody", "text"),
            format!("1–{MAX_TEXT_CHARS} characters"),
        ),
        (
            property("SendBody", "clientMsgId"),
            format!("(1–{MAX_ID_CHARS} characters)"),
        ),
        (
            property("CreateBody", "id"),
            format!("(1–{MAX_ID_CHARS} characters)"),
        ),
        (
            property("CreateBody", "members"),
            format!("(at most {MAX_MEMBERS_PER_REQUEST})"),
        ),
        (
            property("AddBody", "userIds"),
            format!("1 to {MAX_MEMBERS_PER_REQUEST} user ids"),
        ),
        (
            property("TokenRequest", "userId"),
            format!("1–{MAX_USER_ID_CHARS} characters"),
        ),
        (
            property("TokenRequest", "custom"),
            format!("at most {custom_kib} KiB serialized"),
        ),
        (
            property("ChannelView", "unreadCount"),
            format!("counted up to {MAX_UNREAD_COUNT} ({MAX_UNREAD_COUNT} means"),
        ),
        (
            param("/api/channels", "limit"),
            page(MAX_CHANNEL_PAGE, DEFAULT_CHANNEL_PAGE),
        ),
        (
            param("/api/channels/{id}/members", "limit"),
            page(MAX_MEMBER_PAGE, DEFAULT_MEMBER_PAGE),
        ),
        (
            param("/api/channels/{id}/messages", "limit"),
            page(MAX_PAGE, DEFAULT_PAGE),
        ),
        (
            param(
                "/api/channels/{id}/messages/{msgId}/reactions/{emoji}",
                "emoji",
            ),
            format!("1–{MAX_EMOJI_CHARS} characters"),
        ),
    ];

    for (descriptions, says) in cases {
        for description in descriptions {
            assert!(
                description.contains(&says),
                "{description:?} should say {says:?}"
            );
        }
    }
}
