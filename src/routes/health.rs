//! `GET /api/health`: liveness and which storage backend is in use.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiResult;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health));
}

async fn health(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    // A pool checkout proves the database is reachable.
    state.engine.db.get().await?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "status": "ok",
        "database": state.engine.db.backend_name(),
        "version": env!("CARGO_PKG_VERSION"),
    })))
}
