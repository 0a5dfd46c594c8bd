//! Building the application before it runs: connect the database, open storage, bind the listener
//! (port 0 works) and report the address. `main` and the tests share this path.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
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
}

impl Application {
    /// Prepares everything `run` needs.
    pub async fn build(settings: &Settings) -> Result<Application, StartupError> {
        let registry = registry(settings).await?;
        let db = registry.db().clone();
        let data = &settings.storage.data_dir;
        let accounts = Accounts::bootstrap(db, &settings.auth, data).await?;
        if settings.gc.interval_secs > 0 {
            spawn_gc_schedule(registry.clone(), settings.gc.clone());
        }
        let listen = &settings.server.listen;
        let listener = TcpListener::bind(listen).await.map_err(|source| StartupError::Bind {
            addr: listen.clone(),
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: listen.clone(),
            source,
        })?;
        Ok(Application {
            listener,
            addr,
            app: router(AppState {
                registry,
                accounts: Arc::new(accounts),
            }),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run(self) -> std::io::Result<()> {
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, self.app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown_signal())
            .await
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
