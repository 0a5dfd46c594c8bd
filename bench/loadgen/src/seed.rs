//! `rreg-bench seed`: pushes one image whose config history has many layers (each a real one-file
//! tar), then PUTs its manifest under many tags at once (`t00000`, `t00001`, …). Prints one JSON
//! line with the manifest digest and the tag rate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::client::{AuthMode, Client};
use crate::image::{tar_one_file, Blob, Image, Step};
use crate::rng::Rng;
use crate::stats::Stats;

/// What `seed` does.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Registry base URL.
    #[arg(long)]
    pub url: String,
    /// Repository to fill.
    #[arg(long)]
    pub repo: String,
    /// Tags to PUT.
    #[arg(long, default_value_t = 10_000)]
    pub tags: usize,
    /// Layers of the image (each with its history entry).
    #[arg(long, default_value_t = 50)]
    pub layers: usize,
    /// PUTs in flight at once (one connection each).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    #[arg(long, value_enum, default_value_t = AuthMode::None)]
    pub auth: AuthMode,
    #[arg(long, default_value = "")]
    pub user: String,
    #[arg(long, default_value = "")]
    pub password: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// The image: `n` layers of one random file each (1–256 KiB), with a Dockerfile-like history
/// (a layer per `RUN`/`COPY`, and an `ENV` without a layer every tenth step, `CMD` last).
fn image(n: usize, seed: u64) -> Image {
    let mut rng = Rng::new(seed);
    let mut layers = Vec::with_capacity(n);
    let mut steps = Vec::with_capacity(n + n / 10 + 1);
    for i in 0..n {
        let size = rng.log_size(1024, 256 << 10) as usize;
        layers.push(Blob::new(tar_one_file(
            &format!("opt/step{i:02}/data.bin"),
            &rng.bytes(size),
        )));
        let created_by = if i % 3 == 0 {
            format!("COPY dir:{:016x} in /opt/step{i:02}/ # buildkit", rng.next_u64())
        } else {
            format!(
                "RUN /bin/sh -c set -eux; apt-get update; apt-get install -y --no-install-recommends pkg-{i:02} \
                 && make -C /opt/step{i:02} install && rm -rf /var/lib/apt/lists/* # buildkit"
            )
        };
        steps.push(Step {
            created_by,
            empty: false,
        });
        if i % 10 == 9 {
            steps.push(Step {
                created_by: format!("ENV STEP_{i:02}=done"),
                empty: true,
            });
        }
    }
    steps.push(Step {
        created_by: "CMD [\"/opt/step00/data.bin\"]".into(),
        empty: true,
    });
    Image::new(layers, &steps)
}

/// Pushes the image and the tags; the JSON summary.
pub async fn run(args: SeedArgs) -> Result<serde_json::Value, String> {
    let timeout = Duration::from_secs(60);
    let img = image(args.layers, args.seed);
    let mut st = Stats::default();
    let mut c = Client::new(&args.url, args.auth, &args.user, &args.password, timeout)?;
    c.discover(&mut st).await?;
    let scope = format!("repository:{}:pull,push", args.repo);
    c.login(&scope, &mut st).await?;
    for b in img.layers.iter().chain(std::iter::once(&img.config)) {
        if !c.blob_exists(&args.repo, &b.digest, &mut st).await? {
            c.upload(&args.repo, &b.digest, &b.data, None, &mut st).await?;
        }
    }
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (args, next, manifest, scope) = (args.clone(), next.clone(), img.manifest.clone(), scope.clone());
        tasks.push(tokio::spawn(async move {
            let mut st = Stats::default();
            let mut c = Client::new(&args.url, args.auth, &args.user, &args.password, timeout)?;
            c.discover(&mut st).await?;
            c.login(&scope, &mut st).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= args.tags {
                    return Ok::<_, String>(());
                }
                c.put_manifest(&args.repo, &format!("t{i:05}"), &manifest, &mut st)
                    .await?;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| format!("a tag task failed: {e}"))??;
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok(json!({
        "repo": args.repo, "tags": args.tags, "seconds": secs, "tags_per_s": args.tags as f64 / secs,
        "manifest_digest": img.digest, "config_digest": img.config.digest, "layers": img.layers.len(),
        "blob_bytes": img.blob_bytes(),
    }))
}
