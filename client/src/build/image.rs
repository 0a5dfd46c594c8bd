//! Images as the builder sees them: the state of a stage (layers, the `config` section, history),
//! read from a base image in the local store (pulled first when missing) and written back as a
//! config blob and a manifest — Docker schema 2 with Docker media types, or OCI when the base's
//! layers are OCI — with reproducible bytes (sorted keys, fixed timestamps).

use anyhow::{bail, Context as _};
use rreg_oci::{media_types as mt, Descriptor, Digest, History, ImageRef, Platform};
use serde_json::{json, Map, Value};

use super::layer::Layer;
use crate::progress::Progress;
use crate::registry::{pull, Client};
use crate::settings::Settings;
use crate::store::Store;

/// An image being built (or a base read from the store).
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Layers, bottom first.
    pub layers: Vec<Layer>,
    /// The `config` section (Env, Cmd, Entrypoint, WorkingDir, User, …).
    pub config: Map<String, Value>,
    /// History, oldest first.
    pub history: Vec<History>,
    /// `architecture`.
    pub architecture: String,
    /// `os`.
    pub os: String,
    /// `variant`.
    pub variant: Option<String>,
    /// `author` (MAINTAINER).
    pub author: Option<String>,
    /// Whether the base used OCI media types (the result is then an OCI image).
    pub oci: bool,
}

/// RFC 3339 for a Unix time.
pub fn rfc3339(secs: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0), 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl State {
    /// An empty image (`FROM scratch`) for this machine's architecture.
    pub fn scratch() -> State {
        let p = Platform::host();
        State {
            architecture: p.architecture,
            os: p.os,
            ..State::default()
        }
    }

    /// The `Env` list.
    pub fn env(&self) -> Vec<String> {
        self.config
            .get("Env")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// The value of `ENV name`.
    pub fn env_var(&self, name: &str) -> Option<String> {
        self.env().into_iter().find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        })
    }

    /// Sets (or replaces) `ENV name=value`.
    pub fn set_env(&mut self, name: &str, value: &str) {
        let mut env = self.env();
        let line = format!("{name}={value}");
        match env
            .iter_mut()
            .find(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k) == name)
        {
            Some(slot) => *slot = line,
            None => env.push(line),
        }
        self.config.insert("Env".into(), json!(env));
    }

    /// A string field of `config`.
    pub fn get_str(&self, key: &str) -> String {
        self.config
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    /// A string-list field of `config`.
    pub fn get_list(&self, key: &str) -> Option<Vec<String>> {
        self.config
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
    }

    /// The SHELL (default `/bin/sh -c`).
    pub fn shell(&self) -> Vec<String> {
        self.get_list("Shell")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    /// Adds a history entry.
    pub fn add_history(&mut self, created: u64, created_by: String, empty_layer: bool) {
        self.history.push(History {
            created: Some(rfc3339(created)),
            created_by: Some(created_by),
            author: None,
            comment: None,
            empty_layer: empty_layer.then_some(true),
        });
    }

    /// Reads a local image.
    pub fn from_image(image: &crate::store::Image) -> anyhow::Result<State> {
        let cfg: Value = serde_json::from_slice(&image.config_raw).context("reading the base image config")?;
        let diff_ids = &image.config.rootfs.diff_ids;
        let layers_desc = &image.manifest.layers;
        if diff_ids.len() != layers_desc.len() {
            bail!(
                "the base image has {} layers but {} diff IDs",
                layers_desc.len(),
                diff_ids.len()
            );
        }
        let layers = layers_desc
            .iter()
            .zip(diff_ids)
            .map(|(d, diff)| Layer {
                digest: d.digest.clone(),
                diff_id: diff.clone(),
                size: u64::try_from(d.size).unwrap_or(0),
                media_type: d.media_type.clone(),
            })
            .collect::<Vec<_>>();
        let oci = image.descriptor.media_type == mt::OCI_MANIFEST
            || layers.iter().any(|l| l.media_type.starts_with("application/vnd.oci."));
        Ok(State {
            layers,
            config: cfg
                .get("config")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            history: image.config.history.clone(),
            architecture: image.config.architecture.clone(),
            os: if image.config.os.is_empty() {
                "linux".into()
            } else {
                image.config.os.clone()
            },
            variant: image.config.variant.clone(),
            author: image.config.author.clone(),
            oci,
        })
    }

    /// The config blob's bytes.
    pub fn config_bytes(&self, created: u64) -> anyhow::Result<Vec<u8>> {
        let mut cfg = Map::new();
        cfg.insert("architecture".into(), json!(self.architecture));
        cfg.insert("os".into(), json!(self.os));
        if let Some(v) = &self.variant {
            cfg.insert("variant".into(), json!(v));
        }
        if let Some(a) = &self.author {
            cfg.insert("author".into(), json!(a));
        }
        cfg.insert("created".into(), json!(rfc3339(created)));
        cfg.insert("config".into(), Value::Object(self.config.clone()));
        cfg.insert(
            "rootfs".into(),
            json!({"type": "layers", "diff_ids": self.layers.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>()}),
        );
        cfg.insert("history".into(), serde_json::to_value(&self.history)?);
        Ok(serde_json::to_vec(&Value::Object(cfg))?)
    }

    /// Writes config and manifest into the store; returns the manifest descriptor and image ID.
    pub fn write(&self, store: &Store, created: u64) -> anyhow::Result<(Descriptor, Digest)> {
        let config = self.config_bytes(created)?;
        let config_digest = store.put_blob_bytes(&config)?;
        let (manifest_type, config_type) = if self.oci {
            (mt::OCI_MANIFEST, mt::OCI_CONFIG)
        } else {
            (mt::DOCKER_MANIFEST, mt::DOCKER_CONFIG)
        };
        let layers: Vec<Value> = self
            .layers
            .iter()
            .map(|l| {
                let media = match (self.oci, l.media_type.as_str()) {
                    (true, mt::DOCKER_LAYER_GZIP) => mt::OCI_LAYER_GZIP,
                    (_, m) => m,
                };
                json!({"mediaType": media, "size": l.size, "digest": l.digest.to_string()})
            })
            .collect();
        // Field order as docker writes it; serde_json keeps insertion order only with a struct, so
        // the manifest is assembled by hand.
        let manifest = format!(
            "{{\"schemaVersion\":2,\"mediaType\":{},\"config\":{{\"mediaType\":{},\"size\":{},\"digest\":{}}},\"layers\":{}}}",
            json!(manifest_type),
            json!(config_type),
            config.len(),
            json!(config_digest.to_string()),
            serde_json::to_string(&layers)?
        );
        let manifest_digest = store.put_blob_bytes(manifest.as_bytes())?;
        Ok((
            Descriptor {
                media_type: manifest_type.to_owned(),
                digest: manifest_digest,
                size: manifest.len() as i64,
                artifact_type: None,
                annotations: None,
                platform: None,
                urls: None,
            },
            config_digest,
        ))
    }
}

/// The base image `name`: from the local store, else pulled (printing the pull's progress).
pub fn base(
    store: &Store,
    settings: &Settings,
    name: &str,
    platform: Option<&Platform>,
    quiet: bool,
) -> anyhow::Result<(State, String)> {
    let r: ImageRef = crate::commands::parse_ref(name, settings)?;
    let local = store.find(&r.to_string(), &settings.default_registry())?;
    let image = match local {
        Some(i) => i,
        None => {
            let client = Client::for_registry(&r.registry, settings)?;
            let progress = Progress::new(quiet);
            let handle = tokio::runtime::Handle::current();
            let result = handle.block_on(pull::pull(&client, store, &r, platform, &progress));
            progress.done();
            result.with_context(|| format!("pulling base image {}", r.familiar()))?;
            store.get(&r.to_string(), &settings.default_registry())?
        }
    };
    let id = image.id().to_string();
    Ok((State::from_image(&image)?, id))
}
