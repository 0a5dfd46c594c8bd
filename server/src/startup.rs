//! Building the application before it runs: connect the database, open storage, bind the listener
//! (port 0 works) and report the address. `main` and the tests share this path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::net::TcpListener;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpResponse, HttpServer};

use crate::config::{Settings, StorageBackend};
use crate::db::Db;
use crate::routes::body::BodyIdle;
use crate::routes::{self, AppState, Edge};
use crate::services::{Accounts, Limits, Registry, ServiceError};
use crate::storage::Storage;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Db(#[from] crate::db::DbError),
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    #[error("accounts: {0}")]
    Accounts(#[from] ServiceError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot create data folder {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
}

/// The registry service on the configured database and storage (for `serve` and one-off commands).
pub async fn registry(settings: &Settings) -> Result<Registry, StartupError> {
    let data = &settings.storage.data_dir;
    std::fs::create_dir_all(data).map_err(|source| StartupError::DataDir {
        path: data.display().to_string(),
        source,
    })?;
    let db = Db::connect(&settings.database_url(), settings.database.max_connections).await?;
    let storage = match settings.storage.backend {
        StorageBackend::Filesystem => Storage::local(data)?,
        StorageBackend::Memory => Storage::memory(),
        StorageBackend::Url => Storage::from_url(&settings.storage.url, &settings.storage.options)?,
    };
    let limits = Limits {
        max_manifest_size: settings.registry.max_manifest_size,
        max_page: settings.registry.max_page_size.max(1),
    };
    Ok(Registry::new(db, storage, limits))
}

/// A built, bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    state: AppState,
    conn: ConnSettings,
    tls: Option<rustls::ServerConfig>,
    /// The plain-HTTP listener that redirects to HTTPS, if configured.
    redirect: Option<(TcpListener, SocketAddr)>,
}

impl Application {
    /// Prepares everything `run` needs.
    pub async fn build(settings: &Settings) -> Result<Application, StartupError> {
        let tls = if settings.server.tls() {
            Some(
                crate::tls::server_config(&settings.server.tls_cert, &settings.server.tls_key)
                    .map_err(StartupError::Tls)?,
            )
        } else {
            None
        };
        let registry = registry(settings).await?;
        let db = registry.db().clone();
        let data = &settings.storage.data_dir;
        let mut accounts = Accounts::bootstrap(db, &settings.auth, data).await?;
        accounts.https = !settings.server.tls_cert.as_os_str().is_empty();
        accounts.trusted_proxies = settings
            .server
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse()
                    .map_err(|_| StartupError::Config(format!("server.trusted_proxies: {p:?} is not an IP address")))
            })
            .collect::<Result<_, _>>()?;
        if settings.gc.interval_secs > 0 {
            spawn_gc_schedule(registry.clone(), settings.gc.clone());
        }
        let (listener, addr) = bind(&settings.server.listen)?;
        let redirect = match (&tls, settings.server.http_redirect_listen.as_str()) {
            (Some(_), l) if !l.is_empty() => Some(bind(l)?),
            _ => None,
        };
        Ok(Application {
            listener,
            addr,
            state: AppState {
                registry,
                accounts: Arc::new(accounts),
            },
            conn: ConnSettings::from(&settings.server),
            tls,
            redirect,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the listener speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The address of the plain-HTTP redirect listener, if any.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().map(|(_, a)| *a)
    }

    /// Serves until SIGINT or SIGTERM, then lets requests in flight finish (up to 30 s).
    pub async fn run(self) -> std::io::Result<()> {
        let state = web::Data::new(self.state);
        let idle = web::Data::new(BodyIdle(self.conn.body_idle_timeout));
        let edge = web::Data::new(Edge {
            max_head: self.conn.max_header_bytes,
            https: self.tls.is_some(),
        });
        let to_https = web::Data::new(ToHttps(self.redirect.is_some().then_some(self.addr.port())));
        let server = HttpServer::new(move || {
            // The last `wrap` is the outermost: the plain-HTTP redirect, then `edge` (head limit,
            // security headers, request log); the panic guard is around the whole application.
            routes::CatchPanic(actix_service::IntoServiceFactory::into_factory(
                App::new()
                    .app_data(state.clone())
                    .app_data(idle.clone())
                    .app_data(edge.clone())
                    .app_data(to_https.clone())
                    .configure(routes::configure)
                    .wrap(from_fn(routes::edge))
                    .wrap(from_fn(redirect_plain)),
            ))
        })
        .disable_signals()
        .shutdown_timeout(30)
        .tcp_nodelay(true)
        // A client that does not finish its request head in time is answered `408` and dropped
        // (slow loris); the same bound holds for the TLS handshake.
        .client_request_timeout(self.conn.header_read_timeout.unwrap_or(Duration::ZERO))
        .tls_handshake_timeout(self.conn.header_read_timeout.unwrap_or(Duration::from_secs(60)))
        .keep_alive(Duration::from_secs(KEEP_ALIVE_SECS));
        let server = match self.tls {
            None => server.listen(self.listener)?,
            Some(config) => server.listen_rustls_0_23(self.listener, config)?,
        };
        let server = match self.redirect {
            Some((listener, _)) => server.listen(listener)?,
            None => server,
        }
        .run();
        let handle = server.handle();
        tokio::spawn(async move {
            shutdown_signal().await;
            // Stops accepting, lets requests in flight finish (up to `shutdown_timeout`).
            handle.stop(true).await;
        });
        server.await
    }
}

/// How long an idle kept-alive connection stays open (nginx's default).
const KEEP_ALIVE_SECS: u64 = 75;

fn bind(listen: &str) -> Result<(TcpListener, SocketAddr), StartupError> {
    let err = |source| StartupError::Bind {
        addr: listen.to_owned(),
        source,
    };
    let listener = TcpListener::bind(listen).map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    Ok((listener, addr))
}

/// Per-connection limits from `[server]`.
#[derive(Clone)]
struct ConnSettings {
    header_read_timeout: Option<Duration>,
    body_idle_timeout: Option<Duration>,
    max_header_bytes: usize,
}

impl From<&crate::config::ServerSettings> for ConnSettings {
    fn from(s: &crate::config::ServerSettings) -> Self {
        let secs = |n: u64| (n > 0).then(|| Duration::from_secs(n));
        ConnSettings {
            header_read_timeout: secs(s.header_read_timeout_secs),
            body_idle_timeout: secs(s.body_idle_timeout_secs),
            max_header_bytes: s.max_header_bytes.max(1024),
        }
    }
}

/// The HTTPS port plain-HTTP requests are sent to, when the redirect listener is configured.
#[derive(Clone, Copy)]
struct ToHttps(Option<u16>);

/// Answers every request that came over plain HTTP, when TLS is on, with a `308` to the same path
/// on the HTTPS port.
async fn redirect_plain(
    req: ServiceRequest,
    next: Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let port = req.app_data::<web::Data<ToHttps>>().and_then(|t| t.0);
    match port {
        Some(port) if !req.app_config().secure() => {
            let resp = https_redirect(&req, port);
            Ok(req.into_response(resp))
        }
        _ => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

fn https_redirect(req: &ServiceRequest, https_port: u16) -> HttpResponse {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            // Drop the port of the plain listener, keep an IPv6 literal whole.
            match h.rsplit_once(':') {
                Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
                _ => h,
            }
        })
        .unwrap_or("localhost");
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}:{https_port}{path}");
    match header::HeaderValue::from_str(&location) {
        Ok(v) => HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, v))
            .finish(),
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

/// Collects garbage every `gc.interval_secs` while serving (first run one interval after start).
fn spawn_gc_schedule(registry: Registry, gc: crate::config::GcSettings) {
    tokio::spawn(async move {
        let period = std::time::Duration::from_secs(gc.interval_secs);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            if let Err(e) = registry.collect_garbage(&gc.options(false)).await {
                tracing::error!(error = %e, "scheduled garbage collection failed");
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
