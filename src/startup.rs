//! Building and running the server: storage, engine, HTTP app. Used by `courier serve` and by
//! the integration tests (which bind port 0 and drive the clock).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web;
use anyhow::Context as _;
use courier_actors::cluster::Cluster;
use courier_actors::pusher::Hub;
use courier_actors::storage::Storage;
use courier_actors::store::calls::CloseInterruptedCalls;
use courier_actors::store::{self, users::ResetPresence, Db};
use courier_actors::{Clock, Engine};

use crate::config::Settings;
use crate::connections::ConnLimiter;
use crate::fdlimit;
use crate::listener::{self, Listen};
use crate::metrics;
use crate::push::{Dispatcher, Providers};
use crate::secrets::Secrets;
use crate::shutdown::ShutdownFlag;
use crate::sms;
use crate::state::AppState;
use crate::tokens::Tokens;
use crate::upgrade::Upgraded;

/// A built server, listening but not yet running.
pub struct Application {
    port: u16,
    server: Server,
    engine: Engine,
    /// The `/metrics` listener and its port (none if `metrics.bind` is empty).
    metrics: Option<(Server, u16)>,
    shutdown: ShutdownFlag,
    dispatcher: Dispatcher,
    /// The open WebSockets, which outlive actix-server's connection count.
    upgraded: Upgraded,
    shutdown_timeout: Duration,
}

impl Application {
    /// Applies migrations, opens the pools, starts the engine and binds the listener.
    /// Must run inside an actix system (the engine's actors live there).
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Application> {
        settings.validate()?;
        // First: a limit too low to serve anyone stops the start before anything is opened.
        let (per_worker, workers) = connection_budget(&settings)?;
        let data_dir = &settings.server.data_dir;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data folder {}", data_dir.display()))?;
        let ran = store::migrate(&settings.database.url)
            .await
            .context("migrations failed")?;
        if ran > 0 {
            tracing::info!(count = ran, "applied migrations");
        }
        let timeout = Duration::from_millis(settings.database.timeout_ms);
        let db = Db::open(&settings.database.url, settings.database.pool_size, timeout).await?;
        let secrets = Secrets::load(
            data_dir,
            &settings.auth.jwt_secret,
            &settings.auth.phone_hash_key,
        )?;
        let sms = sms::from_settings(&settings.sms)?;
        // The writer's connections: one for each batch under way, one ready after a failure.
        let write_db = Db::open_for_writer(
            &settings.database.url,
            courier_actors::writer::MAX_IN_FLIGHT + 1,
            timeout,
        )
        .await?;
        let storage = open_storage(&settings, &secrets, clock.clone()).await?;
        let cluster = match settings.cluster.enabled() {
            true => Some(
                Cluster::join(settings.cluster_config())
                    .await
                    .context("cannot join the cluster")?,
            ),
            false => None,
        };
        let engine = Engine::start_in(
            db,
            write_db,
            clock.clone(),
            settings.realtime(),
            storage,
            cluster,
        );
        // Alone, no socket survives a restart: nobody is online until they reconnect, and
        // no call goes on. In a cluster, the other nodes' sockets and calls do.
        if engine.cluster.is_none() {
            engine.write(ResetPresence).await?;
            let closed = engine.write(CloseInterruptedCalls { only: None }).await?;
            if !closed.is_empty() {
                tracing::info!(
                    count = closed.len(),
                    "closed calls left live by the previous run"
                );
            }
        }

        // Exports a previous run left half-built are built again.
        let unfinished = {
            let mut conn = engine.db.get().await?;
            courier_actors::store::exports::pending(&mut conn.conn()).await?
        };
        for export in unfinished {
            engine.spawn_export(export);
        }

        let pusher = match settings.pusher.enabled() {
            true => Some(Hub::start(
                settings.pusher.app(data_dir)?,
                clock.clone(),
                engine.cluster.clone(),
            )),
            false => None,
        };

        let providers = Arc::new(Providers::from_settings(&settings.push)?);
        let dispatcher = Dispatcher::new(engine.clone(), providers.clone(), settings.push.clone());
        dispatcher.clone().spawn();

        // Upgraded WebSockets leave actix-server's per-worker count: the limiter keeps every
        // connection within the open-file budget.
        let limiter =
            ConnLimiter::new(settings.server.max_connections_per_ip, per_worker * workers);
        let shutdown = ShutdownFlag::default();
        crate::memory::spawn_trimmer(limiter.clone(), shutdown.clone());
        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("cannot listen on {}", settings.server.bind))?;
        // Room for connections that wait while every worker's budget is in use (actix's own
        // default; the standard library listens with a backlog of 128).
        socket2::SockRef::from(&listener).listen(1024)?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            tokens: Tokens::new(
                &secrets.jwt,
                settings.auth.access_ttl_secs,
                settings.auth.refresh_ttl_secs,
            ),
            engine: engine.clone(),
            shared_engine: Arc::new(engine.clone()),
            secrets,
            sms,
            pusher,
            push: providers,
            settings: settings.clone(),
            shutdown: shutdown.clone(),
        });
        let s = &settings.server;
        let tls = !s.tls_cert.is_empty();
        let upgraded = Upgraded::default();
        let server = listener::serve(
            listener,
            Listen {
                state,
                limiter,
                keep_alive_secs: s.keep_alive_secs,
                header_timeout: Duration::from_millis(s.header_timeout_ms),
                per_worker,
                workers: s.workers,
                shutdown_timeout_secs: s.shutdown_timeout_secs,
                tls: tls.then(|| (s.tls_cert.to_string(), s.tls_key.to_string())),
                upgraded: upgraded.clone(),
            },
        )?;
        let metrics = match settings.metrics.bind.as_str() {
            "" => None,
            bind => Some(metrics::listen(bind, engine.metrics.clone())?),
        };
        tracing::info!(
            port,
            tls,
            database = engine.db.backend_name(),
            "courier listening"
        );
        Ok(Application {
            port,
            server,
            engine,
            metrics,
            shutdown,
            dispatcher,
            upgraded,
            shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_secs),
        })
    }

    /// The push dispatcher (tests run its rounds themselves).
    pub fn dispatcher(&self) -> Dispatcher {
        self.dispatcher.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on, if it is.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    /// A handle to stop the server (tests use it to simulate a restart).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn engine(&self) -> Engine {
        self.engine.clone()
    }

    /// Serves until stopped, then lets the writer commit everything it holds.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        let result = self.server.await;
        if let Some(metrics) = metrics {
            metrics.stop(false).await;
        }
        self.engine.shutdown().await;
        result
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully: the listener closes, every
    /// open socket gets its close frame (1001) at once, `/readyz` answers 503, and requests in
    /// flight and the writer's last batch get `server.shutdown_timeout_secs`.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let engine = self.engine.clone();
        let shutdown = self.shutdown.clone();
        let upgraded = self.upgraded.clone();
        let grace = self.shutdown_timeout;
        actix_web::rt::spawn(async move {
            wait_for_signal().await;
            shutdown.start();
            // New sockets are refused from now on. Open ones get their close frames before
            // the workers stop: actix-server no longer counts them, so its graceful stop would
            // not wait for them.
            let sockets = engine.close_sockets().await;
            let _ = tokio::time::timeout(grace, upgraded.closed()).await;
            tracing::info!(
                sockets,
                "shutting down: sockets closed, finishing requests and writes"
            );
            // No new connections from here; the future ends once the workers are done.
            handle.stop(true).await;
        });
        let engine = self.engine.clone();
        let result = self.run_until_stopped().await;
        // Give the writer a bounded moment for anything a closing socket handed it last.
        let _ = tokio::time::timeout(Duration::from_secs(5), engine.drain()).await;
        tracing::info!("stopped");
        result
    }
}

/// Opens the media store and proves it takes writes: a server that cannot store uploads
/// refuses to start rather than failing on the first one.
async fn open_storage(
    settings: &Settings,
    secrets: &Secrets,
    clock: Clock,
) -> anyhow::Result<Storage> {
    let m = &settings.media;
    let storage = Storage::open(
        &m.backend(&settings.server.data_dir),
        secrets.media_key(),
        m.public_url.clone(),
        Duration::from_secs(m.url_ttl_secs),
        clock,
    )
    .map_err(|e| anyhow::anyhow!("media store: {e}"))?
    .with_orphan_sweep(m.orphan_sweep());
    let storage = match m.sealing_key() {
        Some(key) => storage.sealed_with(&key),
        None => storage,
    };
    let probe = format!(".probe/{}", crate::media::upload_id());
    storage
        .put(&probe, bytes::Bytes::from_static(b"ok"))
        .await
        .map_err(|e| anyhow::anyhow!("media store is not writable: {e}"))?;
    storage
        .delete(&probe)
        .await
        .map_err(|e| anyhow::anyhow!("media store: {e}"))?;
    Ok(storage)
}

/// Raises the open-file limit and answers how many connections each worker may hold (and how
/// many workers there are), so that sockets never take the descriptors the database and files
/// need. Refuses a limit too low to serve anyone.
fn connection_budget(settings: &Settings) -> anyhow::Result<(usize, usize)> {
    let workers = match settings.server.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // The read pool and the writer's two connections.
    let db_connections = settings.database.pool_size + 2;
    let Some(limit) = fdlimit::raise_open_file_limit() else {
        return Ok((25_000, workers));
    };
    let plan = fdlimit::plan(limit, workers, db_connections).map_err(anyhow::Error::msg)?;
    let sockets = plan.per_worker * workers;
    if (sockets as u64) < fdlimit::LOW_SOCKETS {
        tracing::warn!(
            open_file_limit = plan.limit,
            connections = sockets,
            "the open-file limit allows few connections; raise it (ulimit -n, systemd LimitNOFILE)"
        );
    } else {
        tracing::info!(
            open_file_limit = plan.limit,
            connections = sockets,
            reserved = plan.reserve,
            "open-file limit"
        );
    }
    Ok((plan.per_worker, workers))
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
