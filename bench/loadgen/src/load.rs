//! `rreg-bench load`: dozens of virtual clients at once, each looping — push a small random image
//! (HEAD, then a monolithic or chunked upload per blob, the config, the manifest under a tag), pull
//! it back (manifest by tag and every blob, SHA-256 checked), and now and then pull another
//! client's image — for a bounded number of iterations and a bounded time. Prints one JSON summary.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use crate::client::{AuthMode, Client};
use crate::image::{manifest_blobs, Blob, Image, Step};
use crate::rng::Rng;
use crate::stats::Stats;

/// What `load` does.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Registry base URL.
    #[arg(long)]
    pub url: String,
    /// Virtual clients running at once.
    #[arg(long, default_value_t = 48)]
    pub clients: usize,
    /// Iterations (push + pull) per client.
    #[arg(long, default_value_t = 8)]
    pub iterations: usize,
    /// No client starts an iteration after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub max_secs: u64,
    /// Seconds any one request may take before it counts as an error.
    #[arg(long, default_value_t = 120)]
    pub timeout_secs: u64,
    #[arg(long, value_enum, default_value_t = AuthMode::None)]
    pub auth: AuthMode,
    #[arg(long, default_value = "")]
    pub user: String,
    #[arg(long, default_value = "")]
    pub password: String,
    /// Repositories are NAMESPACE/cNN, one per client.
    #[arg(long, default_value = "load")]
    pub namespace: String,
    /// Layers per image, at least.
    #[arg(long, default_value_t = 2)]
    pub min_layers: u64,
    /// Layers per image, at most.
    #[arg(long, default_value_t = 4)]
    pub max_layers: u64,
    /// Smallest layer, bytes.
    #[arg(long, default_value_t = 1024)]
    pub min_blob: u64,
    /// Largest layer, bytes (sizes are log-uniform between the two).
    #[arg(long, default_value_t = 4 << 20)]
    pub max_blob: u64,
    /// PATCH size of chunked uploads, bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub chunk: usize,
    /// Share of layers uploaded in chunks (the others: monolithic POST + PUT).
    #[arg(long, default_value_t = 0.5)]
    pub chunked_share: f64,
    /// Chance, per iteration, of also pulling another client's image.
    #[arg(long, default_value_t = 0.3)]
    pub other_pull: f64,
    /// Seed of the random choices and contents.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// An image some client pushed, for others to pull.
#[derive(Debug, Clone)]
struct Pushed {
    client: usize,
    repo: String,
    tag: String,
    digest: String,
}

type Board = Arc<Mutex<Vec<Pushed>>>;

/// Runs the load; the JSON summary.
pub async fn run(args: LoadArgs) -> Result<serde_json::Value, String> {
    if args.min_layers == 0 || args.min_layers > args.max_layers || args.min_blob == 0 || args.min_blob > args.max_blob
    {
        return Err("want 0 < min-layers <= max-layers and 0 < min-blob <= max-blob".into());
    }
    let board: Board = Arc::new(Mutex::new(Vec::new()));
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(args.max_secs);
    let args = Arc::new(args);
    let mut tasks = Vec::new();
    for id in 0..args.clients {
        let (args, board) = (args.clone(), board.clone());
        tasks.push(tokio::spawn(async move { client(id, &args, &board, deadline).await }));
    }
    let mut all = Stats::default();
    for t in tasks {
        match t.await {
            Ok(s) => all.merge(s),
            Err(e) => all.error(format!("a client task failed: {e}")),
        }
    }
    let wall = t0.elapsed();
    let cut = wall >= Duration::from_secs(args.max_secs);
    Ok(all.summary(
        wall,
        json!({
            "clients": args.clients, "iterations_per_client": args.iterations, "max_secs": args.max_secs,
            "stopped_by_time": cut, "auth": format!("{:?}", args.auth).to_lowercase(),
            "layers": [args.min_layers, args.max_layers], "blob_bytes": [args.min_blob, args.max_blob],
            "chunk": args.chunk, "chunked_share": args.chunked_share, "other_pull": args.other_pull,
        }),
    ))
}

async fn client(id: usize, args: &LoadArgs, board: &Board, deadline: Instant) -> Stats {
    let mut st = Stats::default();
    let timeout = Duration::from_secs(args.timeout_secs);
    let mut c = match Client::new(&args.url, args.auth, &args.user, &args.password, timeout) {
        Ok(c) => c,
        Err(e) => {
            st.error(e);
            return st;
        }
    };
    if let Err(e) = c.discover(&mut st).await {
        st.error(format!("client {id}: {e}"));
        return st;
    }
    let mut rng = Rng::new(args.seed.wrapping_mul(0x1000_0000_01b3) ^ (id as u64 + 1));
    let repo = format!("{}/c{id:02}", args.namespace);
    for it in 0..args.iterations {
        if Instant::now() >= deadline {
            break;
        }
        match iteration(&mut c, id, it, &repo, args, &mut rng, board, &mut st).await {
            Ok(()) => st.iterations += 1,
            Err(e) => st.error(format!("client {id} iteration {it}: {e}")),
        }
    }
    st
}

#[allow(clippy::too_many_arguments)]
async fn iteration(
    c: &mut Client,
    id: usize,
    it: usize,
    repo: &str,
    args: &LoadArgs,
    rng: &mut Rng,
    board: &Board,
    st: &mut Stats,
) -> Result<(), String> {
    // The image: a few random layers, a config whose history names them, a manifest.
    let n = rng.range(args.min_layers, args.max_layers) as usize;
    let mut layers = Vec::with_capacity(n);
    let mut steps = Vec::with_capacity(n + 1);
    for l in 0..n {
        let size = rng.log_size(args.min_blob, args.max_blob) as usize;
        layers.push(Blob::new(rng.bytes(size)));
        steps.push(Step {
            created_by: format!("RUN client {id} iteration {it} layer {l}: {size} random bytes"),
            empty: false,
        });
    }
    steps.push(Step {
        created_by: format!("CMD [\"client-{id}\"]"),
        empty: true,
    });
    let img = Image::new(layers, &steps);
    let tag = format!("i{it:03}");

    // Push.
    c.login(&format!("repository:{repo}:pull,push"), st).await?;
    for l in &img.layers {
        if !c.blob_exists(repo, &l.digest, st).await? {
            let chunk = (rng.unit() < args.chunked_share).then_some(args.chunk);
            c.upload(repo, &l.digest, &l.data, chunk, st).await?;
        }
    }
    if !c.blob_exists(repo, &img.config.digest, st).await? {
        c.upload(repo, &img.config.digest, &img.config.data, None, st).await?;
    }
    c.put_manifest(repo, &tag, &img.manifest, st).await?;
    st.images_pushed += 1;
    st.bytes_up += img.blob_bytes() + img.manifest.len() as u64;
    let mine = Pushed {
        client: id,
        repo: repo.to_owned(),
        tag,
        digest: img.digest.clone(),
    };
    if let Ok(mut b) = board.lock() {
        b.push(mine.clone());
    }

    // Pull it back, and now and then someone else's.
    c.login(&format!("repository:{repo}:pull"), st).await?;
    pull(c, &mine, st).await?;
    if rng.unit() < args.other_pull {
        let other = board.lock().ok().and_then(|b| {
            let theirs: Vec<&Pushed> = b.iter().filter(|p| p.client != id).collect();
            (!theirs.is_empty()).then(|| theirs[rng.range(0, theirs.len() as u64 - 1) as usize].clone())
        });
        if let Some(o) = other {
            c.login(&format!("repository:{}:pull", o.repo), st).await?;
            pull(c, &o, st).await?;
        }
    }
    Ok(())
}

/// Pulls an image by tag: the manifest (its digest checked), then every blob it lists (each
/// checked).
async fn pull(c: &mut Client, p: &Pushed, st: &mut Stats) -> Result<(), String> {
    let m: Bytes = c.get_manifest(&p.repo, &p.tag, &p.digest, st).await?;
    let mut n = m.len() as u64;
    for (d, size) in manifest_blobs(&m)? {
        n += c.get_blob(&p.repo, &d, size, st).await?;
    }
    st.images_pulled += 1;
    st.bytes_down += n;
    Ok(())
}
