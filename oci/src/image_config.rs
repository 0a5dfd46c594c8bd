//! The image configuration blob (OCI image spec `config.json`, Docker's image JSON) reduced to what
//! clients show — platform, creation time, history and the layer diff IDs — and platform matching
//! for index entries. Unknown fields are ignored when reading; the stored bytes stay the truth.

use serde::{Deserialize, Serialize};

use crate::Digest;

/// One entry of an image's history (as `docker history` lists them, oldest first in the blob).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction that made the entry, e.g. `/bin/sh -c #(nop)  CMD ["sh"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Free-form comment (`Imported from -`, `buildkit.dockerfile.v0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the entry made no layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
}

impl History {
    /// Whether the entry made no filesystem layer.
    pub fn is_empty_layer(&self) -> bool {
        self.empty_layer.unwrap_or(false)
    }
}

/// The `rootfs` section: the uncompressed layer digests, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Digests of the uncompressed layer tars.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

/// An image configuration, with the fields clients read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// RFC 3339 creation time of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture (`amd64`, `arm64`).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// CPU variant (`v8`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The execution parameters (Env, Cmd, Entrypoint, …), kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    /// Layer diff IDs.
    #[serde(default)]
    pub rootfs: RootFs,
    /// History, oldest first.
    #[serde(default)]
    pub history: Vec<History>,
}

impl ImageConfig {
    /// Parses a config blob.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The platform the config names, if it names an operating system.
    pub fn platform(&self) -> Option<Platform> {
        (!self.os.is_empty()).then(|| Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
        })
    }
}

/// An `os/arch[/variant]` platform, as given to `--platform` or found in an index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// Operating system.
    pub os: String,
    /// Architecture, in Go's names (`amd64`, `arm64`, `arm`, `386`, …).
    pub architecture: String,
    /// Variant (`v7`, `v8`), if any.
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut parts = s.split('/');
        let os = parts.next().filter(|p| !p.is_empty())?.to_owned();
        let architecture = parts.next().filter(|p| !p.is_empty())?.to_owned();
        let variant = parts.next().map(str::to_owned);
        if parts.next().is_some() {
            return None;
        }
        Some(Platform {
            os,
            architecture,
            variant,
        })
    }

    /// The platform of this machine in Go's names (Linux is assumed for containers).
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        Platform {
            os: "linux".to_owned(),
            architecture: architecture.to_owned(),
            variant: None,
        }
    }

    /// Reads an index entry's `platform` object.
    pub fn from_json(v: &serde_json::Value) -> Option<Platform> {
        Some(Platform {
            os: v.get("os")?.as_str()?.to_owned(),
            architecture: v.get("architecture")?.as_str()?.to_owned(),
            variant: v.get("variant").and_then(|x| x.as_str()).map(str::to_owned),
        })
    }

    /// Whether `other` (an index entry's platform) satisfies this wanted platform: same os and
    /// architecture, and the same variant when this one names one.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_config() {
        let raw = br#"{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z",
            "config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},
            "history":[{"created":"2024-01-02T03:04:05Z","created_by":"ADD x /","comment":"c"},
                       {"created_by":"CMD [\"sh\"]","empty_layer":true}],"unknown":1}"#;
        let c = ImageConfig::parse(raw).expect("parses");
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        assert_eq!(c.history.len(), 2);
        assert!(c.history[1].is_empty_layer());
        assert!(!c.history[0].is_empty_layer());
    }

    #[test]
    fn platforms() {
        let want = Platform::parse("linux/arm64").expect("valid");
        let have = Platform::parse("linux/arm64/v8").expect("valid");
        assert!(want.matches(&have));
        assert!(!have.matches(&Platform::parse("linux/arm64").expect("valid")));
        assert!(Platform::parse("linux").is_none());
        assert_eq!(have.to_string(), "linux/arm64/v8");
    }
}
