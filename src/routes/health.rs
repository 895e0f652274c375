//! `GET /health` (the process serves) and `GET /ready` (its dependencies answer).

use crate::db::DbError;
use crate::error::ApiError;
use crate::routes::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;
use std::time::Duration;

/// How long `/ready` waits for each dependency.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when SQLite is usable and Centrifugo's API answers with our key; 503 naming what failed.
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let database = tokio::time::timeout(
        READY_TIMEOUT,
        state.db.read(|c| {
            Ok::<_, DbError>(c.query_row("SELECT count(*) FROM apps", [], |r| r.get::<_, i64>(0))?)
        }),
    )
    .await;
    let database = match database {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("database: {e}")),
        Err(_) => Err("database: timed out".to_string()),
    };
    let centrifugo = match tokio::time::timeout(READY_TIMEOUT, state.centrifugo.info()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("centrifugo: {e}")),
        Err(_) => Err("centrifugo: timed out".to_string()),
    };
    let failures: Vec<String> = [&database, &centrifugo]
        .into_iter()
        .filter_map(|r| r.clone().err())
        .collect();
    if !failures.is_empty() {
        return Err(ApiError::NotReady(failures.join("; ")));
    }
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "checks": {"database": "ok", "centrifugo": "ok"}
    })))
}
