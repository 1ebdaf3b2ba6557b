//! `GET /api/health`: the database answers a read and the writer is not stuck, within the
//! database deadline (else 503 `unavailable`); and which storage backend is in use.

use actix_web::{web, HttpResponse};
use courier_actors::store;
use serde_json::json;

use crate::error::ApiResult;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health));
}

async fn health(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let engine = &state.engine;
    let checks = async {
        {
            let mut conn = engine.db.get().await?;
            store::ping(&mut conn.conn()).await?;
        }
        // A transaction that takes the writer's locks, rolled back (or the next real batch).
        engine.check_writer().await
    };
    store::within(engine.db.timeout(), checks).await?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "status": "ok",
        "database": state.engine.db.backend_name(),
        "version": env!("CARGO_PKG_VERSION"),
    })))
}
