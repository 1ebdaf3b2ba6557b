//! Health routes. `GET /healthz`: the process answers (nothing else is checked).
//! `GET /readyz` and `GET /api/health`: the database answers a read and the writer commits a
//! no-op, both within the database deadline (else 503 `unavailable`); `/readyz` also answers
//! 503 once the server is shutting down, so a load balancer stops sending it new clients.

use crate::api::health::{Alive, ClusterHealth, Health, Ready};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use courier_actors::store;

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

/// The database answers a read and the writer commits, within the database deadline.
#[utoipa::path(get, path = "/api/health", tag = "health",
    responses((status = 200, body = Health)))]
pub(crate) async fn health(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    database_ready(&state).await?;
    let cluster = state.engine.cluster.as_ref().map(|c| ClusterHealth {
        node: c.node().to_string(),
        redis: if c.is_up() { "up" } else { "down" }.into(),
        nodes: c.nodes().to_vec(),
    });
    let degraded = cluster.as_ref().is_some_and(|c| c.redis == "down");
    Ok(HttpResponse::Ok().json(Health {
        success: true,
        status: if degraded { "degraded" } else { "ok" }.into(),
        database: state.engine.db.backend_name().into(),
        version: env!("CARGO_PKG_VERSION").into(),
        cluster,
    }))
}

/// The process answers (nothing else is checked).
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = Alive)))]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Alive {
        success: true,
        status: "ok".into(),
    })
}

/// As `/api/health`, and 503 once the server is shutting down.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Ready)))]
pub(crate) async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if state.shutdown.is_started() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the server is shutting down",
        ));
    }
    database_ready(&state).await?;
    Ok(HttpResponse::Ok().json(Ready {
        success: true,
        status: "ready".into(),
        database: state.engine.db.backend_name().into(),
    }))
}
