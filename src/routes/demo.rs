//! The browser chat demo (`CHATSDK_DEMO=1`): the page at `/demo` and its open token route.
//!
//! `POST /demo/token` takes no API key, so it only ever issues tokens of the dedicated
//! `demo` app: a demo visitor can never reach another app's users or channels. The page
//! (examples/web) is embedded in the binary, so the release binary and the image carry it.

use crate::auth::issue;
use crate::config::Config;
use crate::db::{DbError, apps};
use crate::error::ApiError;
use crate::ratelimit::{self, RateLimits};
use crate::routes::AppState;
use crate::routes::json::ApiJson;
use crate::routes::table::RouteTable;
use crate::routes::tokens::{TokenRequest, TokenResponse};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpResponse, web};
use serde::Serialize;

/// Id (and name) of the app every demo user belongs to; real app ids are `app_…`.
pub const DEMO_APP_ID: &str = "demo";

const INDEX_HTML: &str = include_str!("../../examples/web/index.html");
const APP_JS: &str = include_str!("../../examples/web/app.js");
const STYLE_CSS: &str = include_str!("../../examples/web/style.css");
/// The official centrifuge-js browser bundle, byte for byte (`.ci/demo-deps` checks it).
const CENTRIFUGE_JS: &[u8] = include_bytes!("../../examples/web/vendor/centrifuge.js");

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// What the demo routes need, built once at start when the demo is on.
#[derive(Clone)]
pub struct Demo {
    centrifugo_ws_url: String,
    content_security_policy: String,
}

impl Demo {
    /// Warns that the demo is on and creates the `demo` app unless it exists.
    pub fn start(config: &Config) -> Result<Demo, DbError> {
        log::warn!(
            "demo mode is on (CHATSDK_DEMO): /demo/token gives anyone tokens of the `{DEMO_APP_ID}` app; turn it off in production"
        );
        if apps::ensure_at(&config.database, DEMO_APP_ID, DEMO_APP_ID)? {
            log::info!("created the `{DEMO_APP_ID}` app for the browser demo");
        }
        Ok(Demo {
            // The URL browsers connect to, without any user and password: the page and
            // its token route are open to anyone.
            centrifugo_ws_url: config.centrifugo_ws_url.public(),
            content_security_policy: content_security_policy(&config.centrifugo_ws_url.public()),
        })
    }
}

/// The page may load only its own files and talk only to this server and Centrifugo.
fn content_security_policy(ws_url: &str) -> String {
    // A URL that would break out of the directive falls back to any WebSocket.
    let plain = !ws_url.is_empty()
        && ws_url
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'\'' | b'"'));
    let ws = if plain { ws_url } else { "ws: wss:" };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self' {ws}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// Registers the page, its assets and the token route: outside the API's route table
/// (a table of their own, thrown away), with the same 405s and HEADs as the API.
pub fn configure(cfg: &mut web::ServiceConfig, demo: &Demo) {
    let routes = RouteTable::default();
    cfg.app_data(web::Data::new(demo.clone()))
        .service(routes.at("/demo").get(index))
        .service(routes.at("/demo/").get(index))
        .service(
            routes
                .at("/demo/app.js")
                .get(|| asset(JS, APP_JS.as_bytes())),
        )
        .service(
            routes
                .at("/demo/style.css")
                .get(|| asset(CSS, STYLE_CSS.as_bytes())),
        )
        .service(
            routes
                .at("/demo/vendor/centrifuge.js")
                .get(|| asset(JS, CENTRIFUGE_JS)),
        )
        .service(
            routes
                .at("/demo/token")
                .post(issue_demo_tokens)
                .resource()
                .wrap(from_fn(limit_demo_tokens)),
        );
}

async fn index(demo: web::Data<Demo>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(HTML)
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            demo.content_security_policy.as_str(),
        ))
        .body(INDEX_HTML)
}

async fn asset(content_type: &'static str, body: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).body(body)
}

/// What `/tokens` answers, plus where the page opens its WebSocket.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DemoTokens {
    #[serde(flatten)]
    tokens: TokenResponse,
    centrifugo_url: String,
}

/// `POST /demo/token {"userId","name"}`: tokens of a user of the `demo` app, no API key.
async fn issue_demo_tokens(
    state: web::Data<AppState>,
    demo: web::Data<Demo>,
    body: ApiJson<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, patch) = body.0.parse()?;
    let (issued, user) = issue::issue(&state, DEMO_APP_ID, user_id, patch).await?;
    Ok(HttpResponse::Ok().json(DemoTokens {
        tokens: TokenResponse::new(issued, user),
        centrifugo_url: demo.centrifugo_ws_url.clone(),
    }))
}

/// The demo app counts as one API key against `CHATSDK_RATE_LIMIT_KEY`, before the body
/// is read, as `/tokens` does.
async fn limit_demo_tokens(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let limits: web::Data<RateLimits> = ratelimit::of(&req)?;
    let quota = limits.hit_key(DEMO_APP_ID)?;
    let mut res = next.call(req).await?;
    if let Some(quota) = quota {
        ratelimit::set_headers(res.headers_mut(), &quota);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::content_security_policy;

    #[test]
    fn the_policy_names_the_websocket_url_or_falls_back_to_any_websocket() {
        let csp = content_security_policy("ws://localhost:8000/connection/websocket");
        assert!(csp.contains("connect-src 'self' ws://localhost:8000/connection/websocket;"));
        let csp = content_security_policy("ws://x; script-src *");
        assert!(csp.contains("connect-src 'self' ws: wss:;"), "{csp}");
        assert!(!csp.contains("script-src *"), "{csp}");
    }
}
