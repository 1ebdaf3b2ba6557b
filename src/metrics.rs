//! `/metrics`, in the Prometheus (OpenMetrics) text format, on a listener of its own
//! (`metrics.bind`, loopback by default) so that it is never exposed with the API by accident;
//! and the middleware that counts every HTTP request by route pattern and status.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context as _;
use courier_actors::metrics::{Metrics, Request, Route};

use crate::state::AppState;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Counts the request and its latency under its route pattern (`/api/chats/{id}`, never the
/// raw path, so ids do not make a series each); requests no route matched count as
/// `unmatched`.
pub async fn count_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.engine.metrics.clone());
    let method = req.method().to_string();
    let res = next.call(req).await;
    if let Some(m) = metrics {
        let (route, status) = match &res {
            Ok(r) => (r.request().match_pattern(), r.status().as_u16()),
            Err(e) => (None, e.as_response_error().status_code().as_u16()),
        };
        let route = route.unwrap_or_else(|| "unmatched".into());
        m.http_seconds
            .get_or_create(&Route {
                route: route.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        m.http_requests
            .get_or_create(&Request {
                method,
                route,
                status,
            })
            .inc();
    }
    res
}

/// The metrics listener, bound and ready to run, with its port.
pub fn listen(bind: &str, metrics: Arc<Metrics>) -> anyhow::Result<(Server, u16)> {
    let listener =
        TcpListener::bind(bind).with_context(|| format!("metrics: cannot listen on {bind}"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        let metrics = metrics.clone();
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let text = metrics.render();
                async move { HttpResponse::Ok().content_type(CONTENT_TYPE).body(text) }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    Ok((server, port))
}
