//! Building the application before it runs: connect the database, open storage, bind the listener
//! (port 0 works) and report the address. `main` and the tests share this path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::config::{Settings, StorageBackend};
use crate::db::Db;
use crate::routes::{router, AppState};
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
    app: axum::Router,
    conn: ConnSettings,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The plain-HTTP listener that redirects to HTTPS, if configured.
    redirect: Option<(TcpListener, SocketAddr)>,
}

impl Application {
    /// Prepares everything `run` needs.
    pub async fn build(settings: &Settings) -> Result<Application, StartupError> {
        let tls = if settings.server.tls() {
            Some(crate::tls::acceptor(&settings.server.tls_cert, &settings.server.tls_key).map_err(StartupError::Tls)?)
        } else {
            None
        };
        let registry = registry(settings).await?;
        let db = registry.db().clone();
        let data = &settings.storage.data_dir;
        let mut accounts = Accounts::bootstrap(db, &settings.auth, data).await?;
        accounts.https = !settings.server.tls_cert.as_os_str().is_empty();
        if settings.gc.interval_secs > 0 {
            spawn_gc_schedule(registry.clone(), settings.gc.clone());
        }
        let (listener, addr) = bind(&settings.server.listen).await?;
        let redirect = match (&tls, settings.server.http_redirect_listen.as_str()) {
            (Some(_), l) if !l.is_empty() => Some(bind(l).await?),
            _ => None,
        };
        Ok(Application {
            listener,
            addr,
            app: router(AppState {
                registry,
                accounts: Arc::new(accounts),
            }),
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
        let graceful = GracefulShutdown::new();
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        if let Some((listener, _)) = self.redirect {
            tokio::spawn(redirect_loop(listener, self.addr.port(), self.conn.clone()));
        }
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let _ = tcp.set_nodelay(true);
            let service = connection_service(self.app.clone(), peer, self.conn.body_idle_timeout);
            let builder = self.conn.builder();
            match &self.tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(tcp), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, %peer, "connection ended with an error");
                        }
                    });
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let watcher = graceful.watcher();
                    let handshake_timeout = self.conn.header_read_timeout.unwrap_or(Duration::from_secs(60));
                    tokio::spawn(async move {
                        // A client that never finishes the handshake is dropped like a slow header.
                        let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, %peer, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        if let Err(e) = watcher.watch(conn).await {
                            tracing::debug!(error = %e, %peer, "connection ended with an error");
                        }
                    });
                }
            }
        }
        drop(self.listener);
        if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still running after 30 s; stopping anyway");
        }
        Ok(())
    }
}

async fn bind(listen: &str) -> Result<(TcpListener, SocketAddr), StartupError> {
    let listener = TcpListener::bind(listen).await.map_err(|source| StartupError::Bind {
        addr: listen.to_owned(),
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| StartupError::Bind {
        addr: listen.to_owned(),
        source,
    })?;
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

impl ConnSettings {
    /// An HTTP/1 connection builder enforcing the limits: slow or oversized request heads close the
    /// connection (`431` for the latter) instead of holding it.
    fn builder(&self) -> http1::Builder {
        let mut b = http1::Builder::new();
        b.timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_header_size(self.max_header_bytes);
        b
    }
}

/// The router as one connection's service: each request carries the peer address (as
/// `into_make_service_with_connect_info::<SocketAddr>` would) and a body that fails once it stalls
/// longer than `idle`.
fn connection_service(
    app: axum::Router,
    peer: SocketAddr,
    idle: Option<Duration>,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone {
    hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut app = app.clone();
        let mut req = match idle {
            Some(t) => req.map(|b| axum::body::Body::new(tower_http::timeout::TimeoutBody::new(t, b))),
            None => req.map(axum::body::Body::new),
        };
        req.extensions_mut().insert(ConnectInfo(peer));
        tower_service::Service::call(&mut app, req)
    })
}

/// Answers every plain-HTTP request with a `308` to the same path on the HTTPS port.
async fn redirect_loop(listener: TcpListener, https_port: u16, conn: ConnSettings) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let builder = conn.builder();
        let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| async move {
            Ok::<_, std::convert::Infallible>(https_redirect(&req, https_port))
        });
        tokio::spawn(async move {
            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
        });
    }
}

fn https_redirect<B>(req: &hyper::Request<B>, https_port: u16) -> axum::response::Response {
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
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
    let mut resp = StatusCode::PERMANENT_REDIRECT.into_response();
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => *resp.status_mut() = StatusCode::BAD_REQUEST,
    }
    resp
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
