//! `rreg layers IMAGE`: what each layer adds, changes and deletes, with the image's wasted bytes,
//! user-wasted share and efficiency as Dive computes them; `--ci` fails when a threshold is crossed.
//! Local images are read from the store; `--remote` (or an image not held) asks rreg-server's
//! browsing API, or streams the layers from any other registry.

use anyhow::Context as _;
use rreg_oci::layers::{self, LayerFiles};
use rreg_oci::Platform;

use super::{client_for, parse_ref};
use crate::explore::{self, Explored, Thresholds};
use crate::output;
use crate::registry::remote::remote_image;
use crate::settings::Settings;
use crate::store::Store;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables for people.
    Table,
    /// One JSON document.
    Json,
}

/// Show what each layer of an image changes, and its wasted space.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image (name, ID or digest).
    pub image: String,
    /// Read the image from its registry even when it is held locally.
    #[arg(long)]
    pub remote: bool,
    /// Platform to pick from a multi-platform image.
    #[arg(long)]
    pub platform: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Check the thresholds below and exit 1 when one is crossed (Dive's CI mode).
    #[arg(long)]
    pub ci: bool,
    /// With --ci: the lowest efficiency allowed (a ratio, or `disabled`).
    #[arg(long, default_value = "0.9")]
    pub lowest_efficiency: String,
    /// With --ci: the most wasted bytes allowed (`20MB`, `1GiB`, or `disabled`).
    #[arg(long, default_value = "disabled")]
    pub highest_wasted_bytes: String,
    /// With --ci: the highest share of wasted bytes among the bytes the non-base layers add (a
    /// ratio: 0.1 is 10 %, or `disabled`).
    #[arg(long, default_value = "0.1")]
    pub highest_user_wasted_percent: String,
    /// Files listed per layer in the table (0 = only the counts).
    #[arg(long, default_value = "20")]
    pub max_files: usize,
}

fn ratio(s: &str, what: &str) -> anyhow::Result<Option<f64>> {
    if s.eq_ignore_ascii_case("disabled") {
        return Ok(None);
    }
    s.trim()
        .parse::<f64>()
        .map(Some)
        .with_context(|| format!("--{what} must be a ratio or `disabled`, not {s:?}"))
}

/// Runs the command; with `--ci`, a crossed threshold is an error (exit status 1).
pub async fn run(args: Args) -> anyhow::Result<()> {
    let thresholds = Thresholds {
        lowest_efficiency: ratio(&args.lowest_efficiency, "lowest-efficiency")?,
        highest_wasted_bytes: explore::parse_bytes(&args.highest_wasted_bytes).with_context(|| {
            format!(
                "--highest-wasted-bytes must be a size or `disabled`, not {:?}",
                args.highest_wasted_bytes
            )
        })?,
        highest_user_wasted_percent: ratio(&args.highest_user_wasted_percent, "highest-user-wasted-percent")?,
    };
    let platform = match &args.platform {
        Some(p) => Some(Platform::parse(p).with_context(|| format!("invalid platform {p:?}"))?),
        None => None,
    };
    let explored = explore_image(&args, platform.as_ref()).await?;
    let rules = args.ci.then(|| explore::evaluate(&explored.analysis, &thresholds));
    let passed = rules.as_ref().is_none_or(|r| r.iter().all(|r| r.status != "FAIL"));
    let text = match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&explored)?;
            if let Some(r) = &rules {
                v["ci"] = serde_json::json!({ "pass": passed, "rules": r });
            }
            format!("{}\n", serde_json::to_string_pretty(&v)?)
        }
        Format::Table => table(&explored, rules.as_deref(), args.max_files),
    };
    use std::io::Write as _;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    if !passed {
        let failed: Vec<&str> = rules
            .iter()
            .flatten()
            .filter(|r| r.status == "FAIL")
            .map(|r| r.name)
            .collect();
        anyhow::bail!("{}: thresholds crossed: {}", args.image, failed.join(", "));
    }
    Ok(())
}

async fn explore_image(args: &Args, platform: Option<&Platform>) -> anyhow::Result<Explored> {
    let settings = Settings::load()?;
    let store = Store::open()?;
    let local = if args.remote {
        None
    } else {
        store.find(&args.image, &settings.default_registry())?
    };
    if let Some(img) = local {
        let mut files = Vec::new();
        for l in &img.manifest.layers {
            let path = store.blob_path(&l.digest);
            let f = std::fs::File::open(&path)
                .with_context(|| format!("layer {} is missing from the local store", l.digest))?;
            files.push(explore::read_layer(
                std::io::BufReader::with_capacity(128 << 10, f),
                &l.media_type,
            )?);
        }
        return Ok(assemble(&args.image, &img.config, &img.manifest.layers, &files));
    }
    let r = parse_ref(&args.image, &settings)?;
    let client = client_for(&r, &settings)?;
    let repo = r.repository.as_str();
    let reference = r.reference().to_string();
    let mut path = format!("repositories/{repo}/-/layers/{reference}?max_changes=1000000");
    let want = platform.cloned().unwrap_or_else(Platform::host);
    path.push_str(&format!("&platform={}", want));
    if let Some(items) = explore::api::<rreg_oci::api::ImageLayers>(&client, &path)
        .await
        .transpose()?
    {
        if let Some(item) = items.into_iter().next() {
            return Ok(explore::from_api(&args.image, item));
        }
    }
    // Any other registry: read the manifest and stream each layer once.
    let img = remote_image(&client, &r, platform).await?;
    let mut files = Vec::new();
    for l in &img.manifest.layers {
        files.push(explore::remote_layer(&client, repo, l).await?);
    }
    Ok(assemble(&args.image, &img.config, &img.manifest.layers, &files))
}

fn assemble(
    image: &str,
    config: &rreg_oci::ImageConfig,
    descs: &[rreg_oci::Descriptor],
    files: &[LayerFiles],
) -> Explored {
    let refs: Vec<&LayerFiles> = files.iter().collect();
    let analysis = layers::analyze(&refs);
    let instructions: Vec<String> = config
        .history
        .iter()
        .filter(|h| !h.is_empty_layer())
        .map(|h| h.created_by.clone().unwrap_or_default())
        .collect();
    let platform = (!config.os.is_empty()).then(|| {
        let mut s = format!("{}/{}", config.os, config.architecture);
        if let Some(v) = &config.variant {
            s.push('/');
            s.push_str(v);
        }
        s
    });
    Explored {
        image: image.to_owned(),
        platform,
        layers: descs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.digest.to_string(), instructions.get(i).cloned().unwrap_or_default()))
            .collect(),
        analysis,
    }
}

fn table(e: &Explored, rules: Option<&[explore::Rule]>, max_files: usize) -> String {
    let a = &e.analysis;
    let mut out = String::new();
    out.push_str(&format!(
        "Image: {}{}\n",
        e.image,
        e.platform.as_ref().map(|p| format!(" ({p})")).unwrap_or_default()
    ));
    out.push_str(&format!(
        "Total size: {}  Efficiency: {:.4} %  Wasted: {} ({} bytes)  User wasted: {:.4} %\n\n",
        output::human_size(a.size_bytes),
        a.efficiency * 100.0,
        output::human_size(a.wasted_bytes),
        a.wasted_bytes,
        a.wasted_user_percent * 100.0
    ));
    let mut cells = vec![vec![
        "LAYER".to_owned(),
        "DIGEST".to_owned(),
        "SIZE".to_owned(),
        "ADDED".to_owned(),
        "CHANGED".to_owned(),
        "REMOVED".to_owned(),
        "CREATED BY".to_owned(),
    ]];
    for l in &a.layers {
        let (digest, created_by) = e.layers.get(l.index).cloned().unwrap_or_default();
        let short = digest
            .split_once(':')
            .map_or(digest.as_str(), |(_, h)| h)
            .chars()
            .take(12)
            .collect::<String>();
        cells.push(vec![
            (l.index + 1).to_string(),
            short,
            output::human_size(l.size),
            format!("{} ({})", l.added, output::human_size(l.added_bytes)),
            format!("{} ({})", l.changed, output::human_size(l.changed_bytes)),
            format!("{} ({})", l.removed, output::human_size(l.removed_bytes)),
            output::ellipsis(&created_by.replace('\t', " "), 60),
        ]);
    }
    out.push_str(&output::table(&cells));
    if max_files > 0 {
        for l in &a.layers {
            let shown: Vec<_> = l.changes.iter().filter(|c| !explore::is_dir(c)).collect();
            if shown.is_empty() {
                continue;
            }
            out.push_str(&format!("\nLayer {}:\n", l.index + 1));
            for c in shown.iter().take(max_files) {
                out.push_str(&format!(
                    "  {}  /{}  {}\n",
                    explore::change_letter(c.change),
                    c.path,
                    output::human_size(c.size)
                ));
            }
            if shown.len() > max_files {
                out.push_str(&format!("  … and {} more\n", shown.len() - max_files));
            }
        }
    }
    if !a.inefficiencies.is_empty() {
        out.push_str("\nInefficient files:\n");
        let mut cells = vec![vec![
            "COUNT".to_owned(),
            "WASTED SPACE".to_owned(),
            "FILE PATH".to_owned(),
        ]];
        for i in a.inefficiencies.iter().take(max_files.max(10)) {
            cells.push(vec![
                i.count.to_string(),
                output::human_size(i.cumulative_size),
                i.path.clone(),
            ]);
        }
        out.push_str(&output::table(&cells));
    }
    if let Some(rules) = rules {
        out.push_str("\nResults:\n");
        for r in rules {
            if r.status == "FAIL" {
                out.push_str(&format!("  FAIL: {}: {}\n", r.name, r.message));
            } else {
                out.push_str(&format!("  {}: {}\n", r.status, r.name));
            }
        }
    }
    out
}
