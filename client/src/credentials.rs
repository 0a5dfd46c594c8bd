//! Registry credentials in Docker's `config.json` (`$DOCKER_CONFIG/config.json`, default
//! `~/.docker/config.json`): `auths` entries, `credsStore` and per-registry `credHelpers`, the latter
//! two through the `docker-credential-<name>` helper protocol (`get`/`store`/`erase` on stdin/stdout).
//! Unknown keys in the file are preserved, so `docker login` and `rreg login` share one file.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};
use base64::Engine as _;
use rreg_oci::image_ref::{normalise_host, DOCKER_HUB};
use serde_json::{json, Map, Value};

/// The key Docker files Docker Hub credentials under.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A username with a password (or personal access token), or an identity (refresh) token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The account name.
    pub username: String,
    /// The password or access token.
    pub password: String,
    /// An OAuth2 refresh token given by the registry's token service, if any.
    pub identity_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Docker's client configuration file, kept as JSON so unknown keys survive a rewrite.
pub struct DockerConfig {
    path: PathBuf,
    raw: Map<String, Value>,
}

/// The key a registry's credentials are filed under.
pub fn config_key(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_KEY.to_owned()
    } else {
        registry.to_owned()
    }
}

/// The folder of `config.json`: `DOCKER_CONFIG`, else `~/.docker`.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither DOCKER_CONFIG nor HOME is set")?;
    Ok(PathBuf::from(home).join(".docker"))
}

impl DockerConfig {
    /// Reads `config.json` (an empty configuration when there is none).
    pub fn load() -> anyhow::Result<DockerConfig> {
        let path = config_dir()?.join("config.json");
        let raw = match std::fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(DockerConfig { path, raw })
    }

    /// The credential helper for `registry`, if one is configured.
    fn helper(&self, registry: &str) -> Option<String> {
        let key = config_key(registry);
        self.raw
            .get("credHelpers")
            .and_then(|h| h.get(&key).or_else(|| h.get(registry)))
            .and_then(Value::as_str)
            .or_else(|| self.raw.get("credsStore").and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// The `auths` entry for `registry`, matching keys written with a scheme or path too.
    fn auths_entry(&self, registry: &str) -> Option<&Map<String, Value>> {
        let auths = self.raw.get("auths")?.as_object()?;
        let key = config_key(registry);
        auths
            .get(&key)
            .or_else(|| {
                auths
                    .iter()
                    .find(|(k, _)| normalise_host(k) == registry)
                    .map(|(_, v)| v)
            })
            .and_then(Value::as_object)
    }

    /// The credentials stored for `registry`, if any.
    pub fn credentials(&self, registry: &str) -> anyhow::Result<Option<Credentials>> {
        if let Some(helper) = self.helper(registry) {
            return helper_get(&helper, &config_key(registry));
        }
        let Some(entry) = self.auths_entry(registry) else {
            return Ok(None);
        };
        let identity_token = entry
            .get("identitytoken")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let (username, password) = match entry.get("auth").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            Some(auth) => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .with_context(|| {
                        format!("the auth entry for {registry} in {} is not base64", self.path.display())
                    })?;
                let s = String::from_utf8(decoded).context("the auth entry is not UTF-8")?;
                let (u, p) = s
                    .split_once(':')
                    .with_context(|| format!("the auth entry for {registry} has no user:password"))?;
                (u.to_owned(), p.to_owned())
            }
            None => {
                let u = entry.get("username").and_then(Value::as_str).unwrap_or_default();
                let p = entry.get("password").and_then(Value::as_str).unwrap_or_default();
                (u.to_owned(), p.to_owned())
            }
        };
        if username.is_empty() && identity_token.is_none() {
            return Ok(None);
        }
        Ok(Some(Credentials {
            username,
            password,
            identity_token,
        }))
    }

    /// Stores credentials for `registry` (in the helper when one is configured).
    pub fn store(&mut self, registry: &str, creds: &Credentials) -> anyhow::Result<()> {
        let key = config_key(registry);
        let helper = self.helper(registry);
        let auths = self
            .raw
            .entry("auths")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .context("`auths` in config.json is not an object")?;
        if let Some(helper) = helper {
            helper_store(&helper, &key, creds)?;
            auths.insert(key, json!({}));
        } else {
            let auth =
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", creds.username, creds.password));
            let mut entry = Map::new();
            entry.insert("auth".into(), Value::String(auth));
            if let Some(t) = &creds.identity_token {
                entry.insert("identitytoken".into(), Value::String(t.clone()));
            }
            auths.insert(key, Value::Object(entry));
        }
        self.save()
    }

    /// Removes the credentials for `registry`; false when there were none.
    pub fn erase(&mut self, registry: &str) -> anyhow::Result<bool> {
        let key = config_key(registry);
        let mut found = false;
        if let Some(helper) = self.helper(registry) {
            found |= helper_erase(&helper, &key)?;
        }
        if let Some(auths) = self.raw.get_mut("auths").and_then(Value::as_object_mut) {
            let keys: Vec<String> = auths
                .keys()
                .filter(|k| **k == key || normalise_host(k) == registry)
                .cloned()
                .collect();
            for k in keys {
                auths.remove(&k);
                found = true;
            }
        }
        self.save()?;
        Ok(found)
    }

    fn save(&self) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut bytes = serde_json::to_vec_pretty(&self.raw)?;
        bytes.push(b'\n');
        crate::store::write_atomic(&self.path, &bytes)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(())
    }

    /// Where the file lives.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

fn run_helper(helper: &str, action: &str, input: &[u8]) -> anyhow::Result<(bool, String)> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running credential helper {program}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .with_context(|| format!("writing to {program}"))?;
    }
    let out = child.wait_with_output().with_context(|| format!("running {program}"))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let text = if text.is_empty() {
        String::from_utf8_lossy(&out.stderr).trim().to_owned()
    } else {
        text
    };
    Ok((out.status.success(), text))
}

fn helper_get(helper: &str, key: &str) -> anyhow::Result<Option<Credentials>> {
    let (ok, text) = run_helper(helper, "get", key.as_bytes())?;
    if !ok {
        if text.contains("credentials not found") {
            return Ok(None);
        }
        bail!("credential helper docker-credential-{helper} failed: {text}");
    }
    let v: Value = serde_json::from_str(&text).context("credential helper output is not JSON")?;
    let username = v.get("Username").and_then(Value::as_str).unwrap_or_default().to_owned();
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or_default().to_owned();
    if username == "<token>" {
        return Ok(Some(Credentials {
            username: String::new(),
            password: String::new(),
            identity_token: Some(secret),
        }));
    }
    Ok(Some(Credentials {
        username,
        password: secret,
        identity_token: None,
    }))
}

fn helper_store(helper: &str, key: &str, creds: &Credentials) -> anyhow::Result<()> {
    let (username, secret) = match &creds.identity_token {
        Some(t) => ("<token>", t.as_str()),
        None => (creds.username.as_str(), creds.password.as_str()),
    };
    let input = json!({"ServerURL": key, "Username": username, "Secret": secret}).to_string();
    let (ok, text) = run_helper(helper, "store", input.as_bytes())?;
    if !ok {
        bail!("credential helper docker-credential-{helper} failed to store: {text}");
    }
    Ok(())
}

fn helper_erase(helper: &str, key: &str) -> anyhow::Result<bool> {
    let (ok, text) = run_helper(helper, "erase", key.as_bytes())?;
    if !ok {
        if text.contains("credentials not found") {
            return Ok(false);
        }
        bail!("credential helper docker-credential-{helper} failed to erase: {text}");
    }
    Ok(true)
}
