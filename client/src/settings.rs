//! Where rreg keeps things and how it reaches registries: the data folder (`RREG_HOME`), the
//! default registry for names without a host, plain-HTTP (insecure) registries and an extra CA.
//! Settings are stored in `settings.json` in the data folder; environment variables win.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rreg_oci::image_ref::{normalise_host, DOCKER_HUB};
use serde::{Deserialize, Serialize};

/// The persisted settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Registry for names without a host (set by `rreg login SERVER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_registry: Option<String>,
    /// Registries spoken to over plain HTTP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insecure_registries: Vec<String>,
}

/// The data folder: `RREG_HOME`, else `$XDG_DATA_HOME/rreg`, else `~/.local/share/rreg`.
pub fn home() -> anyhow::Result<PathBuf> {
    if let Some(h) = std::env::var_os("RREG_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(x).join("rreg"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither RREG_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".local/share/rreg"))
}

impl Settings {
    fn path(home: &Path) -> PathBuf {
        home.join("settings.json")
    }

    /// Reads the settings (defaults when the file does not exist).
    pub fn load() -> anyhow::Result<Settings> {
        let path = Self::path(&home()?);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the settings atomically.
    pub fn save(&self) -> anyhow::Result<()> {
        let home = home()?;
        std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
        let path = Self::path(&home);
        crate::store::write_atomic(&path, &serde_json::to_vec_pretty(self)?)
    }

    /// The registry for names without a host: `RREG_DEFAULT_REGISTRY`, the stored default, or
    /// docker.io.
    pub fn default_registry(&self) -> String {
        if let Ok(r) = std::env::var("RREG_DEFAULT_REGISTRY") {
            if !r.is_empty() {
                return normalise_host(&r);
            }
        }
        self.default_registry.clone().unwrap_or_else(|| DOCKER_HUB.to_owned())
    }

    /// Whether `registry` is spoken to over plain HTTP: loopback hosts, `RREG_INSECURE_REGISTRIES`
    /// and the stored list.
    pub fn is_insecure(&self, registry: &str) -> bool {
        if is_loopback(registry) {
            return true;
        }
        let env = std::env::var("RREG_INSECURE_REGISTRIES").unwrap_or_default();
        env.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(normalise_host)
            .chain(self.insecure_registries.iter().cloned())
            .any(|r| r == registry)
    }

    /// An extra CA certificate file (PEM) trusted besides the system roots.
    pub fn ca_file(&self) -> Option<PathBuf> {
        std::env::var_os("RREG_CA_FILE")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    }
}

/// Whether a `host[:port]` is localhost or a loopback address.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "localhost:5000", "127.0.0.1:80", "127.3.4.5", "[::1]:5000"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["example.com", "10.0.0.1:5000", "docker.io"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
