//! Rate limits: per API key, per user on chat writes, per client IP on failed authentication.
//!
//! In memory and per process: behind a load balancer each instance counts on its own.

mod client_ip;
mod window;

pub use client_ip::{IpNet, TrustedProxies, client_ip};
pub use window::{Decision, Limiter, MAX_KEYS_PER_SHARD, Rate};

use crate::config::{RateLimitArgs, RateLimitMode};
use crate::error::ApiError;
use crate::metrics::{Limit, Metrics};
use crate::routes::auth::Caller;
use crate::routes::table::ServedMethods;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};

pub const LIMIT_HEADER: &str = "x-ratelimit-limit";
pub const REMAINING_HEADER: &str = "x-ratelimit-remaining";
pub const RESET_HEADER: &str = "x-ratelimit-reset";

/// Every limiter of the server, or none when `CHATSDK_RATE_LIMITS=off`.
pub struct RateLimits {
    classes: Option<Classes>,
    trusted_proxies: Vec<IpNet>,
    metrics: Metrics,
}

struct Classes {
    key: Limiter,
    user_writes: Limiter,
    typing: Limiter,
    auth_failures: Limiter,
}

/// The per-user limits, each with its own budget.
#[derive(Debug, Clone, Copy)]
enum UserClass {
    /// Writes: messages, reactions, channel and member changes.
    Writes,
    Typing,
}

impl RateLimits {
    pub fn new(args: &RateLimitArgs, metrics: Metrics) -> Self {
        let classes = (args.mode == RateLimitMode::On).then(|| Classes {
            key: Limiter::new(args.rate_limit_key),
            user_writes: Limiter::new(args.rate_limit_user_writes),
            typing: Limiter::new(args.rate_limit_typing),
            auth_failures: Limiter::new(args.rate_limit_auth_failures),
        });
        Self {
            classes,
            trusted_proxies: args.trusted_proxies.0.clone(),
            metrics,
        }
    }

    /// Counts a request of an authenticated API key (by key id, never the secret).
    pub fn hit_key(&self, key_id: &str) -> Result<Option<Decision>, ApiError> {
        let Some(c) = &self.classes else {
            return Ok(None);
        };
        self.allow(Limit::Key, c.key.hit(key_id))
    }

    /// Turns a failed authentication into what the client gets: the 401 itself while its
    /// IP is within the failure budget, a 429 `rate_limited` after.
    ///
    /// Only failures count: a valid credential from the same IP still passes, so one bad
    /// client behind a shared NAT (or a proxy missing from CHATSDK_TRUSTED_PROXIES) cannot
    /// lock everyone out. Guessing gains nothing from that: keys carry 131 random bits and
    /// tokens an HMAC-SHA256. An expired or revoked token was once valid: not counted.
    pub fn failed_auth(&self, req: &HttpRequest, error: ApiError) -> ApiError {
        let Some(c) = &self.classes else {
            return error;
        };
        let counts = matches!(
            error,
            ApiError::MissingApiKey
                | ApiError::InvalidApiKey
                | ApiError::MissingToken
                | ApiError::InvalidToken(_)
        );
        if !counts {
            return error;
        }
        let ip = self
            .client_ip(req)
            .map_or_else(String::new, |ip| ip.to_string());
        match self.allow(Limit::AuthFailures, c.auth_failures.hit(&ip)) {
            Ok(_) => error,
            Err(limited) => limited,
        }
    }

    fn hit_user(&self, class: UserClass, user_key: &str) -> Result<Option<Decision>, ApiError> {
        let Some(c) = &self.classes else {
            return Ok(None);
        };
        let (limiter, limit) = match class {
            UserClass::Writes => (&c.user_writes, Limit::UserWrites),
            UserClass::Typing => (&c.typing, Limit::Typing),
        };
        self.allow(limit, limiter.hit(user_key))
    }

    /// The decision as a result; a refusal is counted in the metrics.
    fn allow(&self, limit: Limit, decision: Decision) -> Result<Option<Decision>, ApiError> {
        if decision.allowed {
            Ok(Some(decision))
        } else {
            self.metrics.rate_limited(limit);
            Err(ApiError::RateLimited(decision))
        }
    }

    fn client_ip(&self, req: &HttpRequest) -> Option<std::net::IpAddr> {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>();
        client_ip(
            req.peer_addr(),
            forwarded.into_iter(),
            &self.trusted_proxies,
        )
    }
}

/// The server's limits, registered as app data by the composition root.
pub fn of(req: &ServiceRequest) -> Result<web::Data<RateLimits>, ApiError> {
    req.app_data::<web::Data<RateLimits>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("RateLimits is not registered".into()))
}

/// Writes X-RateLimit-Limit/Remaining/Reset (the reset in seconds from now).
pub fn set_headers(headers: &mut HeaderMap, decision: &Decision) {
    let pairs = [
        (LIMIT_HEADER, u64::from(decision.limit)),
        (REMAINING_HEADER, u64::from(decision.remaining)),
        (RESET_HEADER, decision.reset_secs()),
    ];
    for (name, value) in pairs {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}

/// Headers of a 429: the X-RateLimit-* set plus Retry-After.
pub fn set_refusal_headers(headers: &mut HeaderMap, decision: &Decision) {
    set_headers(headers, decision);
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from(decision.reset_secs()),
    );
}

/// Marks a request the per-user limit refused: no handler ran, and the 429 stands (the
/// auth middleware does not then spend a database read on the token's revocation).
pub struct RefusedByUserLimit;

/// Per-user limit on chat writes: messages, reactions, channel and member changes (wrap
/// those resources).
pub async fn limit_user_writes<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    limit_user(req, next, UserClass::Writes).await
}

/// Per-user limit on typing notifications, a budget apart from sends.
pub async fn limit_typing<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    limit_user(req, next, UserClass::Typing).await
}

/// Counts writes of a token's user; reads of the same resource pass uncounted. Backend
/// calls (X-API-Key) are limited per key instead: they act for many users on purpose.
/// A 429 is a response, not an `Err`, so the CORS middleware outside adds its headers.
async fn limit_user<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    class: UserClass,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let limits = match of(&req) {
        Ok(limits) => limits,
        Err(e) => return Ok(req.error_response(e).map_into_right_body()),
    };
    let is_read = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let is_405 = req
        .app_data::<ServedMethods>()
        .is_some_and(|m| !m.serves(req.method()));
    let user_key = req
        .extensions()
        .get::<Caller>()
        .filter(|c| !c.backend && !is_read && !is_405)
        .and_then(|c| Some(format!("{}\0{}", c.app_id, c.token_user.as_ref()?)));
    let quota = match user_key.map(|key| limits.hit_user(class, &key)) {
        Some(Ok(quota)) => quota,
        Some(Err(refusal)) => {
            req.extensions_mut().insert(RefusedByUserLimit);
            return Ok(req.error_response(refusal).map_into_right_body());
        }
        None => None,
    };
    let mut res = next.call(req).await?;
    if let Some(quota) = quota {
        set_headers(res.headers_mut(), &quota);
    }
    Ok(res.map_into_left_body())
}
