//! Containers for `rreg run` and `rreg commit`: a folder `containers/<id>` with the job's upper
//! directory and a `container.json` naming the image it was made from. The command follows
//! Docker's rules: `--entrypoint` replaces ENTRYPOINT and drops the image's CMD; arguments after
//! the image replace CMD; ENV, WORKDIR and USER come from the image unless overridden.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use rreg_oci::{Descriptor, Digest, ImageRef};
use serde::{Deserialize, Serialize};

use super::{Action, Network, Output, Process, Spec};
use crate::build::image::{self, State};
use crate::build::layer;
use crate::settings::Settings;
use crate::store::Store;

/// What `rreg run` was asked.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The image.
    pub image: String,
    /// The container's name.
    pub name: Option<String>,
    /// Extra `K=V` environment.
    pub env: Vec<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `--entrypoint`.
    pub entrypoint: Option<String>,
    /// Arguments after the image.
    pub command: Vec<String>,
    /// Network.
    pub network: Network,
    /// `--rm`.
    pub remove: bool,
    /// `-i`.
    pub stdin: bool,
    /// `--cidfile`.
    pub cidfile: Option<PathBuf>,
}

/// What `rreg commit` was asked.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// Container name or ID prefix.
    pub container: String,
    /// Name for the new image.
    pub name: Option<ImageRef>,
    /// `-m`.
    pub message: Option<String>,
    /// `-a`.
    pub author: Option<String>,
}

/// A container's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// 64 hex digits.
    pub id: String,
    /// Name, if given.
    pub name: Option<String>,
    /// The image's manifest.
    pub image: Descriptor,
    /// The image as named on the command line.
    pub image_name: String,
    /// The command that ran.
    pub argv: Vec<String>,
}

fn containers_dir(store: &Store) -> PathBuf {
    store.root().join("containers")
}

fn new_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!("{}-{nanos}-{:?}", std::process::id(), std::thread::current().id());
    Digest::sha256(seed.as_bytes()).hex().to_owned()
}

/// The command a container runs, by Docker's ENTRYPOINT/CMD rules.
pub fn command(state: &State, entrypoint: Option<&str>, args: &[String]) -> anyhow::Result<Vec<String>> {
    let (ep, cmd) = match entrypoint {
        Some("") => (Vec::new(), args.to_vec()),
        Some(e) => (vec![e.to_owned()], args.to_vec()),
        None => (
            state.get_list("Entrypoint").unwrap_or_default(),
            if args.is_empty() {
                state.get_list("Cmd").unwrap_or_default()
            } else {
                args.to_vec()
            },
        ),
    };
    let argv: Vec<String> = ep.into_iter().chain(cmd).collect();
    if argv.is_empty() {
        bail!("no command specified");
    }
    Ok(argv)
}

/// Runs a container and returns its exit code.
pub fn run(store: &Store, settings: &Settings, opts: &RunOptions) -> anyhow::Result<i32> {
    let (state, _) = image::base(store, settings, &opts.image, None, false)?;
    let r = crate::commands::parse_ref(&opts.image, settings)?;
    let img = store.get(&r.to_string(), &settings.default_registry())?;
    let dir = containers_dir(store);
    std::fs::create_dir_all(&dir)?;
    if let Some(n) = &opts.name {
        if find(store, n).is_ok() {
            bail!("the container name {n:?} is already in use");
        }
    }
    let id = new_id();
    let cdir = dir.join(&id);
    std::fs::create_dir_all(&cdir)?;
    let argv = command(&state, opts.entrypoint.as_deref(), &opts.command)?;
    let record = Record {
        id: id.clone(),
        name: opts.name.clone(),
        image: img.descriptor.clone(),
        image_name: opts.image.clone(),
        argv: argv.clone(),
    };
    std::fs::write(cdir.join("container.json"), serde_json::to_vec_pretty(&record)?)?;
    if let Some(f) = &opts.cidfile {
        std::fs::write(f, &id).with_context(|| format!("writing {}", f.display()))?;
    }
    let mut env = state.env();
    for e in &opts.env {
        let k = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        env.retain(|x| x.split_once('=').map_or(x.as_str(), |(xk, _)| xk) != k);
        env.push(e.clone());
    }
    crate::build::executor::prepare_layers_dir(store)?;
    let mut lowers = vec!["init".to_owned()];
    for l in state.layers.iter().rev() {
        layer::extract(store, l)?;
        lowers.push(l.diff_id.hex().to_owned());
    }
    let hostname = id[..12].to_owned();
    let hosts = cdir.join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"),
    )?;
    let resolv = if opts.network == Network::Host {
        let p = cdir.join("resolv.conf");
        std::fs::write(&p, std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())?;
        Some(p)
    } else {
        None
    };
    let spec = Spec {
        layers_dir: layer::layers_dir(store),
        lowers,
        upper: cdir.join("upper"),
        work: cdir.join("work"),
        merged: cdir.join("merged"),
        network: opts.network,
        hosts: Some(hosts),
        resolv,
        sources: Vec::new(),
        action: Action::Run(Process {
            argv,
            env,
            cwd: opts.workdir.clone().unwrap_or_else(|| {
                Some(state.get_str("WorkingDir"))
                    .filter(|w| !w.is_empty())
                    .unwrap_or("/".into())
            }),
            user: opts.user.clone().unwrap_or_else(|| state.get_str("User")),
            hostname,
            stdin: opts.stdin,
        }),
    };
    let exit = super::run(&spec, &cdir, Output::Inherit)?;
    if opts.remove {
        let _ = std::fs::remove_dir_all(&cdir);
    }
    Ok(exit.0)
}

/// Finds a container by name or ID prefix.
pub fn find(store: &Store, key: &str) -> anyhow::Result<(PathBuf, Record)> {
    let dir = containers_dir(store);
    let mut found = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let Ok(bytes) = std::fs::read(e.path().join("container.json")) else {
                continue;
            };
            let Ok(r) = serde_json::from_slice::<Record>(&bytes) else {
                continue;
            };
            if r.name.as_deref() == Some(key) {
                return Ok((e.path(), r));
            }
            if key.len() >= 4 && r.id.starts_with(key) {
                found.push((e.path(), r));
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("No such container: {key}"),
        _ => bail!("container ID prefix {key} is ambiguous"),
    }
}

/// Commits a container's changes as a new image; returns the image ID.
pub fn commit(store: &Store, opts: &CommitOptions) -> anyhow::Result<Digest> {
    let (cdir, record) = find(store, &opts.container)?;
    let img = store.load_image(None, record.image.clone())?;
    let mut state = State::from_image(&img)?;
    let l = layer::write(store, &cdir.join("upper"))?;
    state.layers.push(l);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    state.add_history(now, record.argv.join(" "), false);
    if let Some(h) = state.history.last_mut() {
        h.comment = opts.message.clone();
        h.author = opts.author.clone();
    }
    if opts.author.is_some() {
        state.author = opts.author.clone();
    }
    let (descriptor, id) = state.write(store, now)?;
    let _w = store.writing()?;
    match &opts.name {
        Some(n) => store.set_name(n, &descriptor, None)?,
        None => store.update_index(|m| {
            if !m.iter().any(|e| e.digest == descriptor.digest) {
                m.push(descriptor.clone());
            }
        })?,
    }
    Ok(id)
}
