//! `GET /health` (the process serves) and `GET /ready` (its dependencies answer).

use crate::db::{apps, now_ms, outbox};
use crate::error::ApiError;
use crate::logging::Report;
use crate::metrics::Gauge;
use crate::routes::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;
use std::time::Duration;

/// How long `/ready` waits for each dependency.
const READY_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a failing `/ready` logs its cause again while the failure lasts: probes
/// come every few seconds, from every prober.
pub const NOT_READY_LOG_EVERY: Duration = Duration::from_secs(60);

/// Liveness
///
/// 200 while the process serves; checks nothing else.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "The process serves.", body = crate::openapi::Health,
         example = json!({"status": "ok"})),
        crate::openapi::errors::PublicErrors,
    )
)]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness
///
/// 200 when SQLite is usable and Centrifugo's API answers with our key; 503 naming what
/// failed (the log line has the cause).
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve.", body = crate::openapi::Ready),
        crate::openapi::errors::ReadyErrors,
    )
)]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let database = tokio::time::timeout(READY_TIMEOUT, state.db.read(apps::count)).await;
    // Each failure as (public message, cause for the log): `/ready` is public, so its
    // body names what failed but no address, path or driver message.
    let database = match database {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(("database: failed".to_string(), format!("database: {e}"))),
        Err(_) => Err(timed_out("database")),
    };
    let centrifugo = match tokio::time::timeout(READY_TIMEOUT, state.centrifugo.info()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err((
            format!("centrifugo: {}", e.summary()),
            format!("centrifugo: {e}"),
        )),
        Err(_) => Err(timed_out("centrifugo")),
    };
    let backlog = outbox_backlog(&state).await;
    let (public, causes): (Vec<String>, Vec<String>) = [database, centrifugo]
        .into_iter()
        .filter_map(Result::err)
        .unzip();
    let mut outage = state
        .ready_outage
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !public.is_empty() {
        let cause = causes.join("; ");
        match outage.failed() {
            Report::Began => log::warn!("not ready: {cause}"),
            Report::Lasting { since, tries } => log::warn!(
                "not ready for {} s ({tries} probes failed): {cause}",
                since.as_secs()
            ),
            Report::Ended { .. } | Report::Quiet => {}
        }
        return Err(ApiError::NotReady {
            message: public.join("; "),
        });
    }
    if let Report::Ended { since, tries } = outage.succeeded() {
        log::info!(
            "ready again after {:.1} s ({tries} probes failed)",
            since.as_secs_f64()
        );
    }
    drop(outage);
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "checks": {"database": "ok", "centrifugo": "ok"},
        "outbox": backlog.map(|(pending, oldest_age)| json!({
            "pending": pending,
            "oldestAgeSeconds": oldest_age,
        })),
    })))
}

/// A check that did not answer in time, as (public message, cause): the same words.
fn timed_out(check: &str) -> (String, String) {
    let message = format!("{check}: timed out");
    (message.clone(), message)
}

/// Events waiting for Centrifugo, and the age in seconds of the oldest.
async fn outbox_backlog(state: &AppState) -> Option<(i64, f64)> {
    let (pending, oldest) = state.db.read(outbox::backlog).await.ok()?;
    let age = oldest
        .map(|t| (now_ms() - t).max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    Some((pending, age))
}

/// Prometheus metrics
///
/// Prometheus text format: the app's registry, plus the outbox gauges read from SQLite.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format.", body = String,
         content_type = "text/plain"),
        crate::openapi::errors::PublicErrors,
    )
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut gauges = Vec::new();
    if let Some((pending, age)) = outbox_backlog(&state).await {
        gauges.push(Gauge {
            name: "chatsdk_outbox_pending_events",
            help: "Realtime events waiting for Centrifugo.",
            value: pending as f64,
        });
        gauges.push(Gauge {
            name: "chatsdk_outbox_oldest_pending_age_seconds",
            help: "Age of the oldest waiting event.",
            value: age,
        });
    }
    if let Ok(failed) = state.db.read(outbox::failed_count).await {
        gauges.push(Gauge {
            name: "chatsdk_outbox_failed_events",
            help: "Events Centrifugo refused for good (kept in outbox_failed).",
            value: failed as f64,
        });
    }
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(state.metrics.render(&gauges))
}
