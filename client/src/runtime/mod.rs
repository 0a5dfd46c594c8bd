//! The container runtime behind RUN, COPY and `rreg run`: a job ([`Spec`]) runs in a re-executed
//! `rreg` (`rreg __runtime SPEC`, single-threaded as `unshare` needs) that enters new mount, UTS,
//! IPC and PID namespaces (and a network namespace for `--network none`), then starts a second
//! process, PID 1 of the new namespace ([`init`]), which mounts an overlayfs of the extracted
//! lower layers with the job's upper directory and either copies files into it (COPY/ADD) or
//! sets up `/proc`, `/dev`, `/etc/hosts`, pivots into it and runs the command as the image's user,
//! reaping orphans until it exits. The namespaces die with the job, and with them every mount.
//!
//! Processes are created with `std::process::Command` only (no `fork` in this crate), so the
//! workspace's `unsafe_code = "deny"` holds.

pub mod container;
pub mod init;
pub mod user;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::build::copy::Plan;

/// The argv[1] that turns `rreg` into the runtime's first stage.
pub const STAGE1: &str = "__runtime";
/// The argv[1] of the second stage (PID 1 in the new PID namespace).
pub const STAGE2: &str = "__runtime-pid1";

/// Network mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The host's network (the default, as `docker build`).
    #[default]
    Host,
    /// A new, empty network namespace.
    None,
}

impl Network {
    /// Parses `host`, `none` or `default` (= host).
    pub fn parse(s: &str) -> anyhow::Result<Network> {
        match s {
            "host" | "default" => Ok(Network::Host),
            "none" => Ok(Network::None),
            other => anyhow::bail!("unsupported network mode {other:?}: use host or none"),
        }
    }
}

/// A process to run inside the container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Process {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// `K=V` environment.
    pub env: Vec<String>,
    /// Working directory (created if missing).
    pub cwd: String,
    /// `user[:group]` (names or numbers), empty for root.
    pub user: String,
    /// Host name inside the UTS namespace.
    pub hostname: String,
    /// Whether stdin is passed through.
    pub stdin: bool,
}

/// What a job does once the overlay is mounted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Action {
    /// Run a process in the container.
    Run(Process),
    /// Copy files into the container's root (COPY/ADD).
    Copy(Plan),
}

/// An extra read-only overlay mounted for a COPY --from source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceRoot {
    /// Lower directories, top first (names relative to `layers_dir`, or absolute).
    pub lowers: Vec<String>,
    /// Where it is mounted.
    pub target: PathBuf,
}

/// One job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    /// Folder holding the extracted layers; lower names are relative to it (short mount options).
    pub layers_dir: PathBuf,
    /// Lower directories, top first.
    pub lowers: Vec<String>,
    /// The overlay's upper directory (becomes the layer).
    pub upper: PathBuf,
    /// overlayfs's work directory (same filesystem as `upper`).
    pub work: PathBuf,
    /// Where the root is mounted.
    pub merged: PathBuf,
    /// Network mode.
    pub network: Network,
    /// `/etc/hosts` and `/etc/resolv.conf` to bind-mount (host paths).
    pub hosts: Option<PathBuf>,
    /// See `hosts`.
    pub resolv: Option<PathBuf>,
    /// Read-only roots of other stages for COPY --from.
    pub sources: Vec<SourceRoot>,
    /// What to do.
    pub action: Action,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub i32);

impl Exit {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self.0 == 0
    }
}

/// Where the job's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The caller's stdout/stderr.
    Inherit,
    /// Discarded.
    Null,
}

/// Runs a job and waits for it. `spec_dir` holds the spec file (and is the job's scratch folder).
pub fn run(spec: &Spec, spec_dir: &Path, output: Output) -> anyhow::Result<Exit> {
    for d in [&spec.upper, &spec.work, &spec.merged] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    for s in &spec.sources {
        std::fs::create_dir_all(&s.target).with_context(|| format!("creating {}", s.target.display()))?;
    }
    let path = spec_dir.join("spec.json");
    std::fs::write(&path, serde_json::to_vec(spec)?).with_context(|| format!("writing {}", path.display()))?;
    let exe = std::env::current_exe().context("finding the rreg executable")?;
    let stdin = match &spec.action {
        Action::Run(p) if p.stdin => Stdio::inherit(),
        _ => Stdio::null(),
    };
    let (out, err) = match output {
        Output::Inherit => (Stdio::inherit(), Stdio::inherit()),
        Output::Null => (Stdio::null(), Stdio::null()),
    };
    let status = std::process::Command::new(exe)
        .arg(STAGE1)
        .arg(&path)
        .stdin(stdin)
        .stdout(out)
        .stderr(err)
        .status()
        .context("starting the container runtime")?;
    Ok(Exit(exit_code(status)))
}

/// An exit status as a shell reports it (128 + signal when killed).
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt as _;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Entry point for the runtime stages: when `argv[1]` names one, runs it and returns the exit code
/// (`main` calls this before starting anything, so the process is single-threaded).
pub fn maybe_run_stage() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    let stage = args.next()?;
    let spec = args.next();
    let stage = stage.to_str()?;
    if stage != STAGE1 && stage != STAGE2 {
        return None;
    }
    let Some(spec_path) = spec.map(PathBuf::from) else {
        eprintln!("rreg: {stage} needs a spec file");
        return Some(125);
    };
    let result = (|| -> anyhow::Result<i32> {
        let bytes = std::fs::read(&spec_path).with_context(|| format!("reading {}", spec_path.display()))?;
        let spec: Spec = serde_json::from_slice(&bytes).context("reading the job spec")?;
        if stage == STAGE1 {
            init::stage1(&spec, &spec_path)
        } else {
            init::stage2(&spec)
        }
    })();
    Some(match result {
        Ok(code) => code,
        Err(e) => {
            let line = format!("{e:#}").replace(['\n', '\r'], " ");
            eprintln!("rreg: container: {line}");
            125
        }
    })
}
