//! Health routes. `GET /healthz`: the process answers (nothing else is checked).
//! `GET /readyz` and `GET /api/health`: the database answers a read and the writer commits a
//! no-op, both within the database deadline (else 503 `unavailable`); `/readyz` also answers
//! 503 once the server is shutting down, so a load balancer stops sending it new clients.

use actix_web::{web, HttpResponse};
use courier_actors::store;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// `/api/health`, mounted under `/api`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health));
}

/// `/healthz` and `/readyz`, mounted at the root (where probes look for them).
pub fn probes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The checks `/readyz` and `/api/health` share: a read from the pool, then a transaction
/// that takes the writer's locks and writes nothing (or rides along with the next real
/// batch), together within the database deadline.
async fn database_ready(state: &AppState) -> ApiResult<()> {
    let engine = &state.engine;
    let checks = async {
        {
            let mut conn = engine.db.get().await?;
            store::ping(&mut conn.conn()).await?;
        }
        engine.check_writer().await
    };
    store::within(engine.db.timeout(), checks).await?;
    Ok(())
}

async fn health(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    database_ready(&state).await?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "status": "ok",
        "database": state.engine.db.backend_name(),
        "version": env!("CARGO_PKG_VERSION"),
    })))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "success": true, "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if state.shutdown.is_started() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the server is shutting down",
        ));
    }
    database_ready(&state).await?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "status": "ready",
        "database": state.engine.db.backend_name(),
    })))
}
