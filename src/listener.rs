//! The HTTP listener: the app with its middleware, served by actix-server and actix-http
//! directly (what `HttpServer` does, plus the upgrade service of [`crate::upgrade`], which
//! `HttpServer` cannot take).

use std::any::Any;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_http::{HttpService, KeepAlive};
use actix_service::{map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpRequest, HttpResponse, ResponseError};

use crate::connections::{self, ConnLimiter};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{deadline, metrics, request_log, routes, tls, upgrade, ws};

/// The whole app: every route, and the middleware every request goes through.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let settings = state.settings.clone();
    App::new()
        .app_data(state)
        .app_data(
            web::PathConfig::default().error_handler(|_, _| ApiError::not_found("resource").into()),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ApiError::invalid("query", e.to_string()).into()),
        )
        .configure(routes::configure)
        .configure(routes::health::probes)
        .route("/ws", web::get().to(ws::connect))
        .configure(crate::pusher::routes)
        .configure(routes::media::routes)
        // Last: the web client's paths cannot shadow the API, /ws or media links.
        .configure(crate::web::routes(&settings))
        .wrap(actix_web::middleware::from_fn(
            deadline::close_on_unread_body,
        ))
        .wrap(actix_web::middleware::from_fn(deadline::request_deadline))
        .wrap(actix_web::middleware::from_fn(connections::refuse_over_cap))
        .wrap(actix_web::middleware::from_fn(metrics::count_requests))
        .wrap(actix_web::middleware::from_fn(request_log::log_requests))
        .default_service(web::to(no_route))
}

async fn no_route(req: HttpRequest) -> HttpResponse {
    ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", req.method(), req.path()),
    )
    .error_response()
}

/// How the listener serves; from `[server]`.
pub struct Listen {
    pub state: web::Data<AppState>,
    pub limiter: Arc<ConnLimiter>,
    pub keep_alive_secs: u64,
    pub header_timeout: Duration,
    /// Connections per worker (the open-file budget).
    pub per_worker: usize,
    /// 0: one worker per core.
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    /// Certificate and key (PEM files) for HTTPS and WSS; plain HTTP without.
    pub tls: Option<(String, String)>,
    /// Where the upgraded sockets are counted.
    pub upgraded: upgrade::Upgraded,
}

/// Serves on `listener` (already bound): the server, ready to be awaited.
pub fn serve(listener: TcpListener, listen: Listen) -> anyhow::Result<Server> {
    let mut builder = actix_server::Server::build()
        .max_concurrent_connections(listen.per_worker)
        .shutdown_timeout(listen.shutdown_timeout_secs)
        .disable_signals();
    if listen.workers > 0 {
        builder = builder.workers(listen.workers);
    }
    let signal = builder.graceful_shutdown_signal();
    let keep_alive = match listen.keep_alive_secs {
        0 => KeepAlive::Disabled,
        secs => KeepAlive::Timeout(Duration::from_secs(secs)),
    };
    let Listen {
        state,
        limiter,
        header_timeout,
        tls,
        upgraded,
        ..
    } = listen;
    let on_connect = Arc::new(limiter.on_connect());
    let make = move |state: &web::Data<AppState>| {
        map_config(
            app(state.clone())
                .into_factory()
                .map_err(|e: actix_web::Error| e),
            |_| AppConfig::default(),
        )
    };
    // One worker's HTTP service, over plain TCP or TLS; `upgrade` runs its own instance of
    // the app.
    macro_rules! http {
        () => {{
            let signal = signal.clone();
            let on_connect = on_connect.clone();
            HttpService::build()
                .graceful_shutdown_signal(move || {
                    let signal = signal.clone();
                    async move { signal.notified().await }
                })
                .keep_alive(keep_alive)
                .client_request_timeout(header_timeout)
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1_allow_half_closed(true)
                .on_connect_ext(move |io: &_, ext: _| (on_connect)(io as &dyn Any, ext))
                .upgrade(upgrade::service(make(&state), upgraded.clone()))
                .finish(make(&state))
        }};
    }
    let builder = match tls {
        None => builder.listen("courier", listener, move || http!().tcp())?,
        Some((cert, key)) => {
            let config = tls::server_config(cert.as_ref(), key.as_ref())?;
            builder.listen("courier-tls", listener, move || {
                http!().rustls_0_23(config.clone())
            })?
        }
    };
    Ok(builder.run())
}
