//! The build itself: picks the stages the target needs, evaluates ARG scoping (global ARGs for
//! FROM, `ARG` re-declarations inside a stage, `--build-arg` overrides), runs each step through the
//! cache, RUN and COPY/ADD as runtime jobs over the stage's extracted layers, metadata steps on the
//! image config, each with a Docker-style history entry, and names the result in the store.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use rreg_oci::{Descriptor, Digest, ImageRef, Platform};
use serde_json::{json, Value};

use super::cache::{self, Cache};
use super::copy::{self, Plan, Source};
use super::dockerignore::{clean, Ignore};
use super::image::{self, State};
use super::instruction::{self, Command, CopyArgs, Dockerfile, Health, Instruction, Kind};
use super::layer::{self, Layer};
use super::shell;
use crate::runtime::{self, Action, Network, Output, Process, SourceRoot, Spec};
use crate::settings::Settings;
use crate::store::Store;

/// Where the Dockerfile comes from.
#[derive(Debug, Clone)]
pub enum DockerfileSource {
    /// A file (`-f`, default `CONTEXT/Dockerfile`).
    Path(PathBuf),
    /// Text read from stdin (`-f -`).
    Text(String),
}

/// What `rreg build` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The context folder.
    pub context: PathBuf,
    /// The Dockerfile.
    pub dockerfile: DockerfileSource,
    /// Names to give the result.
    pub tags: Vec<ImageRef>,
    /// `--build-arg K=V` (a bare `K` takes the value from the environment).
    pub build_args: Vec<(String, String)>,
    /// `--target`.
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--label K=V`.
    pub labels: Vec<(String, String)>,
    /// Default network for RUN.
    pub network: Network,
    /// Print only the image ID.
    pub quiet: bool,
    /// `--platform` for base images.
    pub platform: Option<Platform>,
}

/// The result.
#[derive(Debug, Clone)]
pub struct Built {
    /// The image ID (config digest).
    pub id: Digest,
    /// The manifest.
    pub manifest: Descriptor,
}

const PREDEFINED_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

#[derive(Clone)]
struct Done {
    state: State,
    chain: String,
}

struct Builder<'a> {
    store: &'a Store,
    settings: &'a Settings,
    opts: &'a Options,
    file: String,
    df: Dockerfile,
    cache: Cache,
    ignore: Ignore,
    build_args: BTreeMap<String, String>,
    used_args: HashSet<String>,
    global: Vec<(String, Option<String>)>,
    done: BTreeMap<usize, Done>,
    images: BTreeMap<String, Done>,
    step: usize,
    epoch: u64,
    jobs: PathBuf,
    job_seq: usize,
}

/// Per-stage state while its steps run.
struct StageCtx {
    state: State,
    chain: String,
    args: Vec<(String, Option<String>)>,
    cmd_set: bool,
    label: String,
    total: usize,
    pos: usize,
    index: usize,
}

impl StageCtx {
    fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name: &str| {
            self.state.env_var(name).or_else(|| {
                self.args
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .and_then(|(_, v)| v.clone())
            })
        }
    }

    /// ARGs with values not overridden by ENV, as `K=V`, sorted.
    fn arg_env(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .args
            .iter()
            .filter(|(k, v)| v.is_some() && self.state.env_var(k).is_none())
            .map(|(k, v)| format!("{k}={}", v.clone().unwrap_or_default()))
            .collect();
        out.sort();
        out
    }
}

/// Docker's `["a" "b"]` rendering of a list in `#(nop)` history lines.
fn go_list(v: &[String]) -> String {
    let parts: Vec<String> = v.iter().map(|s| json!(s).to_string()).collect();
    format!("[{}]", parts.join(" "))
}

fn platform_args(p: &Platform) -> Vec<(String, String)> {
    let mut plat = format!("{}/{}", p.os, p.architecture);
    if let Some(v) = &p.variant {
        plat.push('/');
        plat.push_str(v);
    }
    let mut out = Vec::new();
    for prefix in ["TARGET", "BUILD"] {
        out.push((format!("{prefix}PLATFORM"), plat.clone()));
        out.push((format!("{prefix}OS"), p.os.clone()));
        out.push((format!("{prefix}ARCH"), p.architecture.clone()));
        out.push((format!("{prefix}VARIANT"), p.variant.clone().unwrap_or_default()));
    }
    out
}

/// Runs a build.
pub fn build(store: &Store, settings: &Settings, opts: &Options) -> anyhow::Result<Built> {
    let (text, file) = match &opts.dockerfile {
        DockerfileSource::Path(p) => (
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            p.display().to_string(),
        ),
        DockerfileSource::Text(t) => (t.clone(), "Dockerfile".to_owned()),
    };
    let df = Dockerfile::parse(&text, &file)?;
    let ignore_path = match &opts.dockerfile {
        DockerfileSource::Path(p) if Path::new(&format!("{}.dockerignore", p.display())).is_file() => {
            PathBuf::from(format!("{}.dockerignore", p.display()))
        }
        _ => opts.context.join(".dockerignore"),
    };
    let ignore = match std::fs::read_to_string(&ignore_path) {
        Ok(t) => Ignore::parse(&t, &ignore_path.display().to_string())?,
        Err(_) => Ignore::default(),
    };
    let build_args = opts.build_args.iter().cloned().collect::<BTreeMap<String, String>>();
    let build_root = store.root().join("build");
    let jobs = build_root.join("jobs");
    std::fs::create_dir_all(&jobs)?;
    prepare_layers_dir(store)?;
    let mut b = Builder {
        store,
        settings,
        opts,
        file,
        df,
        cache: Cache::open(store)?,
        ignore,
        build_args,
        used_args: HashSet::new(),
        global: Vec::new(),
        done: BTreeMap::new(),
        images: BTreeMap::new(),
        step: 0,
        epoch: layer::epoch(),
        jobs,
        job_seq: 0,
    };
    b.run()
}

/// Creates `layers/empty` and `layers/init` (the mount points a container needs, kept out of
/// every layer).
pub fn prepare_layers_dir(store: &Store) -> anyhow::Result<()> {
    let dir = layer::layers_dir(store);
    std::fs::create_dir_all(dir.join("empty"))?;
    let init = dir.join("init");
    if !init.join("etc/resolv.conf").exists() {
        for d in ["proc", "sys", "dev", "etc"] {
            std::fs::create_dir_all(init.join(d))?;
        }
        for f in ["etc/hosts", "etc/hostname", "etc/resolv.conf"] {
            std::fs::write(init.join(f), b"")?;
        }
    }
    Ok(())
}

impl Builder<'_> {
    fn say(&self, line: &str) {
        if !self.opts.quiet {
            println!("{line}");
        }
    }

    fn err_at(&self, ins: &Instruction, msg: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{}:{}: {}: {msg}", self.file, ins.line, ins.original)
    }

    fn run(&mut self) -> anyhow::Result<Built> {
        // Global ARGs: usable in FROM lines.
        for ins in self.df.global_args.clone() {
            if let Kind::Arg(args) = &ins.kind {
                for (name, default) in args {
                    let value = if let Some(v) = self.build_args.get(name) {
                        self.used_args.insert(name.clone());
                        Some(v.clone())
                    } else {
                        match default {
                            Some(d) => {
                                let g = self.global.clone();
                                let lookup =
                                    move |n: &str| g.iter().rev().find(|(k, _)| k == n).and_then(|(_, v)| v.clone());
                                Some(
                                    shell::expand_word(d, self.df.directives.escape, &lookup)
                                        .map_err(|e| self.err_at(&ins, e))?,
                                )
                            }
                            None => None,
                        }
                    };
                    self.global.retain(|(k, _)| k != name);
                    self.global.push((name.clone(), value));
                }
            }
        }
        let target = match &self.opts.target {
            Some(t) => self
                .df
                .stage(t)
                .with_context(|| format!("target stage {t:?} could not be found"))?,
            None => self.df.stages.len() - 1,
        };
        let needed = self.needed(target)?;
        for idx in needed {
            let done = self.stage(idx)?;
            self.done.insert(idx, done);
        }
        let mut result = self.done.get(&target).cloned().context("target stage was not built")?;
        if !self.opts.labels.is_empty() {
            let mut labels = result
                .state
                .config
                .get("Labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (k, v) in &self.opts.labels {
                labels.insert(k.clone(), json!(v));
            }
            result.state.config.insert("Labels".into(), Value::Object(labels));
        }
        let (descriptor, id) = result.state.write(self.store, self.epoch)?;
        {
            let _w = self.store.writing()?;
            for t in &self.opts.tags {
                self.store.set_name(t, &descriptor, None)?;
            }
            if self.opts.tags.is_empty() {
                let d = descriptor.clone();
                self.store.update_index(|m| {
                    if !m.iter().any(|e| e.digest == d.digest) {
                        m.push(d);
                    }
                })?;
            }
        }
        let unused: Vec<&String> = self
            .build_args
            .keys()
            .filter(|k| !self.used_args.contains(*k) && !PREDEFINED_ARGS.contains(&k.as_str()))
            .collect();
        if !unused.is_empty() {
            let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
            eprintln!(
                "[Warning] One or more build-args [{}] were not consumed",
                names.join(" ")
            );
        }
        Ok(Built {
            id,
            manifest: descriptor,
        })
    }

    fn global_lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |n: &str| {
            self.global
                .iter()
                .rev()
                .find(|(k, _)| k == n)
                .and_then(|(_, v)| v.clone())
        }
    }

    fn base_name(&self, idx: usize) -> anyhow::Result<String> {
        let st = &self.df.stages[idx];
        let lookup = self.global_lookup();
        shell::expand_word(&st.base, self.df.directives.escape, &lookup)
            .map_err(|e| anyhow::anyhow!("{}:{}: {}: {e}", self.file, st.line, st.original))
    }

    /// The stages `target` depends on (itself last), in Dockerfile order.
    fn needed(&self, target: usize) -> anyhow::Result<Vec<usize>> {
        let mut want = std::collections::BTreeSet::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if !want.insert(i) {
                continue;
            }
            let base = self.base_name(i)?;
            if let Some(d) = self
                .df
                .stage(&base)
                .filter(|d| *d < i && base.parse::<usize>().is_err())
            {
                todo.push(d);
            }
            for ins in &self.df.stages[i].instructions {
                if let Kind::Copy(CopyArgs { from: Some(f), .. }) = &ins.kind {
                    if let Some(d) = self.df.stage(f) {
                        if d >= i {
                            bail!(
                                "{}:{}: COPY --from={f} refers to this stage or a later one",
                                self.file,
                                ins.line
                            );
                        }
                        todo.push(d);
                    }
                }
            }
        }
        Ok(want.into_iter().collect())
    }

    fn stage(&mut self, idx: usize) -> anyhow::Result<Done> {
        let st = self.df.stages[idx].clone();
        let base = self.base_name(idx)?;
        let label = st.name.clone().unwrap_or_else(|| format!("stage-{idx}"));
        let start = Instant::now();
        self.step += 1;
        let total = st.instructions.len() + 1;
        self.say(&format!("#{} [{label} 1/{total}] FROM {base}", self.step));
        let platform = match &st.platform {
            Some(p) => {
                let lookup = self.global_lookup();
                let p = shell::expand_word(p, self.df.directives.escape, &lookup)?;
                Some(
                    Platform::parse(&p)
                        .with_context(|| format!("{}:{}: invalid platform {p:?}", self.file, st.line))?,
                )
            }
            None => self.opts.platform.clone(),
        };
        let from_stage = self
            .df
            .stage(&base)
            .filter(|d| *d < idx && self.df.stages[*d].name.as_deref() == Some(base.to_ascii_lowercase().as_str()));
        let (state, chain) = if let Some(d) = from_stage {
            let done = self.done.get(&d).cloned().context("base stage was not built")?;
            (done.state, done.chain)
        } else if base.eq_ignore_ascii_case("scratch") {
            let mut s = State::scratch();
            if let Some(p) = &platform {
                s.architecture = p.architecture.clone();
                s.variant = p.variant.clone();
            }
            (s, cache::chain("", "scratch"))
        } else {
            let done = self.image(&base, platform.as_ref())?;
            (done.state, done.chain)
        };
        self.say(&format!("#{} DONE {:.1}s", self.step, start.elapsed().as_secs_f64()));
        let mut ctx = StageCtx {
            state,
            chain,
            args: Vec::new(),
            cmd_set: false,
            label,
            total,
            pos: 1,
            index: idx,
        };
        // ONBUILD triggers of the base run first, then are cleared.
        let mut steps: Vec<Instruction> = Vec::new();
        if let Some(triggers) = ctx.state.get_list("OnBuild") {
            for t in triggers {
                let ins = instruction::parse_one(&t, self.df.directives.escape, "ONBUILD trigger")?;
                steps.push(ins);
            }
            ctx.state.config.remove("OnBuild");
            ctx.total += steps.len();
        }
        steps.extend(st.instructions.iter().cloned());
        for ins in steps {
            ctx.pos += 1;
            self.step += 1;
            self.say(&format!(
                "#{} [{} {}/{}] {}",
                self.step, ctx.label, ctx.pos, ctx.total, ins.original
            ));
            let t = Instant::now();
            let cached = self.instruction(&mut ctx, &ins)?;
            if cached {
                self.say(&format!("#{} CACHED", self.step));
            } else {
                self.say(&format!("#{} DONE {:.1}s", self.step, t.elapsed().as_secs_f64()));
            }
        }
        Ok(Done {
            state: ctx.state,
            chain: ctx.chain,
        })
    }

    fn image(&mut self, name: &str, platform: Option<&Platform>) -> anyhow::Result<Done> {
        if let Some(d) = self.images.get(name) {
            return Ok(d.clone());
        }
        let (state, id) = image::base(self.store, self.settings, name, platform, self.opts.quiet)?;
        let done = Done {
            state,
            chain: cache::chain("", &format!("image {id}")),
        };
        self.images.insert(name.to_owned(), done.clone());
        Ok(done)
    }

    /// Records a metadata step; true when it was cached before.
    fn meta(&self, ctx: &mut StageCtx, key: &str, history: String) -> anyhow::Result<bool> {
        let chain = cache::chain(&ctx.chain, key);
        let cached = !self.opts.no_cache && self.cache.get(&chain).is_some();
        if !cached {
            self.cache.put(&chain, &cache::Entry::default())?;
        }
        ctx.chain = chain;
        ctx.state
            .add_history(self.epoch, format!("/bin/sh -c #(nop) {history}"), true);
        Ok(cached)
    }

    fn expand(&self, ctx: &StageCtx, ins: &Instruction, s: &str) -> anyhow::Result<String> {
        let lookup = ctx.lookup();
        shell::expand_word(s, self.df.directives.escape, &lookup).map_err(|e| self.err_at(ins, e))
    }

    fn command(&self, ctx: &StageCtx, c: &Command) -> Vec<String> {
        match c {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => {
                let mut v = ctx.state.shell();
                v.push(s.clone());
                v
            }
        }
    }

    /// Runs one instruction; true when it came from the cache.
    fn instruction(&mut self, ctx: &mut StageCtx, ins: &Instruction) -> anyhow::Result<bool> {
        let esc = self.df.directives.escape;
        match &ins.kind {
            Kind::Arg(args) => {
                let mut shown = Vec::new();
                for (name, default) in args {
                    let value = if let Some(v) = self.build_args.get(name) {
                        self.used_args.insert(name.clone());
                        Some(v.clone())
                    } else if let Some(d) = default {
                        Some(self.expand(ctx, ins, d)?)
                    } else if let Some((_, v)) = self.global.iter().rev().find(|(k, _)| k == name) {
                        v.clone()
                    } else {
                        platform_args(&Platform::host())
                            .into_iter()
                            .find(|(k, _)| k == name)
                            .map(|(_, v)| v)
                    };
                    shown.push(match default {
                        Some(d) => format!("{name}={d}"),
                        None => name.clone(),
                    });
                    ctx.args.retain(|(k, _)| k != name);
                    ctx.args.push((name.clone(), value));
                }
                let key = format!("ARG {}", serde_json::to_string(&ctx.args)?);
                self.meta(ctx, &key, format!(" ARG {}", shown.join(" ")))
            }
            Kind::Env(pairs) => {
                let mut expanded = Vec::new();
                for (k, v) in pairs {
                    expanded.push((self.expand(ctx, ins, k)?, self.expand(ctx, ins, v)?));
                }
                for (k, v) in &expanded {
                    ctx.state.set_env(k, v);
                }
                let text: Vec<String> = expanded.iter().map(|(k, v)| format!("{k}={v}")).collect();
                self.meta(
                    ctx,
                    &format!("ENV {}", serde_json::to_string(&expanded)?),
                    format!(" ENV {}", text.join(" ")),
                )
            }
            Kind::Label(pairs) => {
                let mut labels = ctx
                    .state
                    .config
                    .get("Labels")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let mut text = Vec::new();
                for (k, v) in pairs {
                    let (k, v) = (self.expand(ctx, ins, k)?, self.expand(ctx, ins, v)?);
                    text.push(format!("{k}={v}"));
                    labels.insert(k, json!(v));
                }
                ctx.state.config.insert("Labels".into(), Value::Object(labels));
                self.meta(
                    ctx,
                    &format!("LABEL {}", text.join("\0")),
                    format!(" LABEL {}", text.join(" ")),
                )
            }
            Kind::Workdir(w) => {
                let w = self.expand(ctx, ins, w)?;
                let dir = if w.starts_with('/') {
                    w.clone()
                } else {
                    let cur = ctx.state.get_str("WorkingDir");
                    format!("{}/{w}", if cur.is_empty() { "/" } else { cur.as_str() })
                };
                let dir = format!("/{}", clean(&dir)).replace("/.", "/");
                let dir = if dir.is_empty() { "/".to_owned() } else { dir };
                ctx.state.config.insert("WorkingDir".into(), json!(dir));
                self.meta(ctx, &format!("WORKDIR {dir}"), format!("WORKDIR {dir}"))
            }
            Kind::User(u) => {
                let u = self.expand(ctx, ins, u)?;
                ctx.state.config.insert("User".into(), json!(u));
                self.meta(ctx, &format!("USER {u}"), format!(" USER {u}"))
            }
            Kind::Expose(p) => {
                let lookup = ctx.lookup();
                let words = shell::expand_words(p, esc, &lookup).map_err(|e| self.err_at(ins, e))?;
                drop(lookup);
                let mut ports = ctx
                    .state
                    .config
                    .get("ExposedPorts")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let mut shown = Vec::new();
                for w in words {
                    let (num, proto) = w.split_once('/').unwrap_or((&w, "tcp"));
                    let proto = proto.to_ascii_lowercase();
                    let (lo, hi) = match num.split_once('-') {
                        Some((a, b)) => (a.parse::<u16>(), b.parse::<u16>()),
                        None => (num.parse::<u16>(), num.parse::<u16>()),
                    };
                    let (Ok(lo), Ok(hi)) = (lo, hi) else {
                        return Err(self.err_at(ins, format!("invalid port {w:?}")));
                    };
                    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") || lo > hi {
                        return Err(self.err_at(ins, format!("invalid port {w:?}")));
                    }
                    for port in lo..=hi {
                        ports.insert(format!("{port}/{proto}"), json!({}));
                        shown.push(format!("{port}/{proto}"));
                    }
                }
                ctx.state.config.insert("ExposedPorts".into(), Value::Object(ports));
                self.meta(
                    ctx,
                    &format!("EXPOSE {}", shown.join(" ")),
                    format!(" EXPOSE {}", shown.join(" ")),
                )
            }
            Kind::Volume(v) => {
                let mut vols = ctx
                    .state
                    .config
                    .get("Volumes")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let mut shown = Vec::new();
                for p in v {
                    let p = self.expand(ctx, ins, p)?;
                    vols.insert(p.clone(), json!({}));
                    shown.push(p);
                }
                ctx.state.config.insert("Volumes".into(), Value::Object(vols));
                self.meta(
                    ctx,
                    &format!("VOLUME {}", shown.join("\0")),
                    format!(" VOLUME [{}]", shown.join(" ")),
                )
            }
            Kind::StopSignal(s) => {
                let s = self.expand(ctx, ins, s)?;
                ctx.state.config.insert("StopSignal".into(), json!(s));
                self.meta(ctx, &format!("STOPSIGNAL {s}"), format!(" STOPSIGNAL {s}"))
            }
            Kind::Healthcheck(h) => {
                let value = match h {
                    Health::None => json!({"Test": ["NONE"]}),
                    Health::Check { options, cmd } => {
                        let test: Vec<String> = match cmd {
                            Command::Exec(v) => std::iter::once("CMD".to_owned()).chain(v.iter().cloned()).collect(),
                            Command::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
                        };
                        let mut m = serde_json::Map::new();
                        m.insert("Test".into(), json!(test));
                        for (k, v) in options {
                            let field = match k.as_str() {
                                "interval" => "Interval",
                                "timeout" => "Timeout",
                                "start-period" => "StartPeriod",
                                "start-interval" => "StartInterval",
                                _ => "Retries",
                            };
                            let n = if field == "Retries" {
                                v.parse::<i64>().unwrap_or(0)
                            } else {
                                instruction::parse_duration(v).unwrap_or(0)
                            };
                            m.insert(field.into(), json!(n));
                        }
                        Value::Object(m)
                    }
                };
                let rest = ins
                    .original
                    .split_once(char::is_whitespace)
                    .map_or("", |(_, r)| r)
                    .trim()
                    .to_owned();
                ctx.state.config.insert("Healthcheck".into(), value.clone());
                self.meta(ctx, &format!("HEALTHCHECK {value}"), format!(" HEALTHCHECK {rest}"))
            }
            Kind::Shell(v) => {
                ctx.state.config.insert("Shell".into(), json!(v));
                self.meta(
                    ctx,
                    &format!("SHELL {}", serde_json::to_string(v)?),
                    format!(" SHELL {}", go_list(v)),
                )
            }
            Kind::Onbuild(t) => {
                let mut list = ctx.state.get_list("OnBuild").unwrap_or_default();
                list.push(t.clone());
                ctx.state.config.insert("OnBuild".into(), json!(list));
                self.meta(ctx, &format!("ONBUILD {t}"), format!(" ONBUILD {t}"))
            }
            Kind::Maintainer(m) => {
                ctx.state.author = Some(m.clone());
                self.meta(ctx, &format!("MAINTAINER {m}"), format!(" MAINTAINER {m}"))
            }
            Kind::Cmd(c) => {
                let argv = self.command(ctx, c);
                ctx.state.config.insert("Cmd".into(), json!(argv));
                ctx.cmd_set = true;
                self.meta(
                    ctx,
                    &format!("CMD {}", serde_json::to_string(&argv)?),
                    format!(" CMD {}", go_list(&argv)),
                )
            }
            Kind::Entrypoint(c) => {
                let argv = self.command(ctx, c);
                ctx.state.config.insert("Entrypoint".into(), json!(argv));
                if !ctx.cmd_set {
                    ctx.state.config.insert("Cmd".into(), Value::Null);
                }
                self.meta(
                    ctx,
                    &format!("ENTRYPOINT {}", serde_json::to_string(&argv)?),
                    format!(" ENTRYPOINT {}", go_list(&argv)),
                )
            }
            Kind::Run { cmd, network, .. } => self.run_step(ctx, ins, cmd, network.as_deref()),
            Kind::Copy(c) => self.copy_step(ctx, ins, c),
        }
    }

    fn new_job(&mut self) -> anyhow::Result<PathBuf> {
        self.job_seq += 1;
        let dir = self.jobs.join(format!("{}-{}", std::process::id(), self.job_seq));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// The stage's layers as overlay lower names (top first).
    fn lowers(&self, layers: &[Layer]) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for l in layers.iter().rev() {
            layer::extract(self.store, l)?;
            out.push(l.diff_id.hex().to_owned());
        }
        Ok(out)
    }

    /// Turns a finished job's upper directory into a layer (and keeps it as an extracted layer).
    fn commit_job(&self, job: &Path) -> anyhow::Result<Layer> {
        let upper = job.join("upper");
        let l = layer::write(self.store, &upper)?;
        let dest = layer::layers_dir(self.store).join(l.diff_id.hex());
        if !dest.exists() && std::fs::rename(&upper, &dest).is_err() && !dest.exists() {
            bail!("cannot keep the layer in {}", dest.display());
        }
        let _ = std::fs::remove_dir_all(job);
        Ok(l)
    }

    fn layer_step(
        &self,
        ctx: &mut StageCtx,
        key: &str,
        history: String,
        make: impl FnOnce(&Self, &StageCtx) -> anyhow::Result<Layer>,
    ) -> anyhow::Result<bool> {
        let chain = cache::chain(&ctx.chain, key);
        let (layer, cached) = match (!self.opts.no_cache).then(|| self.cache.get(&chain)).flatten() {
            Some(cache::Entry { layer: Some(l) }) => (l, true),
            _ => {
                let l = make(self, ctx)?;
                self.cache.put(&chain, &cache::Entry { layer: Some(l.clone()) })?;
                (l, false)
            }
        };
        ctx.chain = chain;
        ctx.state.layers.push(layer);
        ctx.state.add_history(self.epoch, history, false);
        Ok(cached)
    }

    fn run_step(
        &mut self,
        ctx: &mut StageCtx,
        ins: &Instruction,
        cmd: &Command,
        network: Option<&str>,
    ) -> anyhow::Result<bool> {
        let argv = self.command(ctx, cmd);
        let network = match network {
            Some("none") => Network::None,
            Some("host") => Network::Host,
            _ => self.opts.network,
        };
        let args = ctx.arg_env();
        let mut env = ctx.state.env();
        env.extend(args.iter().cloned());
        let user = ctx.state.get_str("User");
        let cwd = ctx.state.get_str("WorkingDir");
        let key = format!(
            "RUN {}\0{}\0{user}\0{cwd}\0{network:?}",
            serde_json::to_string(&argv)?,
            serde_json::to_string(&env)?
        );
        let shown = match cmd {
            Command::Shell(_) => argv.join(" "),
            Command::Exec(v) => v.join(" "),
        };
        let history = if args.is_empty() {
            shown
        } else {
            format!("|{} {} {shown}", args.len(), args.join(" "))
        };
        let job = self.new_job()?;
        let quiet = self.opts.quiet;
        let label = format!("{}:{}: {}", self.file, ins.line, ins.original);
        let hostname = format!("rreg-{}", &ctx.chain[..12]);
        self.layer_step(ctx, &key, history, |b, ctx| {
            let spec = Spec {
                layers_dir: layer::layers_dir(b.store),
                lowers: {
                    let mut l = vec!["init".to_owned()];
                    l.extend(b.lowers(&ctx.state.layers)?);
                    l
                },
                upper: job.join("upper"),
                work: job.join("work"),
                merged: job.join("merged"),
                network,
                hosts: Some(write_hosts(&job, &hostname)?),
                resolv: resolv(&job, network)?,
                sources: Vec::new(),
                action: Action::Run(Process {
                    argv: argv.clone(),
                    env,
                    cwd: if cwd.is_empty() { "/".into() } else { cwd },
                    user,
                    hostname,
                    stdin: false,
                }),
            };
            let exit = runtime::run(&spec, &job, if quiet { Output::Null } else { Output::Inherit })?;
            if !exit.success() {
                let _ = std::fs::remove_dir_all(&job);
                bail!(
                    "{label}: the command {:?} returned a non-zero code: {}",
                    argv.join(" "),
                    exit.0
                );
            }
            b.commit_job(&job)
        })
    }

    fn copy_step(&mut self, ctx: &mut StageCtx, ins: &Instruction, c: &CopyArgs) -> anyhow::Result<bool> {
        let what = if c.add { "ADD" } else { "COPY" };
        let mut dest = self.expand(ctx, ins, &c.dest)?;
        if !dest.starts_with('/') {
            let cur = ctx.state.get_str("WorkingDir");
            let base = if cur.is_empty() { "/".to_owned() } else { cur };
            let trailing = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
            dest = format!("/{}", clean(&format!("{base}/{dest}")));
            if dest == "/." {
                dest = "/".into();
            }
            if trailing && !dest.ends_with('/') {
                dest.push('/');
            }
        }
        let chown = c.chown.as_ref().map(|s| self.expand(ctx, ins, s)).transpose()?;
        let chmod = c
            .chmod
            .as_ref()
            .map(|m| u32::from_str_radix(m, 8))
            .transpose()
            .map_err(|e| self.err_at(ins, e))?;
        let job = self.new_job()?;
        let mut sources = Vec::new();
        let mut source_key = Vec::new();
        for s in &c.sources {
            if let Some(name) = s.strip_prefix("<<") {
                let h = c
                    .heredocs
                    .iter()
                    .find(|h| h.name == name)
                    .ok_or_else(|| self.err_at(ins, format!("no heredoc named {name}")))?;
                let content = if h.expand {
                    self.expand(ctx, ins, &h.content)?
                } else {
                    h.content.clone()
                };
                sources.push(Source::Inline {
                    name: name.to_owned(),
                    content,
                });
                continue;
            }
            let s = self.expand(ctx, ins, s)?;
            if s.starts_with("http://") || s.starts_with("https://") {
                if !c.add {
                    return Err(self.err_at(ins, "COPY cannot fetch URLs; use ADD"));
                }
                let (path, name) =
                    download(&s, &job, c.checksum.as_deref()).map_err(|e| self.err_at(ins, format!("{e:#}")))?;
                sources.push(Source::File { host: path, name });
                continue;
            }
            source_key.push(s.clone());
            sources.push(Source::Path(s));
        }
        let (root, from_context, from_key, src_roots) = match &c.from {
            None => (self.opts.context.clone(), true, String::new(), Vec::new()),
            Some(f) => {
                let f = self.expand(ctx, ins, f)?;
                let done = match self.df.stage(&f).filter(|d| *d < ctx.index) {
                    Some(d) => self.done.get(&d).cloned().context("source stage was not built")?,
                    None => self.image(&f, None)?,
                };
                let target = job.join("src");
                let mut lowers = self.lowers(&done.state.layers)?;
                lowers.push("empty".into());
                (
                    target.clone(),
                    false,
                    done.chain.clone(),
                    vec![SourceRoot { lowers, target }],
                )
            }
        };
        let plan = Plan {
            root,
            from_context,
            ignore: from_context.then(|| self.ignore.clone()),
            sources,
            dest: dest.clone(),
            chown: chown.clone(),
            chmod,
            extract: c.add,
        };
        let content = if from_context || plan.sources.iter().any(|s| !matches!(s, Source::Path(_))) {
            let only_local = Plan {
                sources: plan
                    .sources
                    .iter()
                    .filter(|s| from_context || !matches!(s, Source::Path(_)))
                    .cloned()
                    .collect(),
                ..plan.clone()
            };
            copy::hash_sources(&only_local).map_err(|e| self.err_at(ins, format!("{e:#}")))?
        } else {
            String::new()
        };
        let key = format!(
            "{what} {}\0{dest}\0{chown:?}\0{chmod:?}\0from={from_key}\0{content}",
            serde_json::to_string(&source_key)?
        );
        let kind = if plan.sources.len() == 1
            && source_key.len() == 1
            && !source_key[0].ends_with('/')
            && !Path::new(&plan.root)
                .join(source_key[0].trim_start_matches('/'))
                .is_dir()
        {
            "file"
        } else {
            "dir"
        };
        let hash = if content.is_empty() {
            cache::chain(&from_key, &source_key.join(" "))
        } else {
            content.clone()
        };
        let history = format!("/bin/sh -c #(nop) {what} {kind}:{hash} in {dest} ");
        let label = format!("{}:{}: {}", self.file, ins.line, ins.original);
        self.layer_step(ctx, &key, history, |b, ctx| {
            let mut lowers = b.lowers(&ctx.state.layers)?;
            if lowers.is_empty() {
                lowers.push("empty".into());
            }
            let spec = Spec {
                layers_dir: layer::layers_dir(b.store),
                lowers,
                upper: job.join("upper"),
                work: job.join("work"),
                merged: job.join("merged"),
                network: Network::None,
                hosts: None,
                resolv: None,
                sources: src_roots,
                action: Action::Copy(plan),
            };
            let exit = runtime::run(&spec, &job, Output::Inherit)?;
            if !exit.success() {
                let _ = std::fs::remove_dir_all(&job);
                bail!("{label}: failed (see the message above)");
            }
            b.commit_job(&job)
        })
    }
}

fn write_hosts(job: &Path, hostname: &str) -> anyhow::Result<PathBuf> {
    let p = job.join("hosts");
    std::fs::write(
        &p,
        format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"),
    )?;
    Ok(p)
}

fn resolv(job: &Path, network: Network) -> anyhow::Result<Option<PathBuf>> {
    if network == Network::None {
        return Ok(None);
    }
    let p = job.join("resolv.conf");
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(&p, text)?;
    Ok(Some(p))
}

/// Downloads an ADD URL into the job folder: `(path, file name)`.
fn download(url: &str, job: &Path, checksum: Option<&str>) -> anyhow::Result<(PathBuf, String)> {
    let parsed = url::Url::parse(url).with_context(|| format!("invalid URL {url}"))?;
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.next_back().map(str::to_owned))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "__unnamed__".to_owned());
    let handle = tokio::runtime::Handle::current();
    let bytes = handle
        .block_on(async {
            let resp = reqwest::get(parsed.clone()).await?.error_for_status()?;
            resp.bytes().await
        })
        .with_context(|| format!("downloading {url}"))?;
    if let Some(c) = checksum {
        let want = Digest::parse(c).with_context(|| format!("invalid --checksum {c}"))?;
        let got = Digest::of(want.algorithm(), &bytes);
        if got != want {
            bail!("checksum of {url} is {got}, not {want}");
        }
    }
    let dir = job.join("downloads");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(&name);
    std::fs::write(&path, &bytes)?;
    Ok((path, name))
}
