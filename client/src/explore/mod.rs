//! Exploring images: rreg-server's browsing API (`/api/v1/repositories/{name}/-/…`) when the
//! registry is an rreg-server, and Dive's layer analysis (`rreg_oci::layers`) of local images or of
//! layers streamed from any registry. `api` answers `None` when the registry does not speak the
//! browsing API, so callers fall back to the distribution API.

use anyhow::Context as _;
use futures::StreamExt as _;
use rreg_oci::layers::{self, Change, ChangeKind, FileKind, ImageAnalysis, LayerFiles, LayerReport};
use rreg_oci::Descriptor;
use serde_json::Value;

pub mod compare;

use crate::credentials::DockerConfig;
use crate::registry::auth::Scope;
use crate::registry::Client;

/// Reads the list `GET /api/v1/<path>` of the registry with the stored credentials (Basic),
/// following `Link` pages and joining their `items`. `None` when the registry does not answer it
/// as rreg-server does (any other registry, or an error: the caller falls back); `Some(Err)` when
/// it answers a list that is not of `T` (a client and server that disagree on the contract).
pub async fn api<T: serde::de::DeserializeOwned>(client: &Client, path: &str) -> Option<anyhow::Result<Vec<T>>> {
    let creds = DockerConfig::load().ok()?.credentials(&client.registry).ok()?;
    let http = reqwest::Client::builder()
        .user_agent(concat!("rreg/", env!("CARGO_PKG_VERSION")))
        .build()
        .ok()?;
    let mut url = client.url(&format!("api/v1/{path}")).ok()?;
    let mut items: Vec<T> = Vec::new();
    loop {
        let mut rb = http.get(url.clone());
        if let Some(c) = creds.as_ref().filter(|c| !c.password.is_empty()) {
            rb = rb.basic_auth(&c.username, Some(&c.password));
        }
        let resp = rb.send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let next = resp
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.strip_prefix('<'))
            .and_then(|l| l.split_once('>'))
            .map(|(u, _)| u.to_owned());
        let v: Value = resp.json().await.ok()?;
        // Only a list answer is rreg-server's; what it holds must then be read as `T`.
        v.get("items")?.as_array()?;
        match serde_json::from_value::<rreg_oci::api::Items<T>>(v) {
            Ok(page) => items.extend(page.items),
            Err(e) => {
                return Some(Err(anyhow::anyhow!(
                    "the registry's answer to /api/v1/{path} is not readable: {e}"
                )))
            }
        }
        match next {
            Some(n) => url = client.resolve(&n).ok()?,
            None => break,
        }
    }
    Some(Ok(items))
}

/// Reads one `GET /api/v1/<path>` answer of the registry with the stored credentials (Basic).
/// `None` when the registry does not answer it as rreg-server does; `Some(Err)` when it does, with
/// an error (`404` for what the caller may not read).
pub async fn api_get(client: &Client, path: &str) -> Option<anyhow::Result<Value>> {
    let creds = DockerConfig::load().ok()?.credentials(&client.registry).ok()?;
    let http = reqwest::Client::builder()
        .user_agent(concat!("rreg/", env!("CARGO_PKG_VERSION")))
        .build()
        .ok()?;
    let url = client.url(&format!("api/v1/{path}")).ok()?;
    let mut rb = http.get(url);
    if let Some(c) = creds.as_ref().filter(|c| !c.password.is_empty()) {
        rb = rb.basic_auth(&c.username, Some(&c.password));
    }
    let resp = rb.send().await.ok()?;
    let status = resp.status();
    let v: Value = resp.json().await.ok()?;
    if status.is_success() {
        return Some(Ok(v));
    }
    // rreg-server's JSON errors: {"error": {"code", "message"}}; anything else is not rreg-server.
    let message = v.get("error")?.get("message")?.as_str()?.to_owned();
    Some(Err(anyhow::anyhow!("{message} ({status})")))
}

/// Opens a layer from its decompressed bytes (`gzip` per the media type) and lists its entries.
pub fn read_layer(r: impl std::io::Read, media_type: &str) -> anyhow::Result<LayerFiles> {
    let reader: Box<dyn std::io::Read> = if media_type.contains("gzip") {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else if media_type.contains("zstd") {
        anyhow::bail!("zstd layers are not supported");
    } else {
        Box::new(r)
    };
    layers::read_tar(reader).context("reading a layer")
}

/// Streams layer `desc` of `repo` from the registry through the tar reader (nothing is stored).
pub async fn remote_layer(client: &Client, repo: &str, desc: &Descriptor) -> anyhow::Result<LayerFiles> {
    let digest = &desc.digest;
    let url = client.url(&format!("v2/{repo}/blobs/{digest}"))?;
    let what = format!("blob {digest} of {repo}");
    let resp = client
        .send(&[Scope::pull(repo)], &what, |h| Ok(h.get(url.clone())))
        .await?;
    if !resp.status().is_success() {
        return Err(client.fail(resp, &what).await);
    }
    let stream = resp.bytes_stream().map(|r| r.map_err(std::io::Error::other));
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let media_type = desc.media_type.clone();
    tokio::task::spawn_blocking(move || read_layer(std::io::BufReader::with_capacity(128 << 10, reader), &media_type))
        .await?
}

/// One analysed image: its layers (digest, instruction) and Dive's numbers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explored {
    /// The image's name as given.
    pub image: String,
    /// `os/arch[/variant]`, when known.
    pub platform: Option<String>,
    /// Per layer, base first: digest and the instruction that made it.
    pub layers: Vec<(String, String)>,
    /// The analysis.
    pub analysis: ImageAnalysis,
}

/// Reads the browsing API's answer for one image (`…/-/layers/{ref}`) back into the analysis model.
pub fn from_api(image: &str, item: rreg_oci::api::ImageLayers) -> Explored {
    let mut reports = Vec::new();
    let mut layers = Vec::new();
    for l in item.layers {
        reports.push(LayerReport {
            index: l.index,
            size: l.files_size,
            file_count: l.file_count,
            added: l.added.count,
            changed: l.changed.count,
            removed: l.removed.count,
            added_bytes: l.added.bytes,
            changed_bytes: l.changed.bytes,
            removed_bytes: l.removed.bytes,
            changes: l.changes,
        });
        layers.push((l.digest, l.created_by));
    }
    Explored {
        image: image.to_owned(),
        platform: item.platform.map(|p| p.to_string()),
        layers,
        analysis: ImageAnalysis {
            size_bytes: item.size_bytes,
            user_size_bytes: item.user_size_bytes,
            wasted_bytes: item.wasted_bytes,
            wasted_user_percent: item.wasted_user_percent,
            efficiency: item.efficiency,
            layers: reports,
            inefficiencies: item.inefficiencies,
        },
    }
}

/// A CI threshold check, as `dive --ci` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rule {
    /// Dive's rule name.
    pub name: &'static str,
    /// `PASS`, `FAIL` or `SKIP` (disabled).
    pub status: &'static str,
    /// Why it failed.
    pub message: String,
}

/// Dive's CI thresholds; `None` disables a rule.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Fail when the efficiency is below this (a ratio, Dive's default 0.9).
    pub lowest_efficiency: Option<f64>,
    /// Fail when more bytes than this are wasted (disabled by default).
    pub highest_wasted_bytes: Option<u64>,
    /// Fail when wasted / user bytes is above this (a ratio, Dive's default 0.1).
    pub highest_user_wasted_percent: Option<f64>,
}

/// Evaluates the rules against an analysis.
pub fn evaluate(a: &ImageAnalysis, t: &Thresholds) -> Vec<Rule> {
    let mut out = Vec::new();
    let mut rule = |name: &'static str, limit: Option<String>, fail: Option<bool>, message: String| {
        out.push(Rule {
            name,
            status: match (limit, fail) {
                (None, _) => "SKIP",
                (Some(_), Some(true)) => "FAIL",
                _ => "PASS",
            },
            message,
        })
    };
    rule(
        "lowestEfficiency",
        t.lowest_efficiency.map(|v| v.to_string()),
        t.lowest_efficiency.map(|v| a.efficiency < v),
        format!(
            "image efficiency is too low (efficiency={} < threshold={})",
            a.efficiency,
            t.lowest_efficiency.unwrap_or(0.0)
        ),
    );
    rule(
        "highestWastedBytes",
        t.highest_wasted_bytes.map(|v| v.to_string()),
        t.highest_wasted_bytes.map(|v| a.wasted_bytes > v),
        format!(
            "too many bytes wasted (wasted-bytes={} > threshold={})",
            a.wasted_bytes,
            t.highest_wasted_bytes.unwrap_or(0)
        ),
    );
    rule(
        "highestUserWastedPercent",
        t.highest_user_wasted_percent.map(|v| v.to_string()),
        t.highest_user_wasted_percent.map(|v| a.wasted_user_percent > v),
        format!(
            "too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes={} > threshold={})",
            a.wasted_user_percent,
            t.highest_user_wasted_percent.unwrap_or(0.0)
        ),
    );
    out
}

/// Parses a byte count as Dive accepts it: `1000`, `20MB`, `1.5 GiB`, `disabled`.
pub fn parse_bytes(s: &str) -> Option<Option<u64>> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("disabled") {
        return Some(None);
    }
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: f64 = n.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1048576.0,
        "gib" => 1073741824.0,
        _ => return None,
    };
    Some(Some((n * mult) as u64))
}

/// The letter of a change in listings: `A`, `M`, `D`.
pub fn change_letter(c: ChangeKind) -> &'static str {
    match c {
        ChangeKind::Added => "A",
        ChangeKind::Changed => "M",
        ChangeKind::Removed => "D",
    }
}

/// Whether an entry is a directory (listings leave unchanged parents out).
pub fn is_dir(c: &Change) -> bool {
    c.kind == FileKind::Dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_rules() {
        assert_eq!(parse_bytes("20MB"), Some(Some(20_000_000)));
        assert_eq!(parse_bytes("1 KiB"), Some(Some(1024)));
        assert_eq!(parse_bytes("disabled"), Some(None));
        assert_eq!(parse_bytes("x"), None);
        let a = layers::analyze(&[]);
        let r = evaluate(
            &a,
            &Thresholds {
                lowest_efficiency: Some(0.9),
                highest_wasted_bytes: None,
                highest_user_wasted_percent: Some(0.1),
            },
        );
        assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), ["PASS", "SKIP", "PASS"]);
    }
}
