//! Configuration in one order: built-in defaults → the file given with `--config` → `RREG__SECTION__KEY`
//! environment variables → command-line flags. Every key is documented here and in `config/rreg.toml`.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// All settings of rreg-server.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The HTTP listener.
    pub server: ServerSettings,
    /// Where blobs live.
    pub storage: StorageSettings,
    /// Where metadata lives.
    pub database: DatabaseSettings,
    /// Registry limits.
    pub registry: RegistrySettings,
    /// Accounts and token login.
    pub auth: AuthSettings,
    /// Garbage collection.
    pub gc: GcSettings,
    /// Logging.
    pub log: LogSettings,
}

/// Garbage collection (also `rreg-server gc`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcSettings {
    /// Seconds between collections while serving; 0 turns the schedule off. With several instances
    /// each schedules one, and a lease in the database lets one run at a time.
    pub interval_secs: u64,
    /// Anything younger than this many seconds is left alone (protects pushes in progress).
    pub grace_secs: u64,
    /// Also delete manifests that have no tag, are listed by no index and refer to no live subject.
    pub delete_untagged: bool,
    /// Upload sessions idle this many seconds are abandoned and their bytes removed.
    pub upload_expiry_secs: u64,
}

impl Default for GcSettings {
    fn default() -> Self {
        GcSettings {
            interval_secs: 3600,
            grace_secs: 3600,
            delete_untagged: false,
            upload_expiry_secs: 24 * 3600,
        }
    }
}

impl GcSettings {
    /// The collection these settings describe.
    pub fn options(&self, dry_run: bool) -> crate::services::GcOptions {
        crate::services::GcOptions {
            dry_run,
            grace: std::time::Duration::from_secs(self.grace_secs),
            delete_untagged: self.delete_untagged,
            upload_expiry: std::time::Duration::from_secs(self.upload_expiry_secs),
        }
    }
}

/// Accounts and token login.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Require credentials (off only for throw-away test registries: everyone may do everything).
    pub enabled: bool,
    /// The `service` of the token challenge, and the `aud` of issued tokens.
    pub service: String,
    /// The `iss` of issued tokens.
    pub issuer: String,
    /// Token endpoint announced in challenges; empty means `<scheme>://<Host header>/token`.
    pub realm: String,
    /// Lifetime of registry tokens, in seconds.
    pub token_ttl_secs: i64,
    /// Lifetime of refresh tokens (`POST /token` with `access_type=offline`), in seconds.
    pub refresh_ttl_secs: i64,
    /// Password of the `admin` user created on first start; empty means a random one, printed once
    /// and written to `<data_dir>/admin-password`. The `RREG_ADMIN_PASSWORD` variable also sets it.
    pub admin_password: String,
    /// Whether anyone may create an account through `POST /api/v1/users`.
    pub signup: bool,
    /// Failed logins allowed per client address, and per address and account, within the window
    /// before `429` (never per account alone, so guesses from elsewhere cannot lock a user out).
    pub max_failed_logins: u32,
    /// The window for counting failed logins, in seconds.
    pub failed_login_window_secs: u64,
    /// Requests to `/token` and `/api/v1/login` allowed per client address and minute (with a burst
    /// of as many), whatever their outcome; beyond it `429` with `Retry-After`. 0 turns it off.
    pub login_rate_per_minute: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            enabled: true,
            service: "rreg".into(),
            issuer: "rreg".into(),
            realm: String::new(),
            token_ttl_secs: 300,
            refresh_ttl_secs: 30 * 24 * 3600,
            admin_password: String::new(),
            signup: false,
            max_failed_logins: 10,
            failed_login_window_secs: 300,
            login_rate_per_minute: 600,
        }
    }
}

impl std::fmt::Debug for AuthSettings {
    // The admin password never appears in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("enabled", &self.enabled)
            .field("service", &self.service)
            .field("issuer", &self.issuer)
            .field("realm", &self.realm)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field(
                "admin_password",
                &if self.admin_password.is_empty() { "" } else { "<set>" },
            )
            .field("signup", &self.signup)
            .field("max_failed_logins", &self.max_failed_logins)
            .field("failed_login_window_secs", &self.failed_login_window_secs)
            .field("login_rate_per_minute", &self.login_rate_per_minute)
            .finish_non_exhaustive()
    }
}

/// The HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address and port to listen on; port 0 picks a free port.
    pub listen: String,
    /// PEM file with the certificate chain; with `tls_key`, the listener speaks HTTPS only.
    pub tls_cert: PathBuf,
    /// PEM file with the private key of `tls_cert` (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: PathBuf,
    /// With TLS on: a second, plain-HTTP address whose every request is redirected (`308`) to the
    /// HTTPS listener. Empty: no plain-HTTP listener at all.
    pub http_redirect_listen: String,
    /// Seconds a client may take to send a request's head (answered `408`, connection closed);
    /// 0 turns the limit off.
    pub header_read_timeout_secs: u64,
    /// Seconds a request body may stall without sending a byte before the request is failed;
    /// 0 turns the limit off.
    pub body_idle_timeout_secs: u64,
    /// Largest request head (request line and headers), in bytes; larger ones get `431`.
    pub max_header_bytes: usize,
    /// IP addresses of reverse proxies in front of the server: only their `X-Forwarded-Proto` and
    /// `X-Forwarded-Host` shape the token realm. Empty: those headers are ignored.
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: "127.0.0.1:5000".into(),
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
            http_redirect_listen: String::new(),
            header_read_timeout_secs: 30,
            body_idle_timeout_secs: 60,
            max_header_bytes: 64 * 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ServerSettings {
    /// Whether HTTPS is configured.
    pub fn tls(&self) -> bool {
        !self.tls_cert.as_os_str().is_empty() || !self.tls_key.as_os_str().is_empty()
    }
}

/// Which blob store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// A folder on the local disk: `<data_dir>/blobs`.
    Filesystem,
    /// Memory only; everything is lost at exit (tests).
    Memory,
    /// Object storage named by `storage.url` (`s3://bucket/prefix`, `gs://…`, `az://…`), configured by
    /// `storage.options` (object_store's keys, e.g. `aws_endpoint`, `aws_region`, `aws_access_key_id`).
    Url,
}

/// Where blobs live.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// The data folder: blobs (filesystem backend) and the SQLite database live under it.
    pub data_dir: PathBuf,
    /// `filesystem` (default), `memory`, or `url`.
    pub backend: StorageBackend,
    /// For `url`: where blobs live, e.g. `s3://bucket/rreg`, `gs://bucket`, `az://container`.
    pub url: String,
    /// For `url`: object_store options (see docs/deployment.md), e.g. `aws_endpoint`,
    /// `aws_region`, `aws_access_key_id`, `aws_secret_access_key`, `aws_allow_http`,
    /// `aws_virtual_hosted_style_request`.
    #[serde(deserialize_with = "string_map")]
    pub options: std::collections::BTreeMap<String, String>,
}

/// Reads a map whose values may arrive as strings, booleans or numbers (environment variables are
/// typed by their look) and keeps them all as strings, as object_store expects.
fn string_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        B(bool),
        I(i64),
        F(f64),
    }
    let raw = std::collections::BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Scalar::S(s) => s,
                Scalar::B(b) => b.to_string(),
                Scalar::I(i) => i.to_string(),
                Scalar::F(f) => f.to_string(),
            };
            (k.to_lowercase(), v)
        })
        .collect())
}

impl std::fmt::Debug for StorageSettings {
    // Options carry credentials: show their names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageSettings")
            .field("data_dir", &self.data_dir)
            .field("backend", &self.backend)
            .field("url", &self.url)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            data_dir: PathBuf::from("./data"),
            backend: StorageBackend::Filesystem,
            url: String::new(),
            options: Default::default(),
        }
    }
}

/// Where metadata lives.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Database URL; empty means SQLite at `<data_dir>/rreg.db`.
    pub url: String,
    /// Largest number of pooled connections.
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: String::new(),
            max_connections: 8,
        }
    }
}

impl std::fmt::Debug for DatabaseSettings {
    // The URL may carry a password: show only its scheme.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.url.split(':').next().unwrap_or("");
        f.debug_struct("DatabaseSettings")
            .field("url", &format_args!("{scheme}:…"))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// Registry limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrySettings {
    /// Largest manifest accepted, in bytes (the OCI spec suggests at least 4 MiB).
    pub max_manifest_size: usize,
    /// Largest page of tags or repositories returned by one request.
    pub max_page_size: i64,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings {
            max_manifest_size: 4 * 1024 * 1024,
            max_page_size: 10_000,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// Filter in `RUST_LOG` syntax; `RUST_LOG` itself wins when set.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// Values given on the command line, applied last.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--listen`
    pub listen: Option<String>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--database-url`
    pub database_url: Option<String>,
}

impl Settings {
    /// Loads settings from defaults, `file`, the environment and `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Settings, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "configuration file {} does not exist",
                    f.display()
                ))));
            }
            fig = fig.merge(Toml::file(f));
        }
        fig = fig.merge(Env::prefixed("RREG__").split("__"));
        if let Some(l) = &overrides.listen {
            fig = fig.merge(Serialized::default("server.listen", l));
        }
        if let Some(d) = &overrides.data_dir {
            fig = fig.merge(Serialized::default("storage.data_dir", d));
        }
        if let Some(u) = &overrides.database_url {
            fig = fig.merge(Serialized::default("database.url", u));
        }
        fig.extract().map_err(Box::new)
    }

    /// The database URL, defaulting to SQLite in the data folder.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.storage.data_dir.join("rreg.db").display())
        } else {
            self.database.url.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("rreg.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:7000\"\n[registry]\nmax_page_size = 5\n",
        )
        .expect("write");
        let s = Settings::load(Some(&file), &Overrides::default()).expect("load");
        assert_eq!(s.server.listen, "127.0.0.1:7000");
        assert_eq!(s.registry.max_page_size, 5);
        let o = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some("/tmp/x".into()),
            database_url: None,
        };
        let s = Settings::load(Some(&file), &o).expect("load");
        assert_eq!(s.server.listen, "127.0.0.1:0");
        assert_eq!(s.database_url(), "sqlite:///tmp/x/rreg.db");
    }

    #[test]
    fn documented_default_file_matches_the_built_in_defaults() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/rreg.toml");
        let from_file = Settings::load(Some(&file), &Overrides::default()).expect("config/rreg.toml loads");
        let builtin = Settings::load(None, &Overrides::default()).expect("defaults");
        assert_eq!(format!("{from_file:?}"), format!("{builtin:?}"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("rreg.toml");
        std::fs::write(&file, "[server]\nlisten_on = \"x\"\n").expect("write");
        assert!(Settings::load(Some(&file), &Overrides::default()).is_err());
        assert!(Settings::load(Some(&dir.path().join("missing.toml")), &Overrides::default()).is_err());
    }
}
