//! The CPU work of one `/tokens` call, piece by piece, through the crate's public API:
//! signing both tokens, verifying a REST token, hashing and checking an API key, and
//! parsing a `/tokens` body the way the route does (`routes::json::parse`, then
//! `TokenRequest::parse`).
//!
//! Run: `cargo bench --bench micro` (criterion; add a filter such as `-- sign` to run some).

use chatsdk::auth::api_key::{self, ApiKeyHash};
use chatsdk::auth::tokens::{
    CLOCK_LEEWAY_SECS, REST_AUDIENCE, REST_ISSUER, RestClaims, TokenIssuer, TokenSettings, WsInfo,
    key_id, now_secs,
};
use chatsdk::realtime::{RealtimeKey, RealtimeName};
use chatsdk::routes::json;
use chatsdk::routes::tokens::TokenRequest;
use chatsdk::secret::Secret;
use criterion::{Criterion, criterion_group};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::hint::black_box;

const REST_SECRET: &str = "3f1c9a7e5b2d4f608e1a3c5b7d9f0e2a4c6b8d0f1e3a5c7b";
/// A key id as `/tokens` puts it in the REST token (`akid`).
const BENCH_KEY_ID: &str = "key_k3v7q2m7x4d6p5s5";

const BODY: &[u8] = br#"{"userId":"user-4711","name":"Ada Lovelace","image":"https://example.com/a/4711.png","email":"ada@example.com","custom":{"plan":"pro","team":"analytics","seats":12}}"#;

fn issuer() -> TokenIssuer {
    TokenIssuer::new(&TokenSettings {
        rest_secret: &Secret::new(REST_SECRET),
        previous_rest_secret: None,
        centrifugo_secret: &Secret::new("9b8a7c6d5e4f30211f2e3d4c5b6a79880a1b2c3d4e5f6071"),
        ttl: 86_400,
        ws_ttl: 86_400,
        sub_ttl: 300,
        leeway: CLOCK_LEEWAY_SECS,
    })
}

fn info() -> WsInfo<'static> {
    WsInfo {
        id: "user-4711",
        name: Some("Ada Lovelace"),
        image: Some("https://example.com/a/4711.png"),
    }
}

fn tokens(c: &mut Criterion) {
    let issuer = issuer();
    // A user made since schema 9: its personal channel carries a key.
    let user = RealtimeName {
        pk: 42,
        key: Some(RealtimeKey::generate()),
    };
    // `issue` signs both tokens; the wsToken alone is about `issue` minus the REST token
    // (a subscription token is signed with the same header and key as the wsToken).
    c.bench_function("sign REST token + wsToken (TokenIssuer::issue)", |b| {
        b.iter(|| {
            issuer
                .issue(black_box("app_bench"), info(), user, 0, Some(BENCH_KEY_ID))
                .map(|t| t.token.len())
        })
    });
    // The REST token alone: the same claims, header shape and key as `issue` uses.
    let rest_key = EncodingKey::from_secret(REST_SECRET.as_bytes());
    let mut rest_header = Header::new(Algorithm::HS256);
    rest_header.kid = Some(key_id(&Secret::new(REST_SECRET)));
    c.bench_function("sign REST token alone (RestClaims, jsonwebtoken)", |b| {
        b.iter(|| {
            let now = now_secs();
            let claims = RestClaims {
                sub: "user-4711".into(),
                app: "app_bench".into(),
                iss: REST_ISSUER.into(),
                aud: REST_AUDIENCE.into(),
                iat: now,
                exp: now + 86_400,
                jti: chatsdk::ids::new_token_id(),
                generation: 0,
                user_pk: Some(42),
                api_key_id: Some(BENCH_KEY_ID.into()),
            };
            jsonwebtoken::encode(&rest_header, black_box(&claims), &rest_key).map(|t| t.len())
        })
    });
    c.bench_function("sign one Centrifugo token (issue_subscription)", |b| {
        b.iter(|| issuer.issue_subscription(black_box("app_bench"), "user-4711", "chat:team"))
    });
    let issued = issuer
        .issue("app_bench", info(), user, 0, Some(BENCH_KEY_ID))
        .unwrap_or_else(|e| panic!("issuing a token: {e}"));
    c.bench_function("verify REST token (verify_rest)", |b| {
        b.iter(|| issuer.verify_rest(black_box(&issued.token)).map(|c| c.exp))
    });
}

fn api_keys(c: &mut Criterion) {
    let key = api_key::generate();
    c.bench_function("API key: parse id + checksum, SHA-256, compare", |b| {
        b.iter(|| {
            let presented = black_box(&key.key);
            api_key::parse_key_id(presented).is_some()
                && ApiKeyHash::of(presented).matches(&key.hash)
        })
    });
    c.bench_function("API key: SHA-256 only (ApiKeyHash::of)", |b| {
        b.iter(|| ApiKeyHash::of(black_box(&key.key)))
    });
}

fn body(c: &mut Criterion) {
    c.bench_function(
        "parse /tokens body (json::parse + TokenRequest::parse)",
        |b| {
            b.iter(|| {
                json::parse::<TokenRequest>(black_box(BODY))
                    .and_then(TokenRequest::parse)
                    .map(|(id, _)| id.as_str().len())
            })
        },
    );
}

criterion_group!(benches, tokens, api_keys, body);

fn main() {
    // criterion_main!, plus the command and machine notes a reader needs to compare.
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("command: cargo bench --bench micro");
    println!(
        "machine: {cores} cores, load average {} at start",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    benches();
    Criterion::default().configure_from_args().final_summary();
}
